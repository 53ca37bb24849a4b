// Trusted devices ("trust this browser for 30 days") over HTTP on SQLite and
// the real PostgreSQL: the cookie, a password-only sign-in with amr
// pwd+device, rotation on each use, a copied cookie used twice revoking
// itself (also when the two uses race), the list and revocations, and every
// 2FA change revoking them all.

import { describe, expect, it } from 'vitest';
import { DATABASES } from '../../../test/support/databases.js';
import { apiClient, PASSWORD } from './api.js';
import { serverPerSuite, startServer } from './server.js';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const BROWSER = { 'x-otpkit-session': 'cookie', 'user-agent': FIREFOX };

/** The value of cookie `name` among a response's Set-Cookie headers, and the header itself. */
function setCookie(headers: Record<string, unknown>, name: string) {
  const all = ([] as string[]).concat((headers['set-cookie'] as string | string[] | undefined) ?? []);
  const header = all.find((h) => h.startsWith(`${name}=`));
  return header === undefined ? undefined : { value: header.slice(name.length + 1).split(';')[0]!, header };
}
const amrOf = (accessToken: string) => JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()).amr;

describe.each(DATABASES)('trusted devices over %s', (_name, open) => {
  const { s } = serverPerSuite(open);

  const { post, get, codeAt, withTwoFactor, challengeFor, secrets } = apiClient(() => s);

  /** Step one in a browser, with the device cookie if any. */
  const browserLogin = (username: string, device?: string) =>
    post('/api/auth/login', { username, password: PASSWORD }, undefined, {
      ...BROWSER,
      ...(device ? { cookie: `otpkit_device=${device}` } : {}),
    });

  /** A user with 2FA on who ticked "trust this browser" at the second step: their device cookie. */
  async function trusted() {
    const user = await withTwoFactor();
    const first = await browserLogin(user.username);
    expect(first.body.status).toBe('second_factor_required');
    const verified = await post(
      '/api/auth/login/verify',
      { challenge: first.body.challenge, code: codeAt(user.secret), trustDevice: true },
      undefined,
      BROWSER,
    );
    expect(verified.status).toBe(200);
    s.clock.advance(30_000);
    const cookie = setCookie(verified.headers, 'otpkit_device')!;
    secrets.add(cookie.value);
    return { ...user, device: cookie.value, header: cookie.header };
  }

  it('trusts the browser with an HttpOnly, SameSite=Strict cookie; then the password alone signs in, as pwd+device', async () => {
    const u = await trusted();
    expect(u.header).toMatch(/^otpkit_device=[^;]+; Path=\/api\/auth; HttpOnly; SameSite=Strict; Max-Age=2592000$/);
    const again = await browserLogin(u.username, u.device);
    expect(again.body.status).toBe('authenticated');
    const token = again.body.tokens.accessToken;
    expect(amrOf(token)).toEqual(['pwd', 'device']);
    const rotated = setCookie(again.headers, 'otpkit_device')!;
    expect(rotated.value).not.toBe(u.device); // rotated on each use
    expect(rotated.value.split('.')[0]).toBe(u.device.split('.')[0]); // the same device
    // Such a session reads 2FA settings but changes nothing until it steps up with a code.
    expect((await get('/api/totp/status', token)).body.enabled).toBe(true);
    expect((await post('/api/totp/enroll', {}, token)).body.error.code).toBe('SECOND_FACTOR_REQUIRED');
    expect((await post('/api/totp/disable', { backupCode: u.backupCodes[0] }, token)).body.error.code).toBe(
      'SECOND_FACTOR_REQUIRED',
    );
    expect((await post('/api/totp/validate', { code: codeAt(u.secret) }, token)).body.valid).toBe(true);
    expect((await post('/api/totp/enroll', {}, token)).status).toBe(200); // stepped up: pwd, device, otp
    // The sign-in's event says it was a trusted device.
    const user = (await s.store.userByName(u.username))!;
    const login = (await s.store.audit({ userId: user.id })).filter((e) => e.type === 'login').at(-1);
    expect(login?.detail).toMatchObject({ secondFactor: 'device', device: 'Firefox on Linux' });
  });

  it('a stolen cookie used after the original moved on revokes the device', async () => {
    const u = await trusted();
    const stolen = u.device;
    const owner = await browserLogin(u.username, u.device);
    const current = setCookie(owner.headers, 'otpkit_device')!.value;
    const thief = await browserLogin(u.username, stolen);
    expect(thief.body.status).toBe('second_factor_required'); // no way around the second factor
    expect(setCookie(thief.headers, 'otpkit_device')?.header).toMatch(/Max-Age=0/);
    // The device is gone for its owner too: a second factor again.
    expect((await browserLogin(u.username, current)).body.status).toBe('second_factor_required');
    const events = await s.store.audit({ userId: (await s.store.userByName(u.username))!.id });
    expect(events.some((e) => e.type === 'trusted_device_reused')).toBe(true);
  });

  it('two racing uses of one cookie: at most one signs in, and the device revokes itself', async () => {
    const u = await trusted();
    const [a, b] = await Promise.all([browserLogin(u.username, u.device), browserLogin(u.username, u.device)]);
    const statuses = [a.body.status, b.body.status].sort();
    expect(statuses).toEqual(['authenticated', 'second_factor_required']);
    const next = setCookie((a.body.status === 'authenticated' ? a : b).headers, 'otpkit_device')!.value;
    expect((await browserLogin(u.username, next)).body.status).toBe('second_factor_required');
  });

  it('lists devices by name with the current one marked; revokes one, or all', async () => {
    const u = await trusted();
    const signedIn = await browserLogin(u.username, u.device);
    const device = setCookie(signedIn.headers, 'otpkit_device')!.value;
    const token = signedIn.body.tokens.accessToken;
    const listed = await call(token, device);
    expect(listed).toMatchObject([{ name: 'Firefox on Linux', current: true }]);
    expect((await post('/api/auth/devices/revoke', { id: 'no-such-device' }, token)).body.error.code).toBe(
      'DEVICE_NOT_FOUND',
    );
    expect((await post('/api/auth/devices/revoke', { id: listed[0].id }, token)).status).toBe(204);
    expect(await call(token, device)).toEqual([]);
    expect((await browserLogin(u.username, device)).body.status).toBe('second_factor_required');
    const other = await trusted();
    const session = (await browserLogin(other.username, other.device)).body.tokens.accessToken;
    const all = await post('/api/auth/devices/revoke-all', {}, session, { cookie: `otpkit_device=${other.device}` });
    expect(all.status).toBe(204);
    expect(setCookie(all.headers, 'otpkit_device')?.header).toMatch(/Max-Age=0/);
  });
  async function call(token: string, device: string) {
    const response = await s.inject({
      method: 'GET',
      url: '/api/auth/devices',
      headers: { authorization: `Bearer ${token}`, cookie: `otpkit_device=${device}` },
    });
    return JSON.parse(response.body).devices;
  }

  it('every 2FA change revokes every device: new backup codes, another authenticator, 2FA off', async () => {
    for (const change of ['backup-codes', 'authenticator', 'disable'] as const) {
      const u = await trusted();
      const token = (
        await post('/api/auth/login/verify', { challenge: await challengeFor(u.username), code: codeAt(u.secret) })
      ).body.accessToken;
      s.clock.advance(30_000);
      if (change === 'backup-codes') await post('/api/totp/backup-codes', { code: codeAt(u.secret) }, token);
      if (change === 'authenticator') {
        const added = (await post('/api/totp/enroll', {}, token)).body;
        expect((await post('/api/totp/confirm', { code: codeAt(added.secret) }, token)).status).toBe(200);
      }
      if (change === 'disable') await post('/api/totp/disable', { backupCode: u.backupCodes[1] }, token);
      const after = await browserLogin(u.username, u.device);
      if (change === 'disable')
        expect(amrOf(after.body.tokens.accessToken)).toEqual(['pwd']); // 2FA off: the password
      else expect(after.body.status).toBe('second_factor_required');
      expect(setCookie(after.headers, 'otpkit_device')?.header).toMatch(/Max-Age=0/); // the dead cookie is cleared
    }
  });

  it('ignores another user’s device; refuses trustDevice without the cookie session; and a cookie that is no token', async () => {
    const a = await trusted();
    const b = await withTwoFactor();
    expect((await browserLogin(b.username, a.device)).body.status).toBe('second_factor_required');
    expect((await browserLogin(a.username, a.device)).body.status).toBe('authenticated'); // still a's
    const refused = await post('/api/auth/login/verify', {
      challenge: await challengeFor(b.username),
      code: codeAt(b.secret),
      trustDevice: true,
    });
    expect(refused.body.error.code).toBe('INPUT_INVALID');
    expect((await browserLogin(b.username, 'garbage;%00')).body.status).toBe('second_factor_required');
  });
});

describe('trusted devices turned off (OTPKIT_TRUSTED_DEVICE_DAYS=0)', () => {
  it('refuses trustDevice before the code is looked at, so the challenge keeps its attempts', async () => {
    const t = await DATABASES[0]![1]();
    const s = await startServer(t, { OTPKIT_TRUSTED_DEVICE_DAYS: '0' });
    try {
      const { post, codeAt, withTwoFactor, challengeFor } = apiClient(s);
      const u = await withTwoFactor();
      const challenge = await challengeFor(u.username);
      const body = { challenge, code: codeAt(u.secret) };
      const refused = await post('/api/auth/login/verify', { ...body, trustDevice: true }, undefined, BROWSER);
      expect(refused.body.error.code).toBe('INPUT_INVALID');
      expect((await post('/api/auth/login/verify', body)).status).toBe(200);
    } finally {
      await s.close();
      await t.drop();
    }
  });
});
