// Events and policy for embedders: every audit event reaches onEvent, typed and
// with nothing secret in it, and a listener that throws, rejects or hangs
// breaks nothing; the numbers that used to be constants are options, checked at
// start with one line naming the setting.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSqlite, type TestDb } from '../../../test/support/databases.js';
import { readConfig } from '../src/main/config.js';
import type { AuditEvent } from '../src/store/store.js';
import { apiClient } from './api.js';
import { startServer, type TestServer } from './server.js';

describe('onEvent', () => {
  let t: TestDb;
  let s: TestServer;
  const seen: AuditEvent[] = [];
  let calls = 0;
  beforeAll(async () => {
    t = await freshSqlite();
    s = await startServer(t, {}, 'Fastify', {
      onEvent: (event) => {
        seen.push(event);
        calls++;
        // Every kind of bad listener, in turn: one that throws, one that rejects, one that never settles.
        if (calls % 3 === 0) throw new Error('listener bug');
        if (calls % 3 === 1) return Promise.reject(new Error('listener down'));
        return new Promise<void>(() => undefined);
      },
    });
  });
  afterAll(async () => {
    await s.close();
    await t.drop();
  });
  const { post, secrets, codeAt, withTwoFactor, challengeFor } = apiClient(() => s);
  const settled = () => new Promise((resolve) => setImmediate(resolve));

  it('receives each audit event as stored, and a listener that throws, rejects or hangs breaks no login', async () => {
    const { username, secret, backupCodes } = await withTwoFactor();
    const login = await post('/api/auth/login/verify', {
      challenge: await challengeFor(username),
      code: codeAt(secret),
    });
    expect(login.status).toBe(200);
    await post('/api/auth/login/verify', { challenge: await challengeFor(username), backupCode: backupCodes[0] });
    await post('/api/auth/login', { username, password: 'not the password' });
    await settled();
    const types = seen.map((e) => e.type);
    for (const type of [
      'user_registered',
      'login',
      'enrollment_started',
      'enrollment_confirmed',
      'backup_code_used',
      'login_failed',
    ]) {
      expect(types).toContain(type);
    }
    const stored = new Set((await s.store.audit()).map((e) => `${e.id} ${e.type}`));
    for (const e of seen) expect(stored, e.type).toContain(`${e.id} ${e.type}`);
    const text = JSON.stringify(seen);
    for (const secret of secrets) expect(text).not.toContain(secret); // the password, codes, tokens, the key
    expect(s.logs.join('\n')).toContain('an onEvent listener failed');
  });
});

describe('policy', () => {
  it('refuses a value out of range, or two in conflict, with one line naming the variable', () => {
    const bad: [Record<string, string>, string][] = [
      [{ OTPKIT_BACKUP_CODES: '0' }, 'OTPKIT_BACKUP_CODES must be a whole number from 1 to 100'],
      [{ OTPKIT_TOTP_WINDOW: '11' }, 'OTPKIT_TOTP_WINDOW must be a whole number from 0 to 10'],
      [{ OTPKIT_CHALLENGE_ATTEMPTS: 'five' }, 'OTPKIT_CHALLENGE_ATTEMPTS must be a whole number'],
      [
        { OTPKIT_ACCESS_TOKEN_TTL_SECONDS: '10' },
        'OTPKIT_ACCESS_TOKEN_TTL_SECONDS must be a whole number from 60 to 86400',
      ],
      [
        { OTPKIT_LOCKOUT_ATTEMPTS: '20', OTPKIT_LOCKOUT_PERMANENT_AFTER: '10' },
        'OTPKIT_LOCKOUT_PERMANENT_AFTER must be at least OTPKIT_LOCKOUT_ATTEMPTS',
      ],
      [
        { OTPKIT_LOCKOUT_FIRST_MINUTES: '120', OTPKIT_LOCKOUT_MAX_HOURS: '1' },
        'OTPKIT_LOCKOUT_MAX_HOURS must be at least OTPKIT_LOCKOUT_FIRST_MINUTES',
      ],
    ];
    for (const [env, message] of bad) expect(() => readConfig(env, '/'), message).toThrow(message);
    expect(readConfig({}, '/').policy).toMatchObject({ backupCodes: 10, challengeAttempts: 5, lockoutAttempts: 10 });
  });

  it('applies: backup codes, challenge attempts, the TOTP window and the lockout', async () => {
    const t = await freshSqlite();
    const s = await startServer(t, {
      OTPKIT_BACKUP_CODES: '4',
      OTPKIT_CHALLENGE_ATTEMPTS: '2',
      OTPKIT_TOTP_WINDOW: '0',
      OTPKIT_LOCKOUT_ATTEMPTS: '3',
      OTPKIT_LOCKOUT_FIRST_MINUTES: '2',
      OTPKIT_ACCESS_TOKEN_TTL_SECONDS: '120',
    });
    try {
      const { post, get, codeAt, step, withTwoFactor, challengeFor } = apiClient(s);
      const { username, token, secret, backupCodes } = await withTwoFactor();
      expect(backupCodes).toHaveLength(4);
      const challenge = await challengeFor(username);
      // Window 0: the previous step's code is wrong now.
      expect(
        (await post('/api/auth/login/verify', { challenge, code: codeAt(secret, step() - 1) })).body.error.code,
      ).toBe('CODE_WRONG');
      expect((await post('/api/auth/login/verify', { challenge, code: codeAt(secret, step() + 5) })).status).toBe(401);
      expect((await post('/api/auth/login/verify', { challenge, code: codeAt(secret) })).body.error.code).toBe(
        'CHALLENGE_INVALID',
      ); // 2 attempts
      const third = await post('/api/auth/login/verify', {
        challenge: await challengeFor(username),
        code: codeAt(secret, step() + 5),
      });
      expect(third.status).toBe(401);
      const locked = await post('/api/auth/login/verify', {
        challenge: await challengeFor(username),
        code: codeAt(secret),
      });
      expect(locked.headers['retry-after']).toBe('120'); // 3 wrong codes lock for 2 minutes
      const verified = await post('/api/totp/validate', { backupCode: backupCodes[0] }, token);
      expect(verified.body.error.code).toBe('SECOND_FACTOR_LOCKED');
      s.clock.advance(2 * 60_000);
      const tokens = (
        await post('/api/auth/login/verify', { challenge: await challengeFor(username), code: codeAt(secret) })
      ).body;
      expect(tokens.expiresIn).toBe(120);
      expect((await get('/api/auth/me', tokens.accessToken)).status).toBe(200);
    } finally {
      await s.close();
      await t.drop();
    }
  });
});
