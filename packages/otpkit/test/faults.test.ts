// When the database fails: PostgreSQL connections terminated under load, a
// frozen network link, nothing listening at start; and SQLite files readable
// only by their owner. Each test here failed before otpkit handled its fault.

import { type ChildProcess, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { base32Decode, createTotp, generateKeyRingEntry } from '@otpkit/core';
import Database from 'better-sqlite3';
import pg from 'pg';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { freshPostgresDatabase, hasPostgres, POSTGRES_URL } from '../../../test/support/databases.js';
import { startListening } from '../../../test/support/listening.js';
import { compose } from '../src/main/compose.js';
import { readConfig } from '../src/main/config.js';
import { migrate } from '../src/store/migrate.js';
import { openPostgres } from '../src/store/postgres.js';
import { openSqlite } from '../src/store/sqlite.js';
import { freezableProxy } from './freezable-proxy.js';

const BIN = fileURLToPath(new URL('../bin/otpkit.js', import.meta.url));
const PASSWORD = 'correct horse battery staple';
/** Far beyond any timeout configured here: a request that takes this long hung. */
const HANG_MS = 30_000;

/** What every server here needs besides its database. */
function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    OTPKIT_KEYS: generateKeyRingEntry({ id: 'k1' }),
    OTPKIT_TOKEN_KEY: randomBytes(32).toString('base64url'),
    OTPKIT_SCRYPT_LOG2N: '10',
    OTPKIT_RATE_LIMIT: '0',
  };
}

/** Starts `otpkit serve` on a free port; resolves with the process and its base URL once it listens. */
function serve(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  return startListening(BIN, ['serve', '--port', '0'], { env: { LOG_LEVEL: 'error', ...env } });
}

type Answer = { status: number; body: Record<string, unknown> & { error?: { code: string } } };

/** A JSON call over a real socket: an answer, or what went wrong instead (a reset, a hang) as a string. */
async function call(base: string, path: string, body?: unknown, token?: string): Promise<Answer | string> {
  try {
    const response = await fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(HANG_MS),
    });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  } catch (error) {
    return `${path}: ${(error as Error).name}: ${(error as Error).message} ${String((error as Error).cause ?? '')}`;
  }
}

function answer(result: Answer | string): Answer {
  if (typeof result === 'string') throw new Error(result);
  return result;
}

describe.runIf(hasPostgres)('PostgreSQL faults', () => {
  it('otpkit serve outlives its connections being terminated during a burst of logins, and recovers', async () => {
    const database = await freshPostgresDatabase();
    let child: ChildProcess | undefined;
    try {
      // Enough password-hashing slots for the burst's 16 clients: their logins should reach the database.
      const started = await serve({
        ...baseEnv(),
        OTPKIT_DATABASE_URL: database.url,
        OTPKIT_PASSWORD_HASH_CONCURRENCY: '16',
      });
      child = started.child;
      const { base } = started;
      // Twelve accounts, four of them with 2FA, confirmed with the current step's code (the previous
      // step's could already be out of the server's window): a burst sign-in that reuses it gets 401.
      const users: { username: string; totp?: ReturnType<typeof createTotp> }[] = [];
      for (let i = 0; i < 12; i++) {
        const username = `user${i}`;
        expect(answer(await call(base, '/api/auth/register', { username, password: PASSWORD })).status).toBe(201);
        if (i % 3 === 0) {
          const login = answer(await call(base, '/api/auth/login', { username, password: PASSWORD }));
          const token = (login.body.tokens as { accessToken: string }).accessToken;
          const { secret } = answer(await call(base, '/api/totp/enroll', {}, token)).body as { secret: string };
          const totp = createTotp({ secret: base32Decode(secret) });
          const confirm = await call(base, '/api/totp/confirm', { code: totp.generate(Date.now() / 1000) }, token);
          expect(answer(confirm).status).toBe(200);
          users.push({ username, totp });
        } else users.push({ username });
      }

      /** The password step, then for a 2FA account (if asked) the second step with the code at codeAt. */
      async function login(user: (typeof users)[number], secondStep: boolean, codeAt: number) {
        const first = await call(base, '/api/auth/login', { username: user.username, password: PASSWORD });
        if (typeof first === 'string' || !user.totp || !secondStep || first.body.status !== 'second_factor_required')
          return [first];
        const code = user.totp.generate(codeAt);
        return [first, await call(base, '/api/auth/login/verify', { challenge: first.body.challenge, code })];
      }

      // The burst: 16 clients, 240 logins; the server's backends are terminated four times along the way.
      const TOTAL = 240;
      const TERMINATE_AT = new Set([20, 80, 140, 200]);
      const results: (Answer | string)[] = [];
      let next = 0;
      let terminated = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < TOTAL) {
            const i = next++;
            if (TERMINATE_AT.has(i)) terminated += await database.terminateBackends();
            const user = users[i % users.length]!;
            // A 2FA account takes the second step on its first two logins only: the second reuses the
            // code (401), and failures count toward the account's lock.
            results.push(...(await login(user, i < users.length * 2, Date.now() / 1000)));
          }
        }),
      );

      expect(terminated).toBeGreaterThan(0);
      expect(child.exitCode).toBeNull();
      expect(child.signalCode).toBeNull();
      const unexpected = results.filter((r) => typeof r === 'string' || ![200, 401, 503].includes(r.status));
      expect(unexpected).toEqual([]);
      for (const r of results as Answer[]) {
        if (r.status === 503) expect(r.body.error?.code).toMatch(/^(DATABASE_UNAVAILABLE|SERVER_BUSY)$/);
      }

      // Afterwards every account signs in, through both steps, with the next period's code.
      for (const user of users) {
        const [first, second] = await login(user, true, Date.now() / 1000 + 30);
        expect(answer(first!).status).toBe(200);
        if (user.totp) expect(answer(second!).status).toBe(200);
      }
    } finally {
      child?.kill();
      await database.drop();
    }
  });

  it('answers 503 DATABASE_UNAVAILABLE within its timeouts while the link is frozen, and recovers when it thaws', async () => {
    const database = await freshPostgresDatabase();
    const target = new URL(POSTGRES_URL);
    const proxy = await freezableProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(database.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const logs: string[] = [];
    const composed = await compose(
      readConfig(
        {
          ...baseEnv(),
          OTPKIT_DATABASE_URL: viaProxy.href,
          OTPKIT_DB_CONNECT_TIMEOUT_MS: '800',
          OTPKIT_DB_STATEMENT_TIMEOUT_MS: '800',
        },
        process.cwd(),
      ),
      { say: () => undefined, logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(line) }) },
    );
    /** One request, timed, bounded by HANG_MS. */
    async function request(method: 'GET' | 'POST', url: string, body?: object, token?: string) {
      const started = performance.now();
      const response = await Promise.race([
        composed.app.inject({
          method,
          url,
          ...(body === undefined ? {} : { payload: body }),
          headers: token ? { authorization: `Bearer ${token}` } : {},
        }),
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), HANG_MS).unref()),
      ]);
      const ms = performance.now() - started;
      if (response === 'hung') return { status: 0, code: 'hung', retryAfter: undefined, ms };
      const json = JSON.parse(response.body) as { error?: { code: string }; tokens?: { accessToken: string } };
      return {
        status: response.statusCode,
        code: json.error?.code,
        retryAfter: response.headers['retry-after'],
        ms,
        json,
      };
    }
    const signIn = () => request('POST', '/api/auth/login', { username: 'alice', password: PASSWORD });
    try {
      expect((await request('POST', '/api/auth/register', { username: 'alice', password: PASSWORD })).status).toBe(201);
      const token = (await signIn()).json?.tokens?.accessToken;
      expect(token).toBeTypeOf('string');

      proxy.freeze();
      const unavailable = {
        status: 503,
        code: 'DATABASE_UNAVAILABLE',
        retryAfter: expect.stringMatching(/^\d+$/),
        // A few timeouts of 0.8 to 1.8 s; the bound is loose for a loaded machine, and far below a hang.
        ms: expect.toSatisfy((ms: number) => ms < HANG_MS / 2),
      };
      // One at a time: each finds an idle connection, whose statement the server never sees.
      expect(await signIn()).toMatchObject(unavailable);
      expect(await request('GET', '/api/auth/me', undefined, token)).toMatchObject(unavailable);
      // More at once than the pool has connections: new ones cannot connect, the rest wait for one in vain.
      const burst = await Promise.all(
        Array.from({ length: 14 }, (_, i) => (i % 2 ? signIn() : request('GET', '/api/auth/me', undefined, token))),
      );
      for (const r of burst) expect(r).toMatchObject(unavailable);

      proxy.thaw();
      for (let i = 0; i < 3; i++) {
        expect((await signIn()).status).toBe(200);
        expect((await request('GET', '/api/auth/me', undefined, token)).status).toBe(200);
      }
      expect(logs.join('\n')).toContain('database unavailable');
      expect(logs.join('\n')).not.toContain(PASSWORD);
    } finally {
      proxy.close();
      await composed.close();
      await database.drop();
    }
  });
});

describe.runIf(hasPostgres)('PostgreSQL connections', () => {
  it('keep a connection that only refused a statement (a lost race, a bad value); drop one that may be broken', async () => {
    const database = await freshPostgresDatabase();
    const db = openPostgres(database.url, { max: 1 });
    const killer = new pg.Client({ connectionString: database.url });
    await killer.connect();
    const backend = async () => (await db.all<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]?.pid;
    try {
      await db.run('CREATE TABLE t (n integer PRIMARY KEY)');
      const pid = await backend();
      // A batch whose expectChanges fails is how racing requests lose: often, under a burst.
      const raced = await db.batch([{ sql: 'UPDATE t SET n = n + 1 WHERE n = ?', params: [1], expectChanges: 1 }]);
      expect(raced).toBe(false);
      await expect(db.run('INSERT INTO t (n) VALUES (?)', ['x'])).rejects.toMatchObject({ code: '22P02' });
      expect(await backend()).toBe(pid);
      // A statement prepared on it before a schema change fails there each time: that connection goes.
      const all = () => db.all('SELECT * FROM t');
      await all();
      await killer.query('ALTER TABLE t ADD COLUMN m integer');
      await expect(all()).rejects.toMatchObject({ code: '0A000' });
      expect(await all()).toEqual([]);
      const renewed = await backend();
      expect(renewed).not.toBe(pid);
      // A connection the server ended goes; the next statement gets a new one.
      await killer.query('SELECT pg_terminate_backend($1)', [renewed]);
      await db.all('SELECT 1').catch(() => undefined);
      const next = await backend();
      expect(next).not.toBe(renewed);
      expect(await backend()).toBe(next);
    } finally {
      await killer.end();
      await db.close();
      await database.drop();
    }
  });
});

describe('start-up without a database', () => {
  /** A port where nothing listens: one the kernel just gave out and took back. */
  async function closedPort(): Promise<number> {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it.each(['migrate', 'serve'])(
    'otpkit %s: one line on stderr, exit status 1, no stack and no password',
    async (command) => {
      const secret = `pw-${randomBytes(8).toString('hex')}`;
      const url = `postgres://otpkit:${secret}@127.0.0.1:${await closedPort()}/otpkit`;
      const cwd = mkdtempSync(join(tmpdir(), 'otpkit-nodb-'));
      try {
        const result = spawnSync(process.execPath, [BIN, command, ...(command === 'serve' ? ['--port', '0'] : [])], {
          cwd,
          env: { ...baseEnv(), OTPKIT_DATABASE_URL: url },
          encoding: 'utf8',
          timeout: HANG_MS,
        });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(
          /^otpkit: database unavailable \(PostgreSQL at 127\.0\.0\.1:\d+\/otpkit\): connection refused\n$/,
        );
        expect(result.stderr).not.toMatch(/^\s+at /m);
        expect(result.stderr + result.stdout).not.toContain(secret);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
  );
});

describe('SQLite files', () => {
  const modes = (file: string) =>
    Object.fromEntries(['', '-wal', '-shm'].map((suffix) => [suffix || 'db', statSync(file + suffix).mode & 0o777]));
  const PRIVATE = { db: 0o600, '-wal': 0o600, '-shm': 0o600 };

  /** Runs fn with the process umask set to mask (the vitest workers are processes, not threads). */
  async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
    const before = process.umask(mask);
    try {
      return await fn();
    } finally {
      process.umask(before);
    }
  }

  it('the database and its -wal and -shm are 0600 in a directory that already exists, under umask 022', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otpkit-mode-'));
    const file = join(dir, 'otpkit.sqlite');
    try {
      await withUmask(0o022, async () => {
        const db = openSqlite(file);
        try {
          await migrate(db, Date.now());
          await db.run('INSERT INTO otpkit_migrations (version, name, applied_at) VALUES (?, ?, ?)', [999, 'x', 0]);
          expect(modes(file)).toEqual(PRIVATE);
        } finally {
          await db.close();
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('narrows the files an earlier version left readable by others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otpkit-mode-'));
    const file = join(dir, 'otpkit.sqlite');
    try {
      await withUmask(0o022, async () => {
        // What an earlier otpkit left: the database and, still open, its -wal and -shm, all 0644.
        const earlier = new Database(file);
        earlier.pragma('journal_mode = WAL');
        earlier.exec('CREATE TABLE t (x INTEGER)');
        expect(modes(file)).toEqual({ db: 0o644, '-wal': 0o644, '-shm': 0o644 });
        const db = openSqlite(file);
        try {
          expect(modes(file)).toEqual(PRIVATE);
          await db.run('INSERT INTO t (x) VALUES (?)', [1]);
          expect(modes(file)).toEqual(PRIVATE);
        } finally {
          await db.close();
          earlier.close();
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
