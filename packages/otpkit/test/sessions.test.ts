// Sessions that must not outlive a 2FA change, on SQLite and the real
// PostgreSQL: turning 2FA on, off, new backup codes and an operator's unlock or
// reset end the user's other sessions; a pending secret is shown only to the
// session that started it; tokens say how the session was authenticated; a
// session ends at its absolute lifetime however often it is refreshed.

import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { hashToken, opaqueToken, timeOrderedId } from '../src/service/tokens.js';
import { apiClient } from './api.js';
import { HOSTS, serverPerSuite } from './server.js';

const DAY_MS = 24 * 3_600_000;

describe.each(HOSTS)('sessions on %s over %s', (host, _database, open) => {
  const { s } = serverPerSuite(open, {}, host);
  const { post, get, codeAt, signUp, passwordSession, withTwoFactor, challengeFor, signIn } = apiClient(() => s);
  const alive = async (token: string) => (await get('/api/auth/me', token)).status === 200;
  const refreshes = async (refreshToken: string) => (await post('/api/auth/refresh', { refreshToken })).status === 200;

  it('turning 2FA on ends every password-only session but the one that confirmed, which has now passed it', async () => {
    const { username, token, refreshToken } = await signUp();
    const other = await passwordSession(username);
    const { secret } = (await post('/api/totp/enroll', {}, token)).body;
    expect((await post('/api/totp/confirm', { code: codeAt(secret) }, token)).status).toBe(200);
    expect(await alive(other.token)).toBe(false);
    expect(await refreshes(other.refreshToken)).toBe(false);
    expect(await alive(token)).toBe(true);
    // The confirming session's next access token says it passed a second factor.
    const renewed = await post('/api/auth/refresh', { refreshToken });
    expect(decodeJwt(renewed.body.accessToken).amr).toEqual(['pwd', 'otp']);
    expect((await get('/api/totp/status', renewed.body.accessToken)).body.enabled).toBe(true);
    // And the password alone no longer signs in.
    expect((await post('/api/auth/login', { username, password: 'correct horse battery staple' })).body.status).toBe(
      'second_factor_required',
    );
  });

  it('a password sign-in racing with turning 2FA on gets a challenge, not a session that outlives it', async () => {
    const { username, token } = await signUp();
    const { secret } = (await post('/api/totp/enroll', {}, token)).body;
    // The sign-in reads the account (2FA still off), and 2FA comes on before its KDF finishes.
    const read = s.store.userWithFactors.bind(s.store);
    let racing = true;
    s.store.userWithFactors = async (by) => {
      const found = await read(by);
      if (racing && 'username' in by) {
        racing = false;
        expect((await post('/api/totp/confirm', { code: codeAt(secret) }, token)).status).toBe(200);
      }
      return found;
    };
    try {
      const login = await post('/api/auth/login', { username, password: 'correct horse battery staple' });
      expect(racing).toBe(false);
      expect(login.body.status).toBe('second_factor_required');
    } finally {
      s.store.userWithFactors = read;
    }
  });

  it('a confirm overtaken by another session starting over says so, not that 2FA is on', async () => {
    const { username, token } = await signUp();
    const other = await passwordSession(username);
    const { secret } = (await post('/api/totp/enroll', {}, token)).body;
    const activate = s.store.activateFactor.bind(s.store);
    s.store.activateFactor = async (a) => {
      expect((await post('/api/totp/enroll', {}, other.token)).status).toBe(200); // lands between read and write
      return activate(a);
    };
    try {
      const confirmed = await post('/api/totp/confirm', { code: codeAt(secret) }, token);
      expect(confirmed.body.error.code).toBe('ENROLLMENT_NOT_STARTED');
    } finally {
      s.store.activateFactor = activate;
    }
    expect((await get('/api/totp/status', token)).body).toMatchObject({ enabled: false, pending: true });
  });

  it('shows a pending secret only to the session that started it; another session starts over', async () => {
    const { username, token } = await signUp();
    const other = await passwordSession(username);
    const first = (await post('/api/totp/enroll', {}, token)).body.secret;
    expect((await get('/api/totp/enroll', token)).body.secret).toBe(first); // the same session sees it again
    const second = (await get('/api/totp/enroll', other.token)).body.secret;
    expect(second).not.toBe(first);
    // The first session's secret is gone, and that session cannot confirm the other's.
    expect((await post('/api/totp/confirm', { code: codeAt(first) }, token)).body.error.code).toBe(
      'ENROLLMENT_NOT_STARTED',
    );
    expect((await post('/api/totp/confirm', { code: codeAt(second) }, token)).body.error.code).toBe(
      'ENROLLMENT_NOT_STARTED',
    );
    expect((await post('/api/totp/confirm', { code: codeAt(second) }, other.token)).status).toBe(200);
    expect(await alive(token)).toBe(false);
  });

  it('says how a session was authenticated: pwd, then otp or backup', async () => {
    const { username, secret, backupCodes } = await withTwoFactor();
    const { token } = await signIn(username, secret);
    expect(decodeJwt(token).amr).toEqual(['pwd', 'otp']);
    const backup = await post('/api/auth/login/verify', {
      challenge: await challengeFor(username),
      backupCode: backupCodes[0],
    });
    expect(decodeJwt(backup.body.accessToken).amr).toEqual(['pwd', 'backup']);
    expect(decodeJwt((await signUp()).token).amr).toEqual(['pwd']);
  });

  it('turning 2FA off and new backup codes end every other session', async () => {
    const { username, secret } = await withTwoFactor();
    const a = await signIn(username, secret);
    const b = await signIn(username, secret);
    const c = await signIn(username, secret);
    const rotated = await post('/api/totp/backup-codes', { code: codeAt(secret) }, a.token);
    expect(rotated.status).toBe(200);
    expect(await alive(a.token)).toBe(true);
    expect(await alive(b.token)).toBe(false);
    expect(await refreshes(b.refreshToken)).toBe(false);
    expect(await alive(c.token)).toBe(false);
    s.clock.advance(30_000);
    const d = await signIn(username, secret);
    expect((await post('/api/totp/disable', { backupCode: rotated.body.backupCodes[0] }, a.token)).status).toBe(204);
    expect(await alive(a.token)).toBe(true);
    expect(await alive(d.token)).toBe(false);
  });

  it("an operator's unlock or 2FA reset ends every session of the user", async () => {
    const { username, secret } = await withTwoFactor();
    const a = await signIn(username, secret);
    await s.service.unlock(username);
    expect(await alive(a.token)).toBe(false);
    const b = await signIn(username, secret);
    await s.service.resetTwoFactor(username);
    expect(await alive(b.token)).toBe(false);
    expect(await refreshes(b.refreshToken)).toBe(false);
  });

  it('a password-only session on an account with 2FA on cannot touch 2FA settings', async () => {
    const { username, secret } = await withTwoFactor();
    // Such a session cannot be made over HTTP any more; make one as a racing
    // request could have, straight in the store, and turn it into tokens.
    const user = (await s.store.userByName(username))!;
    const refresh = opaqueToken(randomBytes);
    const now = s.clock.now();
    await s.store.createSession({
      id: timeOrderedId(now, randomBytes),
      userId: user.id,
      epoch: user.sessionEpoch,
      amr: ['pwd'],
      tokenHash: hashToken(refresh.token),
      now,
      expiresAt: now + DAY_MS,
      sessionExpiresAt: now + DAY_MS,
    });
    const { accessToken } = (await post('/api/auth/refresh', { refreshToken: refresh.token })).body;
    expect(await alive(accessToken)).toBe(true); // it is a session, just not a second-factor one
    for (const [url, body] of [
      ['/api/totp/status', undefined],
      ['/api/totp/disable', { code: codeAt(secret) }],
      ['/api/totp/backup-codes', { code: codeAt(secret) }],
      ['/api/totp/validate', { code: codeAt(secret) }],
      ['/api/totp/enroll', {}],
    ] as const) {
      const response = body === undefined ? await get(url, accessToken) : await post(url, body, accessToken);
      expect(response.status, url).toBe(403);
      expect(response.body.error.code).toBe('SECOND_FACTOR_REQUIRED');
    }
    expect((await s.service.status({ userId: user.id, sessionId: null, amr: null })).enabled).toBe(true);
  });

  it('ends a session at its absolute lifetime, however often it is refreshed', async () => {
    const { username, secret } = await withTwoFactor();
    const start = s.clock.now();
    let { refreshToken } = await signIn(username, secret);
    const refreshAt = async (at: number) => {
      s.clock.advance(at - s.clock.now());
      const renewed = await post('/api/auth/refresh', { refreshToken });
      if (renewed.status === 200) refreshToken = renewed.body.refreshToken;
      return renewed;
    };
    for (const day of [7, 14, 21, 28]) expect((await refreshAt(start + day * DAY_MS)).status, `day ${day}`).toBe(200);
    // A minute before the end of a 30-day session (the default): a fresh access token, valid for 10 minutes...
    const last = await refreshAt(start + 30 * DAY_MS - 60_000);
    expect(last.status).toBe(200);
    expect(await alive(last.body.accessToken)).toBe(true);
    // ...that stops working with the session, two minutes later, as does the refresh token.
    s.clock.advance(120_000);
    expect(await alive(last.body.accessToken)).toBe(false);
    expect(await refreshes(refreshToken)).toBe(false);
  });
});
