// Floods and faults, as an attacker or a bad day would bring them, on SQLite
// and the real PostgreSQL: password guessing against one account, a burst
// of sign-ins beyond the hashing cap, a spoofed X-Forwarded-For, a busy
// thread pool, and a fault of ours in the second step (which must cost the
// user nothing).

import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, open, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSqlite, type TestDb } from '../../../test/support/databases.js';
import { DatabaseUnavailable } from '../src/store/db.js';
import { apiClient, PASSWORD } from './api.js';
import { HOSTS, serverPerSuite, startServer, type TestServer } from './server.js';

/**
 * Holds libuv's four threads until release(): each blocks opening a FIFO for
 * reading until a writer opens it. No timing: the threads stay held however
 * slow the machine. After 20 s they are let go anyway, so a request that
 * needed one gets its answer (and the test fails) instead of hanging.
 */
function holdThreadPool() {
  const dir = mkdtempSync(join(tmpdir(), 'otpkit-pool-'));
  const fifos = [0, 1, 2, 3].map((i) => join(dir, `fifo${i}`));
  for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
  let freed = 0;
  const held = fifos.map(
    (fifo) =>
      new Promise<void>((resolve) =>
        open(fifo, 'r', (error, fd) => {
          freed++;
          if (!error) closeSync(fd);
          resolve();
        }),
      ),
  );
  /** A writer that does not wait: ENXIO until that FIFO's reader is in its open, so try until all are free. */
  async function release() {
    while (freed < fifos.length) {
      for (const fifo of fifos) {
        try {
          closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {}
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(held);
    clearTimeout(failsafe);
    rmSync(dir, { recursive: true, force: true });
  }
  const failsafe = setTimeout(release, 20_000);
  return { freed: () => freed, release };
}

describe.each(HOSTS)('floods on %s over %s', (host, _database, open) => {
  const { s } = serverPerSuite(open, {}, host);
  const { post, get, codeAt, signUp, withTwoFactor, challengeFor } = apiClient(() => s);
  const login = (username: string, password: string) => post('/api/auth/login', { username, password });

  it('throttles the password step per account: 10 failures in 15 minutes, then 429 even for the right password', async () => {
    const victim = await signUp();
    const bystander = await signUp();
    for (let i = 0; i < 10; i++) expect((await login(victim.username, `guess number ${i}`)).status).toBe(401);
    const throttled = await login(victim.username, PASSWORD);
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.code).toBe('LOGIN_THROTTLED');
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login(bystander.username, PASSWORD)).status).toBe(200); // another account is not touched
    s.clock.advance(15 * 60_000);
    expect((await login(victim.username, PASSWORD)).status).toBe(200);
  });

  it('a right password gives its attempt back, and a burst of guesses cannot try more than the limit', async () => {
    const { username } = await signUp();
    for (let i = 0; i < 20; i++) expect((await login(username, PASSWORD)).status).toBe(200);
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => login(username, `burst guess ${i}`)));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.every((status) => [401, 429, 503].includes(status))).toBe(true);
  });

  it('a second step that fails on our side (a 500) costs nothing, at sign-in and in a step-up check', async () => {
    const { username, token, secret } = await withTwoFactor();
    // A secret that no longer opens (a damaged row): every check of it is a fault of ours.
    const user = (await s.store.userByName(username))!;
    const [factor] = await s.store.factors(user.id);
    const damaged = `${factor!.sealedSecret.slice(0, -4)}AAAA`;
    await s.store.resealFactor(factor!.id, factor!.sealedSecret, damaged);
    const challenge = await challengeFor(username);
    for (let i = 0; i < 12; i++) {
      const failed = await post('/api/auth/login/verify', { challenge, code: codeAt(secret) });
      expect(failed.status).toBe(500);
      expect(failed.body.error.code).toBe('INTERNAL');
      expect((await post('/api/totp/validate', { code: codeAt(secret) }, token)).status).toBe(500);
    }
    // Neither the account's budget nor the challenge's five attempts were spent.
    expect((await s.store.userById(user.id))?.failedAttempts).toBe(0);
    expect((await get('/api/totp/status', token)).body.locked).toBe(false);
    await s.store.resealFactor(factor!.id, damaged, factor!.sealedSecret);
    expect((await post('/api/auth/login/verify', { challenge, code: codeAt(secret) })).status).toBe(200);
  });

  it('a database lost during the settle counts nothing: 503, and the budget and the challenge stay whole', async () => {
    const { username, secret } = await withTwoFactor();
    const user = (await s.store.userByName(username))!;
    const challenge = await challengeFor(username);
    const settle = s.store.settleSecondFactor.bind(s.store);
    s.store.settleSecondFactor = async () => {
      throw new DatabaseUnavailable('database unavailable (test): connection reset');
    };
    try {
      for (let i = 0; i < 12; i++) {
        const lost = await post('/api/auth/login/verify', { challenge, code: codeAt(secret, 1) });
        expect(lost.status).toBe(503);
        expect(lost.body.error.code).toBe('DATABASE_UNAVAILABLE');
      }
    } finally {
      s.store.settleSecondFactor = settle;
    }
    expect((await s.store.userById(user.id))?.failedAttempts).toBe(0);
    for (let i = 0; i < 4; i++) {
      expect((await post('/api/auth/login/verify', { challenge, code: codeAt(secret, 1) })).status).toBe(401);
    }
    expect((await post('/api/auth/login/verify', { challenge, code: codeAt(secret) })).status).toBe(200); // the fifth
  });
});

describe('the thread pool and the hashing cap', () => {
  let t: TestDb;
  let s: TestServer;
  beforeAll(async () => {
    t = await freshSqlite();
    // A KDF of some milliseconds (2^15), so that a burst of sign-ins overlaps it.
    s = await startServer(t, { OTPKIT_SCRYPT_LOG2N: '15', OTPKIT_PASSWORD_HASH_CONCURRENCY: '1' });
  });
  afterAll(async () => {
    await s.close();
    await t.drop();
  });
  const { post, get, codeAt, withTwoFactor, challengeFor } = apiClient(() => s);

  it('beyond the hashing cap and its short queue, sign-ins get 503 with Retry-After, never a 500', async () => {
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post('/api/auth/login', { username: `nobody-${i}`, password: PASSWORD })),
    );
    const busy = burst.filter((r) => r.status === 503);
    expect(burst.every((r) => r.status === 401 || r.status === 503)).toBe(true);
    expect(busy.length).toBeGreaterThan(0);
    expect(burst.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(5); // the cap and its queue are served
    for (const r of busy) {
      expect(r.body.error.code).toBe('SERVER_BUSY');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  // (Password hashing is capped below the pool's four threads, so what does use
  // the pool, such as the enrollment QR code's zlib, still finds a thread.)
  it('token checks and second steps do not wait behind a busy thread pool', async () => {
    const { username, token, secret } = await withTwoFactor();
    const challenge = await challengeFor(username);
    const pool = holdThreadPool();
    const me = await get('/api/auth/me', token);
    const verified = await post('/api/auth/login/verify', { challenge, code: codeAt(secret) });
    const validated = await post(
      '/api/totp/validate',
      { code: codeAt(secret, Math.floor(s.clock.now() / 30_000) + 1) },
      token,
    );
    expect([me.status, verified.status, validated.status]).toEqual([200, 200, 200]);
    expect(pool.freed()).toBe(0); // all three were answered while every thread of the pool was held
    await pool.release();
  });
});

describe.each(['Fastify', 'Express'] as const)('behind a proxy, on %s', (host) => {
  it.each([
    ['a hop count', '1'],
    ["the proxy's address", '127.0.0.1'],
  ])(
    'trusting %s, a client-supplied extra hop changes neither the throttle nor the audit log',
    async (_what, trust) => {
      const t = await freshSqlite();
      const s = await startServer(t, { OTPKIT_TRUST_PROXY: trust, OTPKIT_RATE_LIMIT: '3' }, host);
      try {
        // The proxy (127.0.0.1) appends the address it saw; the client put a lie in front of it.
        const attempt = (lie: string) =>
          s.inject({
            method: 'POST',
            url: '/api/auth/login',
            remoteAddress: '127.0.0.1',
            headers: { 'x-forwarded-for': `${lie}, 203.0.113.7` },
            payload: { username: 'nobody', password: PASSWORD },
          });
        for (let i = 0; i < 3; i++) expect((await attempt(`198.51.100.${i}`)).statusCode).toBe(401);
        expect((await attempt('198.51.100.99')).statusCode).toBe(429);
        const ips = new Set((await s.store.audit()).map((e) => e.ip));
        expect([...ips]).toEqual(['203.0.113.7']);
        // A client that reaches otpkit directly, past the proxy, is itself the client.
        const direct = await s.inject({
          method: 'POST',
          url: '/api/auth/login',
          remoteAddress: '192.0.2.1',
          headers: { 'x-forwarded-for': '203.0.113.7' },
          payload: { username: 'nobody', password: PASSWORD },
        });
        expect(direct.statusCode).toBe(trust === '1' ? 429 : 401); // a hop count believes anyone; an address does not
      } finally {
        await s.close();
        await t.drop();
      }
    },
  );
});
