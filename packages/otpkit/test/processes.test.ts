// otpkit as its operators run it: `otpkit serve` processes over real sockets
// (two of them sharing one PostgreSQL), start-up with nothing configured, the
// production key check, and the admin commands.

import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { base32Decode, createTotp, generateKeyRingEntry } from '@otpkit/core';
import { describe, expect, it } from 'vitest';
import { freshPostgres, freshSqlite, hasPostgres } from '../../../test/support/databases.js';
import { startListening } from '../../../test/support/listening.js';
import { runCli } from '../src/cli/index.js';
import type { Opened } from '../src/cli/io.js';
import { envFor, startServer } from './server.js';

const BIN = fileURLToPath(new URL('../bin/otpkit.js', import.meta.url));

/** Starts `otpkit serve` on a free port; resolves with its base URL once it listens. */
async function serve(env: Record<string, string>, cwd = process.cwd()): Promise<string> {
  const env2 = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env };
  return (await startListening(BIN, ['serve', '--port', '0'], { env: env2, cwd })).base;
}

async function api(base: string, path: string, body?: unknown, token?: string) {
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // Each test reads the fields it expects; a missing one fails its expectation.
  return {
    status: response.status,
    body: (await response.json()) as Record<string, string> & { tokens: Record<string, string> },
  };
}

describe('otpkit serve', () => {
  it('starts with nothing configured: SQLite and keys in ./data, keys readable only by their owner', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'otpkit-start-'));
    try {
      const base = await serve({ OTPKIT_SCRYPT_LOG2N: '10' }, cwd);
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await api(base, '/healthz')).body).toEqual({ status: 'ok' });
      expect(statSync(join(cwd, 'data', 'keys')).mode & 0o777).toBe(0o600);
      expect(statSync(join(cwd, 'data', 'token-key')).mode & 0o777).toBe(0o600);
      expect(statSync(join(cwd, 'data', 'otpkit.sqlite')).isFile()).toBe(true);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it.each(['production', 'Production', ' PRODUCTION '])(
    'refuses to start in production (NODE_ENV=%j) without keys in the environment',
    (nodeEnv) => {
      const cwd = mkdtempSync(join(tmpdir(), 'otpkit-prod-'));
      try {
        const result = spawnSync(process.execPath, [BIN, 'serve', '--port', '0'], {
          cwd,
          env: { PATH: process.env.PATH ?? '', NODE_ENV: nodeEnv },
          encoding: 'utf8',
        });
        expect(result.status).toBe(2);
        expect(result.stderr).toContain('OTPKIT_KEYS must be set when NODE_ENV=production');
        expect(existsSync(join(cwd, 'data'))).toBe(false);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
  );

  it('refuses a token key that is not base64url of 32 bytes or more', async () => {
    const t = await freshSqlite();
    try {
      for (const bad of ['c2hvcnQ', `${'A'.repeat(40)}!!!!`, `${'A'.repeat(42)} ${'A'.repeat(3)}`]) {
        await expect(startServer(t, { OTPKIT_TOKEN_KEY: bad })).rejects.toThrow(
          'OTPKIT_TOKEN_KEY must be base64url of at least 32 bytes',
        );
      }
    } finally {
      await t.drop();
    }
  });

  it('refuses to start (exit 1, one line) when stored secrets or backup codes need a key the ring lacks, or a ring key is wrong', async () => {
    const t = await freshSqlite();
    const k1 = generateKeyRingEntry({ id: 'k1' });
    const k2 = generateKeyRingEntry({ id: 'k2' });
    const tokenKey = Buffer.alloc(32, 3).toString('base64url');
    const start = (keys: string) => startServer(t, { OTPKIT_KEYS: keys, OTPKIT_TOKEN_KEY: tokenKey });
    const first = await start(k1);
    const { id } = await first.service.register('gil', 'correct horse battery staple', { ip: null });
    const { secret } = await first.service.enroll(host(id), { ip: null });
    const totp = createTotp({ secret: base32Decode(secret) });
    await first.service.confirm(host(id), totp.generate(first.clock.now() / 1000), { ip: null });
    await first.close();
    try {
      await expect(start(k2)).rejects.toThrow('1 stored secrets are sealed under the key k1, which the key ring lacks');
      await expect(start(generateKeyRingEntry({ id: 'k1' }))).rejects.toThrow(
        'the key k1 in the key ring does not open the secrets sealed under k1',
      );
      // The binary: one line on stderr, exit status 1, no stack.
      const migrate = spawnSync(process.execPath, [BIN, 'migrate'], {
        env: { PATH: process.env.PATH ?? '', ...envFor(t, k2, tokenKey) },
        encoding: 'utf8',
      });
      expect(migrate.status).toBe(1);
      expect(migrate.stderr).toBe(
        'otpkit: OTPKIT_KEYS: 1 stored secrets are sealed under the key k1, which the key ring lacks\n',
      );

      // Rotation reseals the secret; the backup codes still need k1, and keys rotate says so.
      const rotating = await start(`${k2},${k1}`);
      const rotated = await admin(['keys', 'rotate'], {
        service: rotating.service,
        applied: [],
        close: rotating.close,
      });
      expect(rotated.stdout).toBe(
        'checked 1 secrets, resealed 1 under the current key\n' +
          'key k1: the unused backup codes of 1 users still depend on it; keep it in OTPKIT_KEYS until they make new codes\n',
      );
      // New backup codes (the user's own doing) free k1.
      rotating.clock.advance(30_000); // past the step whose code confirmed
      await rotating.service.rotateBackupCodes(host(id), totp.generate(rotating.clock.now() / 1000), { ip: null });
      await rotating.close();
      await (await start(k2)).close();
    } finally {
      await t.drop();
    }
  });

  it('refuses a ring that drops a key unused backup codes still need', async () => {
    const t = await freshSqlite();
    const k1 = generateKeyRingEntry({ id: 'k1' });
    const k2 = generateKeyRingEntry({ id: 'k2' });
    const tokenKey = Buffer.alloc(32, 4).toString('base64url');
    const start = (keys: string) => startServer(t, { OTPKIT_KEYS: keys, OTPKIT_TOKEN_KEY: tokenKey });
    const first = await start(k1);
    const { id } = await first.service.register('hal', 'correct horse battery staple', { ip: null });
    const { secret } = await first.service.enroll(host(id), { ip: null });
    await first.service.confirm(
      host(id),
      createTotp({ secret: base32Decode(secret) }).generate(first.clock.now() / 1000),
      {
        ip: null,
      },
    );
    await first.close();
    const rotating = await start(`${k2},${k1}`);
    await rotating.service.rotateKeys();
    await rotating.close();
    try {
      await expect(start(k2)).rejects.toThrow(
        'the unused backup codes of 1 users are hashed under the key k1, which the key ring lacks',
      );
    } finally {
      await t.drop();
    }
  });

  it.runIf(hasPostgres)(
    'two processes over one PostgreSQL accept a code exactly once among 50 racing logins',
    async () => {
      const t = await freshPostgres();
      try {
        const env = envFor(t, generateKeyRingEntry({ id: 'k1' }), Buffer.alloc(32, 7).toString('base64url'));
        const [a, b] = await Promise.all([serve(env), serve(env)]);
        const username = 'shared';
        const password = 'correct horse battery staple';
        expect((await api(a, '/api/auth/register', { username, password })).status).toBe(201);
        const token = (await api(b, '/api/auth/login', { username, password })).body.tokens.accessToken;
        const { secret } = (await api(a, '/api/totp/enroll', {}, token)).body;
        const totp = createTotp({ secret: base32Decode(secret!) });
        // Confirmed with this step's code, and the race is on the next step's: the server takes
        // either while its clock is within a step of ours, and the two never collide.
        const now = Date.now() / 1000;
        expect((await api(b, '/api/totp/confirm', { code: totp.generate(now) }, token)).status).toBe(200);
        const code = totp.generate(now + 30);
        const challenges = await Promise.all(
          Array.from(
            { length: 50 },
            async (_, i) => (await api(i % 2 ? a : b, '/api/auth/login', { username, password })).body.challenge,
          ),
        );
        const results = await Promise.all(
          challenges.map((challenge, i) => api(i % 2 ? b : a, '/api/auth/login/verify', { challenge, code })),
        );
        expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      } finally {
        await t.drop();
      }
    },
  );
});

async function admin(argv: string[], opened: Opened) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(argv, {
    stdout: (data) => {
      stdout += String(data);
    },
    stderr: (text) => {
      stderr += text;
    },
    stdoutIsTerminal: true,
    writePrivateFile: async () => undefined,
    nowSeconds: () => 0,
    randomBytes: (length: number) => new Uint8Array(randomBytes(length)),
    readStdin: async () => '',
    openService: async () => ({ ...opened, close: async () => undefined }),
    serve: async () => '',
  });
  return { status, stdout, stderr };
}

/** A user acting through an embedding app, which vouches for them (no otpkit session). */
const host = (userId: string) => ({ userId, sessionId: null, amr: null });

describe('admin commands', () => {
  it('lists users, unlocks, resets 2FA, rotates keys and migrates', async () => {
    const t = await freshSqlite();
    const s = await startServer(t);
    const opened = { service: s.service, applied: [], close: s.close };
    try {
      await s.service.register('carol', 'correct horse battery staple', { ip: null });
      const user = (await s.store.userByName('carol'))!;
      const { secret } = await s.service.enroll(host(user.id), { ip: null });
      await s.service.confirm(
        host(user.id),
        createTotp({ secret: base32Decode(secret) }).generate(s.clock.now() / 1000),
        {
          ip: null,
        },
      );
      // Ten wrong codes, settled as the service settles them: the tenth locks.
      const event = (type: 'second_factor_failed' | 'second_factor_locked') => ({
        id: randomUUID(),
        at: s.clock.now(),
        type,
        userId: user.id,
        ip: null,
        detail: null,
      });
      for (let i = 0; i < 10; i++) {
        const outcome = {
          passed: false as const,
          failed: event('second_factor_failed'),
          locked: event('second_factor_locked'),
        };
        expect(await s.store.settleSecondFactor({ userId: user.id, now: s.clock.now(), outcome })).not.toBe(false);
      }

      expect((await admin(['users', 'list'], opened)).stdout).toMatch(
        /^USERNAME\t2FA\tLOCKED\tACTIVE\tCREATED\ncarol\tactive\t2025-[^\t]+\tyes\t/,
      );
      expect((await admin(['users', 'deactivate', 'carol'], opened)).stdout).toMatch(/^deactivated carol/);
      expect((await admin(['users', 'list'], opened)).stdout).toMatch(/\tno \(since 2025-/);
      expect((await admin(['users', 'reactivate', 'carol'], opened)).status).toBe(0);
      expect((await s.store.userById(user.id))?.deactivatedAt).toBeNull();
      expect((await admin(['users', 'unlock', 'carol'], opened)).status).toBe(0);
      expect(await s.store.userById(user.id)).toMatchObject({
        failedAttempts: 0,
        lockedUntil: 0,
        lockedPermanently: false,
      });
      expect((await admin(['users', 'unlock', 'nobody'], opened)).stderr).toContain('USER_NOT_FOUND');

      const rotated = await admin(['keys', 'rotate'], opened);
      expect(rotated.stdout).toBe('checked 1 secrets, resealed 0 under the current key\n');
      expect(rotated.stderr).toContain('[##############################] 1/1');

      expect((await admin(['users', 'reset-2fa', 'carol'], opened)).status).toBe(0);
      const log = await admin(['audit', '--user', 'carol', '--json'], opened);
      const events = log.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['user_deactivated', 'two_factor_reset']));
      expect(events.every((e) => e.username === 'carol')).toBe(true);
      const text = await admin(['audit', '--type', 'two_factor_reset', '--since', '2000-01-01T00:00:00Z'], opened);
      expect(text.stdout).toMatch(/^\S+Z\ttwo_factor_reset\tcarol\t-\t\n$/);
      expect((await admin(['audit', '--since', 'last week'], opened)).stderr).toContain('INPUT_INVALID');
      expect((await s.service.status(host(user.id))).enabled).toBe(false);
      expect((await admin(['migrate'], opened)).stdout).toBe('the database is up to date\n');
      expect((await admin(['users', 'delete', 'carol'], opened)).status).toBe(2);
    } finally {
      await s.close();
      await t.drop();
    }
  });

  it('keys rotate reseals every secret under the new current key, and can run again', async () => {
    const t = await freshSqlite();
    const oldKey = generateKeyRingEntry({ id: 'k1' });
    const tokenKey = Buffer.alloc(32, 1).toString('base64url');
    const before = await startServer(t, { OTPKIT_KEYS: oldKey, OTPKIT_TOKEN_KEY: tokenKey });
    for (const name of ['dan', 'eve', 'fay']) {
      const { id } = await before.service.register(name, 'correct horse battery staple', { ip: null });
      await before.service.enroll(host(id), { ip: null });
    }
    await before.close();
    const after = await startServer(t, {
      OTPKIT_KEYS: `${generateKeyRingEntry({ id: 'k2' })},${oldKey}`,
      OTPKIT_TOKEN_KEY: tokenKey,
    });
    try {
      expect(await after.service.rotateKeys()).toEqual({ checked: 3, resealed: 3, backupCodesOnOldKeys: [] });
      expect(await after.service.rotateKeys()).toEqual({ checked: 3, resealed: 0, backupCodesOnOldKeys: [] });
      for (const f of await after.store.factorsAfter('', 10)) expect(f.sealedSecret.startsWith('v1.k2.')).toBe(true);
    } finally {
      await after.close();
      await t.drop();
    }
  });
});
