// The account routes, /api/auth/*: sign-up, the two-step sign-in, refresh,
// sign-out, the profile, the password, and trusted devices.

import { HttpError } from './errors.js';
import {
  bearer,
  context,
  cookieOf,
  DEVICE_COOKIE,
  deliver,
  deviceCookie,
  errors,
  REFRESH_COOKIE,
  type Route,
  refreshCookie,
  secondFactor,
  wantsCookie,
} from './routes.js';
import {
  Credentials,
  DeviceId,
  Devices,
  LoginResponse,
  LoginVerify,
  Me,
  PasswordChange,
  Refresh,
  Tokens,
} from './schemas.js';

const auth = ['auth'];

const AUTH_ROUTES: Route[] = [
  {
    method: 'POST',
    path: '/register',
    group: 'auth',
    throttled: true,
    schema: { tags: auth, body: Credentials, response: { 201: Me, ...errors } },
    async handle(c, service) {
      const user = await service.register(c.body.username, c.body.password, context(c));
      return { status: 201, body: await service.me(user.id) };
    },
  },
  {
    method: 'POST',
    path: '/login',
    group: 'auth',
    throttled: true,
    schema: {
      tags: auth,
      summary: 'Step one: username and password',
      body: Credentials,
      response: { 200: LoginResponse, ...errors },
    },
    async handle(c, service) {
      const device = wantsCookie(c) ? cookieOf(c, DEVICE_COOKIE) : undefined;
      const result = await service.login(c.body.username, c.body.password, context(c), device);
      if (wantsCookie(c)) deviceCookie(c, result.status === 'authenticated' ? result.device : undefined);
      if (result.status === 'second_factor_required') return { body: result };
      const { device: _, ...signedIn } = result as typeof result & { device?: unknown };
      return { body: { ...signedIn, tokens: deliver(c, result.tokens) } };
    },
  },
  {
    method: 'POST',
    path: '/login/verify',
    group: 'auth',
    throttled: true,
    schema: {
      tags: auth,
      summary: 'Step two: the challenge and a TOTP or backup code',
      body: LoginVerify,
      response: { 200: Tokens, ...errors },
    },
    async handle(c, service) {
      const { challenge, trustDevice, ...factor } = c.body;
      if (trustDevice && !wantsCookie(c)) {
        throw new HttpError('INPUT_INVALID', 'trustDevice needs the cookie session (X-Otpkit-Session: cookie)');
      }
      const input = secondFactor(factor);
      const { device, ...tokens } = await service.loginVerify(challenge, input, context(c), { trustDevice });
      if (device) deviceCookie(c, device);
      return { body: deliver(c, tokens) };
    },
  },
  {
    method: 'POST',
    path: '/refresh',
    group: 'auth',
    throttled: true,
    schema: {
      tags: auth,
      summary: 'A new access token; the refresh token rotates',
      body: Refresh,
      response: { 200: Tokens, ...errors },
    },
    async handle(c, service) {
      let token: string | undefined = c.body.refreshToken;
      if (token === undefined) {
        if (!wantsCookie(c)) throw new HttpError('INPUT_INVALID', 'send refreshToken');
        token = cookieOf(c, REFRESH_COOKIE);
        if (!token) throw new HttpError('TOKEN_INVALID', 'no session: sign in');
      }
      return { body: deliver(c, await service.refresh(token, context(c))) };
    },
  },
  {
    method: 'POST',
    path: '/logout',
    group: 'auth',
    throttled: false,
    enrollment: true,
    schema: { tags: auth, security: bearer, response: { 204: {}, ...errors } },
    async handle(c, service) {
      await service.logout(await c.session(), context(c));
      if (wantsCookie(c)) c.setCookie(refreshCookie(c, undefined));
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/password',
    group: 'auth',
    throttled: true,
    schema: {
      tags: auth,
      summary: 'Change the password (takes the current one, and a code or backup code when 2FA is on)',
      security: bearer,
      body: PasswordChange,
      response: { 204: {}, ...errors },
    },
    async handle(c, service) {
      const { currentPassword, newPassword, code, backupCode } = c.body;
      const given = code !== undefined || backupCode !== undefined;
      const change = {
        currentPassword,
        newPassword,
        ...(given ? { secondFactor: secondFactor({ code, backupCode }) } : {}),
      };
      await service.changePassword(await c.actor(), change, context(c));
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/devices',
    group: 'auth',
    throttled: true,
    schema: {
      tags: auth,
      summary: 'The trusted devices ("trust this browser"); current marks the asking one',
      security: bearer,
      response: { 200: Devices, ...errors },
    },
    async handle(c, service) {
      return { body: { devices: await service.trustedDevices(await c.session(), cookieOf(c, DEVICE_COOKIE)) } };
    },
  },
  {
    method: 'POST',
    path: '/devices/revoke',
    group: 'auth',
    throttled: true,
    schema: {
      tags: auth,
      summary: 'Revoke one trusted device',
      security: bearer,
      body: DeviceId,
      response: { 204: {}, ...errors },
    },
    async handle(c, service) {
      await service.revokeTrustedDevice(await c.session(), c.body.id, context(c));
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/devices/revoke-all',
    group: 'auth',
    throttled: true,
    schema: { tags: auth, summary: 'Revoke every trusted device', security: bearer, response: { 204: {}, ...errors } },
    async handle(c, service) {
      await service.revokeTrustedDevices(await c.session(), context(c));
      deviceCookie(c, undefined);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/me',
    group: 'auth',
    throttled: false,
    schema: { tags: auth, security: bearer, response: { 200: Me, ...errors } },
    async handle(c, service) {
      return { body: await service.me((await c.actor()).userId) };
    },
  },
];

export { AUTH_ROUTES };
