// The one route table: every otpkit route, its schemas (request validation
// and the OpenAPI document) and what it does with the service. Hosts
// (Fastify, Express, Fetch) only translate requests and responses.

import type { TSchema } from '@fastify/type-provider-typebox';
import { qrDataUrl, qrSvg } from '../qr/index.js';
import type { Actor, DeviceCookie, Tokens as IssuedTokens, SecondFactorInput, Service } from '../service/index.js';
import { HttpError } from './errors.js';
import {
  Authenticators,
  BackupCodes,
  CodeOnly,
  Confirm,
  Confirmed,
  Credentials,
  DeviceId,
  Devices,
  Enrollment,
  ErrorBody,
  LoginResponse,
  LoginVerify,
  Me,
  PasswordChange,
  Refresh,
  Remove,
  Removed,
  Rename,
  SecondFactor,
  Status,
  Tokens,
  Validated,
} from './schemas.js';

/** What a route sees of a request, whichever host it came through. */
interface RouteContext {
  // biome-ignore lint/suspicious/noExplicitAny: validated against the route's body schema before the handler runs
  body: any;
  /** The query string's first values, validated against the route's querystring schema. */
  query: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string | undefined>>;
  ip: string | null;
  /** The signed-in actor: otpkit's bearer session, or the embedding app's user. 401 if none. */
  actor(): Promise<Actor>;
  /** otpkit's own bearer session (for logout). */
  session(): Promise<Actor & { sessionId: string }>;
  /** Adds a Set-Cookie header to the answer. */
  setCookie(cookie: string): void;
  /** Where the refresh cookie lives: the auth routes' path. */
  cookiePath: string;
  secure: boolean;
}

interface RouteAnswer {
  status?: number;
  body?: unknown;
}

interface Route {
  method: 'GET' | 'POST';
  /** Below the routes' group: /api/auth/login, or /api/totp/enroll (/enroll in the embedded TOTP group). */
  path: string;
  group: 'auth' | 'totp' | 'admin';
  /** Counted by the per-client throttle. */
  throttled: boolean;
  /** Takes a session that may only turn 2FA on (requireTwoFactor; see Service.authenticate). */
  enrollment?: true;
  schema: {
    tags: string[];
    summary?: string;
    body?: TSchema;
    querystring?: TSchema;
    response: Record<number, TSchema>;
    security?: ({ bearer: [] } | { operator: [] })[];
  };
  handle(context: RouteContext, service: Service): Promise<RouteAnswer>;
}

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
  503: ErrorBody,
};
const bearer = [{ bearer: [] as [] }];

/**
 * Browsers ask for the refresh token as a cookie (header X-Otpkit-Session:
 * cookie): HttpOnly, so no script (and no injected script) can read it;
 * SameSite=Strict and only read when that header comes, which a cross-site
 * page cannot send, so no other site can use it.
 */
const REFRESH_COOKIE = 'otpkit_refresh';
/** A trusted device's token ("trust this browser"), sent to the auth routes only, as the refresh cookie is. */
const DEVICE_COOKIE = 'otpkit_device';
const wantsCookie = (c: RouteContext) => c.headers['x-otpkit-session'] === 'cookie';

function cookieOf(c: RouteContext, name: string): string | undefined {
  for (const pair of (c.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie for the auth routes: `maxAgeSeconds` 0 deletes it, none makes it last until the browser closes. */
function authCookie(c: RouteContext, name: string, value: string, maxAgeSeconds?: number): string {
  const secure = c.secure ? '; Secure' : '';
  const expiry = maxAgeSeconds === undefined ? '' : `; Max-Age=${maxAgeSeconds}`;
  return `${name}=${value}; Path=${c.cookiePath}; HttpOnly; SameSite=Strict${secure}${expiry}`;
}

const refreshCookie = (c: RouteContext, token: string | undefined) =>
  authCookie(c, REFRESH_COOKIE, token ?? '', token === undefined ? 0 : undefined);

/** Sets the trusted device's next cookie, or deletes one that was sent and not honoured. */
function deviceCookie(c: RouteContext, device: DeviceCookie | undefined) {
  if (device) c.setCookie(authCookie(c, DEVICE_COOKIE, device.token, device.maxAgeSeconds));
  else if (cookieOf(c, DEVICE_COOKIE) !== undefined) c.setCookie(authCookie(c, DEVICE_COOKIE, '', 0));
}

/** The tokens as the client asked for them: all in the body, or the refresh token as a cookie. */
function deliver(c: RouteContext, tokens: IssuedTokens) {
  if (!wantsCookie(c)) return tokens;
  c.setCookie(refreshCookie(c, tokens.refreshToken));
  const { refreshToken: _, ...rest } = tokens;
  return rest;
}

/** Exactly one of code and backupCode. */
function secondFactor(body: { code?: string; backupCode?: string }): SecondFactorInput {
  if ((body.code === undefined) === (body.backupCode === undefined)) {
    throw new HttpError('INPUT_INVALID', 'give exactly one of code or backupCode');
  }
  return body.code !== undefined ? { code: body.code } : { backupCode: body.backupCode! };
}

const context = (c: RouteContext) => ({ ip: c.ip, userAgent: c.headers['user-agent'] ?? null });
const auth = ['auth'];
const totp = ['totp'];

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

const enroll = (method: 'GET' | 'POST'): Route => ({
  method,
  path: '/enroll',
  group: 'totp',
  throttled: true,
  enrollment: true,
  schema: {
    tags: totp,
    summary: 'Start enrollment, or show the pending one again',
    security: bearer,
    response: { 200: Enrollment, ...errors },
  },
  async handle(c, service) {
    const enrollment = await service.enroll(await c.actor(), context(c));
    return { body: { ...enrollment, qrSvg: await qrSvg(enrollment.uri), qrPng: await qrDataUrl(enrollment.uri) } };
  },
});

const TOTP_ROUTES: Route[] = [
  enroll('POST'),
  enroll('GET'),
  {
    method: 'POST',
    path: '/enroll/cancel',
    group: 'totp',
    throttled: true,
    enrollment: true,
    schema: {
      tags: totp,
      summary: "Cancel this session's pending enrollment (its secret is discarded)",
      security: bearer,
      response: { 204: {}, ...errors },
    },
    async handle(c, service) {
      await service.cancelEnrollment(await c.actor());
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/confirm',
    group: 'totp',
    throttled: true,
    enrollment: true,
    schema: {
      tags: totp,
      summary:
        'Turn the pending authenticator on with a code; the first one turns 2FA on and returns the backup codes, once',
      security: bearer,
      body: Confirm,
      response: { 200: Confirmed, ...errors },
    },
    async handle(c, service) {
      return { body: await service.confirm(await c.actor(), c.body.code, context(c), c.body.name) };
    },
  },
  {
    method: 'GET',
    path: '/status',
    group: 'totp',
    throttled: true,
    enrollment: true,
    schema: { tags: totp, summary: '2FA status', security: bearer, response: { 200: Status, ...errors } },
    async handle(c, service) {
      return { body: await service.status(await c.actor()) };
    },
  },
  {
    method: 'POST',
    path: '/validate',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'Step-up check of a code',
      security: bearer,
      body: SecondFactor,
      response: { 200: Validated, ...errors },
    },
    async handle(c, service) {
      return { body: await service.validate(await c.actor(), secondFactor(c.body), context(c)) };
    },
  },
  {
    method: 'POST',
    path: '/disable',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'Turn 2FA off (takes a code or a backup code)',
      security: bearer,
      body: SecondFactor,
      response: { 204: {}, ...errors },
    },
    async handle(c, service) {
      await service.disable(await c.actor(), secondFactor(c.body), context(c));
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/backup-codes',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'New backup codes (takes a current code)',
      security: bearer,
      body: CodeOnly,
      response: { 200: BackupCodes, ...errors },
    },
    async handle(c, service) {
      return { body: await service.rotateBackupCodes(await c.actor(), c.body.code, context(c)) };
    },
  },
  {
    method: 'GET',
    path: '/authenticators',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'The active authenticators (add one with /enroll and /confirm)',
      security: bearer,
      response: { 200: Authenticators, ...errors },
    },
    async handle(c, service) {
      return { body: { authenticators: await service.authenticators(await c.actor()) } };
    },
  },
  {
    method: 'POST',
    path: '/authenticators/rename',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'Rename an authenticator',
      security: bearer,
      body: Rename,
      response: { 204: {}, ...errors },
    },
    async handle(c, service) {
      await service.renameAuthenticator(await c.actor(), c.body.id, c.body.name, context(c));
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/authenticators/remove',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'Remove an authenticator (takes a code from another one or a backup code; the last one turns 2FA off)',
      security: bearer,
      body: Remove,
      response: { 200: Removed, ...errors },
    },
    async handle(c, service) {
      const { id, ...factor } = c.body;
      return { body: await service.removeAuthenticator(await c.actor(), id, secondFactor(factor), context(c)) };
    },
  },
];

export type { Route, RouteAnswer, RouteContext };
export { AUTH_ROUTES, errors, TOTP_ROUTES };
