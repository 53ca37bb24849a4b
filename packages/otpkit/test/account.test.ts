// Account state over HTTP on SQLite and the real PostgreSQL: required 2FA
// (an enrollment-only session), changing the password (the current one, and
// a second factor when 2FA is on; other sessions and trusted devices end),
// and deactivation by an operator.

import { describe, expect, it } from 'vitest';
import { DATABASES } from '../../../test/support/databases.js';
import { apiClient, PASSWORD } from './api.js';
import { serverPerSuite } from './server.js';

const NEW_PASSWORD = 'a new and longer passphrase';

describe.each(DATABASES)('required 2FA over %s', (_name, open) => {
  const { s } = serverPerSuite(open, { OTPKIT_REQUIRE_TWO_FACTOR: '1' });
  const { post, get, codeAt } = apiClient(() => s);

  it('a user without 2FA gets a session that can only enroll and confirm, which confirming makes whole', async () => {
    expect((await post('/api/auth/register', { username: 'must-enroll', password: PASSWORD })).status).toBe(201);
    const login = await post('/api/auth/login', { username: 'must-enroll', password: PASSWORD });
    expect(login.body.status).toBe('enrollment_required');
    const token = login.body.tokens.accessToken;
    for (const [method, path] of [
      ['GET', '/api/auth/me'],
      ['GET', '/api/auth/devices'],
      ['POST', '/api/totp/validate'],
      ['POST', '/api/auth/password'],
    ] as const) {
      const body = path === '/api/auth/password' ? { currentPassword: PASSWORD, newPassword: PASSWORD } : { code: '1' };
      const answer = method === 'GET' ? await get(path, token) : await post(path, body, token);
      expect([answer.status, answer.body.error.code]).toEqual([403, 'ENROLLMENT_REQUIRED']);
    }
    expect((await get('/api/totp/status', token)).body.enabled).toBe(false);
    const { secret } = (await post('/api/totp/enroll', {}, token)).body;
    const confirmed = await post('/api/totp/confirm', { code: codeAt(secret) }, token);
    expect(confirmed.body.backupCodes).toHaveLength(10);
    expect((await get('/api/auth/me', token)).body).toMatchObject({ username: 'must-enroll', twoFactorEnabled: true });
    // Required: the user cannot turn it off, nor remove the last authenticator (an operator's reset can).
    const [only] = (await get('/api/totp/authenticators', token)).body.authenticators;
    const backupCode = confirmed.body.backupCodes[0];
    expect((await post('/api/totp/disable', { backupCode }, token)).body.error.code).toBe('TWO_FACTOR_REQUIRED');
    const remove = await post('/api/totp/authenticators/remove', { id: only.id, backupCode }, token);
    expect([remove.status, remove.body.error.code]).toEqual([409, 'TWO_FACTOR_REQUIRED']);
    s.clock.advance(30_000);
    expect((await post('/api/auth/login', { username: 'must-enroll', password: PASSWORD })).body.status).toBe(
      'second_factor_required',
    );
  });

  it('an enrollment-only session can sign out', async () => {
    expect((await post('/api/auth/register', { username: 'leaves', password: PASSWORD })).status).toBe(201);
    const token = (await post('/api/auth/login', { username: 'leaves', password: PASSWORD })).body.tokens.accessToken;
    expect((await post('/api/auth/logout', undefined, token)).status).toBe(204);
    expect((await get('/api/totp/status', token)).status).toBe(401);
  });
});

describe.each(DATABASES)('password change and deactivation over %s', (_name, open) => {
  const { s } = serverPerSuite(open);
  const { post, get, codeAt, signUp, withTwoFactor, passwordSession, challengeFor, signIn } = apiClient(() => s);
  const change = (token: string, body: object) =>
    post('/api/auth/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, ...body }, token);

  it('takes the current password; ends every other session; the old password stops working', async () => {
    const u = await signUp();
    const other = await passwordSession(u.username);
    expect((await change(u.token, { currentPassword: 'not the password' })).body.error.code).toBe('PASSWORD_WRONG');
    expect((await change(u.token, { newPassword: 'short' })).body.error.code).toBe('INPUT_INVALID');
    expect((await change(u.token, {})).status).toBe(204);
    expect((await get('/api/auth/me', u.token)).status).toBe(200); // this session goes on
    expect((await get('/api/auth/me', other.token)).status).toBe(401);
    expect((await post('/api/auth/refresh', { refreshToken: other.refreshToken })).status).toBe(401);
    expect((await post('/api/auth/login', { username: u.username, password: PASSWORD })).status).toBe(401);
    expect((await post('/api/auth/login', { username: u.username, password: NEW_PASSWORD })).body.status).toBe(
      'authenticated',
    );
  });

  it('with 2FA on, also takes a code or a backup code, and revokes trusted devices', async () => {
    const u = await withTwoFactor();
    const browser = { 'x-otpkit-session': 'cookie' };
    const challenge = (await post('/api/auth/login', { username: u.username, password: PASSWORD }, undefined, browser))
      .body.challenge;
    const verified = await post(
      '/api/auth/login/verify',
      { challenge, code: codeAt(u.secret), trustDevice: true },
      undefined,
      browser,
    );
    const device = String(verified.headers['set-cookie']).match(/otpkit_device=([^;]+)/)![1];
    s.clock.advance(30_000);
    const { token } = await signIn(u.username, u.secret);
    expect((await change(token, {})).body.error.code).toBe('SECOND_FACTOR_REQUIRED');
    expect((await change(token, { code: '000000' })).body.error.code).toMatch(/CODE_WRONG|CODE_REUSED/);
    expect((await change(token, { backupCode: u.backupCodes[0] })).status).toBe(204);
    const again = await post('/api/auth/login', { username: u.username, password: NEW_PASSWORD }, undefined, {
      ...browser,
      cookie: `otpkit_device=${device}`,
    });
    expect(again.body.status).toBe('second_factor_required'); // the trusted device went with the old password
  });

  it('throttles guesses at the current password as sign-in does', async () => {
    const u = await signUp();
    for (let i = 0; i < 10; i++) await change(u.token, { currentPassword: `wrong guess ${i}` });
    const throttled = await change(u.token, {});
    expect([throttled.status, throttled.body.error.code]).toEqual([429, 'LOGIN_THROTTLED']);
    // Guesses from a session are in the log as at sign-in.
    const events = await s.store.audit({ userId: (await s.store.userByName(u.username))!.id });
    expect(events.filter((e) => e.type === 'login_failed' && e.detail?.during === 'password_change')).toHaveLength(10);
    expect(events.filter((e) => e.type === 'login_throttled')).toHaveLength(1);
  });

  it('a deactivated user cannot sign in (told so only after the right password); their sessions end', async () => {
    const u = await withTwoFactor();
    const { token } = await signIn(u.username, u.secret);
    const pending = await challengeFor(u.username);
    await s.service.deactivate(u.username);
    expect((await get('/api/auth/me', token)).status).toBe(401);
    expect((await post('/api/auth/login/verify', { challenge: pending, code: codeAt(u.secret) })).body.error.code).toBe(
      'CHALLENGE_INVALID',
    );
    const wrong = await post('/api/auth/login', { username: u.username, password: 'not the password' });
    expect(wrong.body.error.code).toBe('CREDENTIALS_INVALID');
    const right = await post('/api/auth/login', { username: u.username, password: PASSWORD });
    expect([right.status, right.body.error.code]).toEqual([403, 'ACCOUNT_DEACTIVATED']);
    await s.service.reactivate(u.username);
    expect((await post('/api/auth/login', { username: u.username, password: PASSWORD })).body.status).toBe(
      'second_factor_required',
    );
  });
});
