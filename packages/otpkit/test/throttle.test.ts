// The per-client throttle as one limit across processes: its PostgreSQL and
// Redis stores on the real servers (counts, windows, races, sweeping), the
// composition from the config, Redis going away (fail open or closed, logged
// once, no crash), and `otpkit serve` processes sharing one count.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { generateKeyRingEntry } from '@otpkit/core';
import { createClient } from '@redis/client';
import { afterAll, describe, expect, it } from 'vitest';
import { freshPostgres, freshSqlite, hasPostgres, POSTGRES_URL, type TestDb } from '../../../test/support/databases.js';
import { cuttableProxy, freshRedis, hasRedis, REDIS_URL, type TestRedis } from '../../../test/support/redis.js';
import { HttpError } from '../src/http/errors.js';
import { POSTGRES_SWEEP_EVERY_MS, postgresThrottle, type RedisScript, redisThrottle } from '../src/http/throttle.js';
import { readConfig } from '../src/main/config.js';
import { openThrottle, type ThrottleLog } from '../src/main/throttle.js';
import { DatabaseUnavailable } from '../src/store/db.js';
import { openPostgres } from '../src/store/postgres.js';
import { freezableProxy } from './freezable-proxy.js';

const START = 1_750_000_000_000; // Unix ms
const MINUTE = 60_000;

function clock() {
  let now = START;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Counts each verdict of `n` hits of one client, in order. */
async function allowedOf(throttle: { hit(c: string): Promise<{ allowed: boolean }> }, client: string, n: number) {
  const verdicts: boolean[] = [];
  for (let i = 0; i < n; i++) verdicts.push((await throttle.hit(client)).allowed);
  return verdicts;
}

function capturedLog() {
  const lines: { level: 'info' | 'warn'; message: string; object: object }[] = [];
  const log: ThrottleLog = {
    info: (object, message) => void lines.push({ level: 'info', message, object }),
    warn: (object, message) => void lines.push({ level: 'warn', message, object }),
  };
  return { log, lines };
}

describe.runIf(hasPostgres)('the PostgreSQL throttle', () => {
  const opened: TestDb[] = [];
  afterAll(async () => {
    for (const t of opened) await t.drop();
  });
  async function database() {
    const t = await freshPostgres();
    opened.push(t);
    return t;
  }

  it('counts per client in fixed windows of the injected clock, with Retry-After to the window end', async () => {
    const t = await database();
    const c = clock();
    const throttle = await postgresThrottle(t.db, { limit: 3, windowMs: MINUTE, now: c.now });
    expect(await throttle.hit('192.0.2.1')).toEqual({ allowed: true, retryAfterSeconds: 60 });
    c.advance(20_000);
    expect(await allowedOf(throttle, '192.0.2.1', 3)).toEqual([true, true, false]);
    expect(await throttle.hit('192.0.2.1')).toEqual({ allowed: false, retryAfterSeconds: 40 });
    expect(await allowedOf(throttle, '2001:db8::1', 3)).toEqual([true, true, true]); // another client, its own count
    c.advance(40_000); // the first window ends exactly now: a new one starts
    expect(await throttle.hit('192.0.2.1')).toEqual({ allowed: true, retryAfterSeconds: 60 });
    const rows = await t.db.all<{ client: string; count: number; ends_at: number }>(
      'SELECT client, count, ends_at FROM throttle_windows ORDER BY client',
    );
    expect(rows).toEqual([
      { client: '192.0.2.1', count: 1, ends_at: START + 2 * MINUTE },
      { client: '2001:db8::1', count: 3, ends_at: START + 20_000 + MINUTE },
    ]);
  });

  it('is an UNLOGGED table, made at start on PostgreSQL only, again harmlessly by every process', async () => {
    const t = await database();
    const c = clock();
    await Promise.all([
      postgresThrottle(t.db, { limit: 3, windowMs: MINUTE, now: c.now }),
      postgresThrottle(t.reopen(), { limit: 3, windowMs: MINUTE, now: c.now }),
    ]);
    const [table] = await t.db.all<{ relpersistence: string }>(
      "SELECT relpersistence FROM pg_class WHERE oid = 'throttle_windows'::regclass",
    );
    expect(table?.relpersistence).toBe('u');
    const s = await freshSqlite();
    try {
      await expect(postgresThrottle(s.db, { limit: 3, windowMs: MINUTE, now: c.now })).rejects.toThrow(
        'postgresThrottle needs a PostgreSQL Db',
      );
    } finally {
      await s.drop();
    }
  });

  it('is one count across processes: 60 racing hits over two pools, exactly the limit allowed', async () => {
    const t = await database();
    const c = clock();
    const [a, b] = await Promise.all([
      postgresThrottle(t.db, { limit: 20, windowMs: MINUTE, now: c.now }),
      postgresThrottle(t.reopen(), { limit: 20, windowMs: MINUTE, now: c.now }),
    ]);
    const verdicts = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).hit('198.51.100.7')));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(20);
  });

  it('sweeps windows that have ended, bounded, and by itself once a minute', async () => {
    const t = await database();
    const c = clock();
    const throttle = await postgresThrottle(t.db, { limit: 3, windowMs: MINUTE, now: c.now });
    for (let i = 0; i < 5; i++) await throttle.hit(`203.0.113.${i}`);
    c.advance(30_000);
    await throttle.hit('203.0.113.99'); // still live when the others end
    c.advance(30_000);
    expect(await throttle.sweep(2)).toBe(2);
    expect(await throttle.sweep()).toBe(3);
    expect(await throttle.sweep()).toBe(0);
    for (let i = 0; i < 5; i++) await throttle.hit(`203.0.113.${i}`);
    c.advance(POSTGRES_SWEEP_EVERY_MS + MINUTE);
    await throttle.hit('192.0.2.200'); // starts a sweep off its own path
    const count = async () => (await t.db.all<{ n: number }>('SELECT count(*)::int AS n FROM throttle_windows'))[0]!.n;
    await expect.poll(count, { timeout: 5_000 }).toBe(1);
  });

  it('rejects with DatabaseUnavailable when the database is out of reach (the request answers 503)', async () => {
    const t = await database();
    const c = clock();
    const proxy = await freezableProxy({ host: '127.0.0.1', port: Number(new URL(POSTGRES_URL).port || 5432) });
    const url = new URL(POSTGRES_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const db = openPostgres(url.href, { schema: t.schema!, connectTimeoutMs: 500, statementTimeoutMs: 500 });
    try {
      const throttle = await postgresThrottle(db, { limit: 3, windowMs: MINUTE, now: c.now });
      expect((await throttle.hit('192.0.2.1')).allowed).toBe(true);
      proxy.close();
      await expect(throttle.hit('192.0.2.1')).rejects.toBeInstanceOf(DatabaseUnavailable);
    } finally {
      proxy.close();
      await db.close();
    }
  });
});

describe.runIf(hasRedis)('the Redis throttle', () => {
  const opened: TestRedis[] = [];
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => undefined);
  const run: RedisScript = async (script, key, args) => client.eval(script, { keys: [key], arguments: [...args] });
  afterAll(async () => {
    for (const r of opened) await r.drop();
    client.destroy();
  });
  async function redis() {
    if (!client.isOpen) await client.connect();
    const r = await freshRedis();
    opened.push(r);
    return r;
  }

  it('counts per client with one key each, expiring with the window', async () => {
    const r = await redis();
    const throttle = redisThrottle({ run, keyPrefix: r.prefix, limit: 3, windowMs: MINUTE });
    expect(await throttle.hit('192.0.2.1')).toEqual({ allowed: true, retryAfterSeconds: 60 });
    expect(await allowedOf(throttle, '192.0.2.1', 3)).toEqual([true, true, false]);
    expect(await allowedOf(throttle, '2001:db8::1', 1)).toEqual([true]);
    expect(await r.keys()).toEqual({ [`${r.prefix}192.0.2.1`]: '4', [`${r.prefix}2001:db8::1`]: '1' });
    const ttl = await client.pTTL(`${r.prefix}192.0.2.1`);
    expect(ttl).toBeGreaterThan(MINUTE - 5_000);
    expect(ttl).toBeLessThanOrEqual(MINUTE);
  });

  it('starts a new window when the old one ends (Redis keeps the time: a short window, really waited)', async () => {
    const r = await redis();
    // Long enough that a stalled test process cannot see it end between three hits.
    const throttle = redisThrottle({ run, keyPrefix: r.prefix, limit: 2, windowMs: 2_000 });
    expect(await allowedOf(throttle, '192.0.2.1', 3)).toEqual([true, true, false]);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await allowedOf(throttle, '192.0.2.1', 3)).toEqual([true, true, false]);
  });

  it('gives a counter that lost its expiry one again', async () => {
    const r = await redis();
    await client.set(`${r.prefix}192.0.2.1`, '1');
    const throttle = redisThrottle({ run, keyPrefix: r.prefix, limit: 3, windowMs: MINUTE });
    expect(await throttle.hit('192.0.2.1')).toEqual({ allowed: true, retryAfterSeconds: 60 });
    expect(await client.pTTL(`${r.prefix}192.0.2.1`)).toBeGreaterThan(0);
  });

  it('is one count across connections: 60 racing hits, exactly the limit allowed', async () => {
    const r = await redis();
    const c = clock();
    const config = readConfig(
      { OTPKIT_REDIS_URL: REDIS_URL, OTPKIT_REDIS_KEY_PREFIX: r.prefix, OTPKIT_RATE_LIMIT: '20' },
      '/',
    );
    const s = await freshSqlite();
    const [a, b] = await Promise.all([
      openThrottle(config, { db: s.db, now: c.now, windowMs: MINUTE }),
      openThrottle(config, { db: s.db, now: c.now, windowMs: MINUTE }),
    ]);
    try {
      const verdicts = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a! : b!).hit('198.51.100.7')));
      expect(verdicts.filter((v) => v.allowed)).toHaveLength(20);
      expect(await r.keys()).toEqual({ [`${r.prefix}throttle:198.51.100.7`]: '60' });
    } finally {
      await a?.close();
      await b?.close();
      await s.drop();
    }
  });
});

describe('the throttle from the config', () => {
  const c = clock();
  const env = (more: Record<string, string> = {}) => readConfig({ OTPKIT_RATE_LIMIT: '3', ...more }, '/');

  it('reads OTPKIT_REDIS_URL, OTPKIT_REDIS_FAIL and OTPKIT_REDIS_KEY_PREFIX', () => {
    expect(env().redis).toBeUndefined();
    expect(env({ OTPKIT_REDIS_URL: 'redis://cache:6379/2' }).redis).toEqual({
      url: 'redis://cache:6379/2',
      failClosed: false,
      keyPrefix: 'otpkit:',
    });
    expect(env({ OTPKIT_REDIS_URL: 'rediss://c', OTPKIT_REDIS_FAIL: 'closed' }).redis?.failClosed).toBe(true);
    expect(() => env({ OTPKIT_REDIS_URL: 'http://cache' })).toThrow('OTPKIT_REDIS_URL must be a redis://');
    expect(() => env({ OTPKIT_REDIS_URL: 'redis://c', OTPKIT_REDIS_FAIL: 'maybe' })).toThrow(
      'OTPKIT_REDIS_FAIL must be open or closed',
    );
  });

  it('is none with OTPKIT_RATE_LIMIT=0, and in memory on SQLite without Redis', async () => {
    const s = await freshSqlite();
    try {
      expect(await openThrottle(env({ OTPKIT_RATE_LIMIT: '0' }), { db: s.db, now: c.now, windowMs: MINUTE })).toBe(
        undefined,
      );
      const throttle = (await openThrottle(env(), { db: s.db, now: c.now, windowMs: MINUTE }))!;
      expect(await allowedOf(throttle, '192.0.2.1', 4)).toEqual([true, true, true, false]);
      const tables = await s.db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE name LIKE 'throttle%'");
      expect(tables).toEqual([]);
      await throttle.close();
    } finally {
      await s.drop();
    }
  });

  it.runIf(hasPostgres)('is in PostgreSQL on PostgreSQL without Redis', async () => {
    const t = await freshPostgres();
    try {
      const throttle = (await openThrottle(env(), { db: t.db, now: c.now, windowMs: MINUTE }))!;
      expect(await allowedOf(throttle, '192.0.2.1', 4)).toEqual([true, true, true, false]);
      expect(await t.db.all('SELECT client, count FROM throttle_windows')).toEqual([{ client: '192.0.2.1', count: 4 }]);
      await throttle.close();
    } finally {
      await t.drop();
    }
  });

  describe.runIf(hasRedis)('with Redis going away', () => {
    it('fails open: requests pass uncounted, one warning per outage, counting again once it is back', async () => {
      const r = await freshRedis();
      const proxy = await cuttableProxy();
      const s = await freshSqlite();
      const { log, lines } = capturedLog();
      const config = env({ OTPKIT_REDIS_URL: `redis://127.0.0.1:${proxy.port}`, OTPKIT_REDIS_KEY_PREFIX: r.prefix });
      const throttle = (await openThrottle(config, { db: s.db, now: c.now, windowMs: MINUTE, logger: log }))!;
      try {
        expect(await allowedOf(throttle, '192.0.2.1', 2)).toEqual([true, true]);
        expect(lines).toEqual([]);
        expect(throttle.ready).toBeUndefined(); // failing open, a Redis away does not make the process unready
        await proxy.cut();
        expect(await allowedOf(throttle, '192.0.2.1', 10)).toEqual(Array(10).fill(true));
        expect(lines.map((l) => [l.level, l.message])).toEqual([
          ['warn', 'redis unavailable: throttled requests pass uncounted until it is back'],
        ]);
        expect(JSON.stringify(lines[0]!.object)).toContain(`127.0.0.1:${proxy.port}`);
        await proxy.restore();
        await expect.poll(async () => (await throttle.hit('192.0.2.1')).allowed, { timeout: 10_000 }).toBe(false);
        expect(lines.map((l) => l.level)).toEqual(['warn', 'info']);
        expect(lines[1]!.message).toBe('redis reachable again: the throttle counts again');
      } finally {
        await throttle.close();
        await proxy.close();
        await s.drop();
        await r.drop();
      }
    });

    it('fails closed with OTPKIT_REDIS_FAIL=closed: 503 SERVER_BUSY with Retry-After', async () => {
      const r = await freshRedis();
      const proxy = await cuttableProxy();
      const s = await freshSqlite();
      const { log, lines } = capturedLog();
      const config = env({
        OTPKIT_REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
        OTPKIT_REDIS_KEY_PREFIX: r.prefix,
        OTPKIT_REDIS_FAIL: 'closed',
      });
      const throttle = (await openThrottle(config, { db: s.db, now: c.now, windowMs: MINUTE, logger: log }))!;
      try {
        expect((await throttle.hit('192.0.2.1')).allowed).toBe(true);
        await throttle.ready!(); // GET /readyz: ready
        await proxy.cut();
        await expect(throttle.ready!()).rejects.toMatchObject({ code: 'SERVER_BUSY' });
        for (let i = 0; i < 3; i++) {
          const refused = await throttle.hit('192.0.2.1').catch((error: unknown) => error);
          expect(refused).toBeInstanceOf(HttpError);
          expect(refused).toMatchObject({ code: 'SERVER_BUSY', retryAfterSeconds: 5 });
        }
        expect(lines.map((l) => l.message)).toEqual([
          'redis unavailable: throttled routes answer 503 until it is back',
        ]);
      } finally {
        await throttle.close();
        await proxy.close();
        await s.drop();
        await r.drop();
      }
    });

    it('starts without a Redis that never answers, within the connect timeout, and says so once', async () => {
      const proxy = await cuttableProxy();
      await proxy.cut(); // a port nothing listens on
      const s = await freshSqlite();
      const { log, lines } = capturedLog();
      const config = env({ OTPKIT_REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
      const began = performance.now();
      const throttle = (await openThrottle(config, { db: s.db, now: c.now, windowMs: MINUTE, logger: log }))!;
      try {
        expect(performance.now() - began).toBeLessThan(6_000); // the 2 s timeout, and room for a loaded machine
        expect(await allowedOf(throttle, '192.0.2.1', 5)).toEqual(Array(5).fill(true));
        expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
      } finally {
        await throttle.close();
        await s.drop();
      }
    });
  });
});

// `otpkit serve` processes, as an operator runs them behind a load balancer.
const BIN = fileURLToPath(new URL('../bin/otpkit.js', import.meta.url));
const RATE_LIMIT = 20;
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill();
});

/** `otpkit serve` on a free port, its pino lines (stdout) kept; resolves once it listens. */
function serve(env: Record<string, string>): Promise<{ base: string; child: ChildProcess; logs: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) resolve({ base: match[1]!, child, logs: () => stdout });
    });
    child.on('exit', (status) => reject(new Error(`otpkit serve exited with ${status}: ${stderr}`)));
  });
}

/** Requests alternating between the servers and between two throttled routes; the status of each. */
async function alternate(bases: string[], n: number): Promise<{ status: number; code?: string }[]> {
  const answers: { status: number; code?: string }[] = [];
  for (let i = 0; i < n; i++) {
    const [path, body] =
      i % 4 < 2
        ? ['/api/auth/login', { username: `nobody${randomBytes(4).toString('hex')}`, password: 'not the password' }]
        : ['/api/auth/refresh', { refreshToken: 'not-a-refresh-token' }];
    const response = await fetch(`${bases[i % bases.length]}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as { error?: { code: string } };
    answers.push({ status: response.status, ...(answer.error ? { code: answer.error.code } : {}) });
  }
  return answers;
}

/** The 1-based number of the first request refused with RATE_LIMITED, or undefined. */
const firstLimited = (answers: { status: number; code?: string }[]) => {
  const index = answers.findIndex((a) => a.status === 429 && a.code === 'RATE_LIMITED');
  return index < 0 ? undefined : index + 1;
};

describe.runIf(hasPostgres)('two otpkit serve processes behind one address', () => {
  async function serverEnv(t: TestDb, more: Record<string, string> = {}) {
    return {
      OTPKIT_DATABASE_URL: `${t.url}?options=${encodeURIComponent(`-c search_path=${t.schema}`)}`,
      OTPKIT_KEYS: generateKeyRingEntry({ id: 'k1' }),
      OTPKIT_TOKEN_KEY: randomBytes(32).toString('base64url'),
      OTPKIT_SCRYPT_LOG2N: '10',
      OTPKIT_RATE_LIMIT: String(RATE_LIMIT),
      ...more,
    };
  }

  it('share one count in PostgreSQL: the first 429 is request 21 of 40, not 41', async () => {
    const t = await freshPostgres();
    try {
      const env = await serverEnv(t);
      const servers = await Promise.all([serve(env), serve(env)]);
      const answers = await alternate(
        servers.map((s) => s.base),
        2 * RATE_LIMIT,
      );
      expect(answers.slice(0, RATE_LIMIT).every((a) => a.status === 401)).toBe(true);
      expect(firstLimited(answers)).toBe(RATE_LIMIT + 1);
      expect(answers.slice(RATE_LIMIT).every((a) => a.code === 'RATE_LIMITED')).toBe(true);
      expect(await t.db.all('SELECT client, count FROM throttle_windows')).toEqual([
        { client: '127.0.0.1', count: 2 * RATE_LIMIT },
      ]);
    } finally {
      await t.drop();
    }
  });

  describe.runIf(hasRedis)('with OTPKIT_REDIS_URL', () => {
    it('share one count in Redis: the first 429 is request 21 of 40, and PostgreSQL holds no counts', async () => {
      const t = await freshPostgres();
      const r = await freshRedis();
      try {
        const env = await serverEnv(t, { OTPKIT_REDIS_URL: REDIS_URL, OTPKIT_REDIS_KEY_PREFIX: r.prefix });
        const servers = await Promise.all([serve(env), serve(env)]);
        const answers = await alternate(
          servers.map((s) => s.base),
          2 * RATE_LIMIT,
        );
        expect(firstLimited(answers)).toBe(RATE_LIMIT + 1);
        expect(answers.slice(RATE_LIMIT).every((a) => a.code === 'RATE_LIMITED')).toBe(true);
        expect(await r.keys()).toEqual({ [`${r.prefix}throttle:127.0.0.1`]: String(2 * RATE_LIMIT) });
        expect(await t.db.all("SELECT to_regclass('throttle_windows') AS t")).toEqual([{ t: null }]);
      } finally {
        await t.drop();
        await r.drop();
      }
    });

    it('fail open while Redis is away (logged once each, no crash), and count on where they were once it is back', async () => {
      const t = await freshPostgres();
      const r = await freshRedis();
      const proxy = await cuttableProxy();
      try {
        const env = await serverEnv(t, {
          OTPKIT_REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
          OTPKIT_REDIS_KEY_PREFIX: r.prefix,
        });
        const servers = await Promise.all([serve(env), serve(env)]);
        const bases = servers.map((s) => s.base);
        expect((await alternate(bases, 10)).every((a) => a.status === 401)).toBe(true);
        await proxy.cut();
        const during = await alternate(bases, 2 * RATE_LIMIT);
        expect(during.every((a) => a.status === 401)).toBe(true); // past the limit, and nothing refused
        for (const server of servers) {
          expect(server.child.exitCode).toBe(null);
          const warnings = server
            .logs()
            .split('\n')
            .filter((line) => line.includes('redis unavailable'));
          expect(warnings).toHaveLength(1);
          expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, redis: `127.0.0.1:${proxy.port}` });
        }
        await proxy.restore();
        // Back: the count kept in Redis (10) goes on, so the limit comes 10 requests later, on both.
        await expect
          .poll(async () => firstLimited(await alternate(bases, RATE_LIMIT)), { timeout: 15_000 })
          .toBeDefined();
      } finally {
        await proxy.close();
        await t.drop();
        await r.drop();
      }
    });

    it('fail closed with OTPKIT_REDIS_FAIL=closed: 503 SERVER_BUSY with Retry-After while Redis is away', async () => {
      const t = await freshPostgres();
      const proxy = await cuttableProxy();
      const r = await freshRedis();
      try {
        const env = await serverEnv(t, {
          OTPKIT_REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
          OTPKIT_REDIS_KEY_PREFIX: r.prefix,
          OTPKIT_REDIS_FAIL: 'closed',
        });
        const server = await serve(env);
        expect((await alternate([server.base], 2)).map((a) => a.status)).toEqual([401, 401]);
        expect((await fetch(`${server.base}/readyz`)).status).toBe(200);
        await proxy.cut();
        expect((await fetch(`${server.base}/readyz`)).status).toBe(503); // take it out of the balancer
        const refused = await fetch(`${server.base}/api/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken: 'not-a-refresh-token' }),
        });
        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('5');
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('SERVER_BUSY');
        expect((await fetch(`${server.base}/healthz`)).status).toBe(200); // not throttled, still served
        expect(server.child.exitCode).toBe(null);
      } finally {
        await proxy.close();
        await t.drop();
        await r.drop();
      }
    });
  });
});
