// What an operator's monitoring sees: GET /metrics (off unless asked, on the
// API's port or a port of its own, no label holding a name, an address or a
// secret) and GET /readyz (ready while the database answers, 503 coded when
// it does not; /healthz stays a liveness check).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyRingEntry } from '@otpkit/core';
import { describe, expect, it } from 'vitest';
import { freshPostgres, freshPostgresDatabase, freshSqlite, hasPostgres } from '../../../test/support/databases.js';
import { startListening } from '../../../test/support/listening.js';
import { compose } from '../src/main/compose.js';
import { readConfig } from '../src/main/config.js';
import { apiClient, PASSWORD } from './api.js';
import { freezableProxy } from './freezable-proxy.js';
import { startServer } from './server.js';

const BIN = fileURLToPath(new URL('../bin/otpkit.js', import.meta.url));

/** The value of one sample, e.g. sample(text, 'otpkit_x_total{step="login",outcome="wrong"}'); 0 if absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Events reach onEvent on a later turn of the event loop. */
const eventsDelivered = () => new Promise((resolve) => setTimeout(resolve, 20));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('GET /metrics', () => {
  it('is off unless asked: 404 in the coded shape', async () => {
    const t = await freshSqlite();
    const s = await startServer(t);
    try {
      const response = await s.inject({ url: '/metrics' });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such route' } });
      expect(s.metrics).toBeUndefined();
    } finally {
      await s.close();
      await t.drop();
    }
  });

  it('refuses an OTPKIT_METRICS that is not 0 or 1, and a port out of range', () => {
    expect(() => readConfig({ OTPKIT_METRICS: 'yes' }, '/')).toThrow('OTPKIT_METRICS must be 0 or 1');
    expect(() => readConfig({ OTPKIT_METRICS_PORT: '70000' }, '/')).toThrow('OTPKIT_METRICS_PORT must be');
    expect(readConfig({ OTPKIT_METRICS: '1' }, '/').metrics).toBe('api');
    expect(readConfig({ OTPKIT_METRICS: '1', OTPKIT_METRICS_PORT: '9464' }, '/').metrics).toEqual({ port: 9464 });
    expect(readConfig({}, '/').metrics).toBe(false);
  });

  it('counts requests by route template and status, second steps by outcome, lockouts and backup codes; no label holds a username, an address or a secret', async () => {
    const t = await freshSqlite();
    const s = await startServer(t, { OTPKIT_METRICS: '1', OTPKIT_TRUST_PROXY: '1', OTPKIT_LOCKOUT_ATTEMPTS: '3' });
    const api = apiClient(s);
    const names = new Set<string>();
    const addresses = new Set<string>();
    const addressOf = (i: number) => {
      const address = `203.0.113.${100 + i}`;
      addresses.add(address);
      return address;
    };
    const from = (i: number) => ({ 'x-forwarded-for': addressOf(i) });
    try {
      // A burst of sign-ups and sign-ins, right and wrong, each from an address of its own.
      for (let i = 0; i < 12; i++) {
        const username = `metricsuser${i}x${randomBytes(3).toString('hex')}`;
        names.add(username);
        expect(
          (await api.post('/api/auth/register', { username, password: PASSWORD }, undefined, from(i))).status,
        ).toBe(201);
        const login = await api.post('/api/auth/login', { username, password: PASSWORD }, undefined, from(i));
        expect(login.status).toBe(200);
        const wrong = await api.post('/api/auth/login', { username, password: 'not the password' }, undefined, from(i));
        expect(wrong.status).toBe(401);
        // Paths no route serves, with a name and an address in them.
        expect((await api.get(`/api/auth/${username}`)).status).toBe(404);
        expect((await api.get(`/${addressOf(i)}?user=${username}`)).status).toBe(404);
      }

      // Second steps: every outcome, on the sign-in and on the step-up check.
      const user = await api.withTwoFactor();
      names.add(user.username);
      const challenge = await api.challengeFor(user.username);
      const verify = (body: object) => api.post('/api/auth/login/verify', { challenge, ...body }, undefined, from(50));
      expect((await verify({ code: '12ab56' })).body.error.code).toBe('CODE_MALFORMED');
      expect((await verify({ code: api.codeAt(user.secret, api.step() - 1) })).body.error.code).toBe('CODE_REUSED');
      expect((await verify({ backupCode: user.backupCodes[0] })).status).toBe(200);
      const { token } = await api.signIn(user.username, user.secret);
      expect((await api.post('/api/totp/validate', { code: api.codeAt(user.secret) }, token)).status).toBe(200);
      const wrongCode = api.codeAt(user.secret, api.step() + 1000);
      for (let i = 0; i < 3; i++) {
        const again = await api.post('/api/totp/validate', { code: wrongCode }, token);
        expect(again.body.error.code).toBe('CODE_WRONG');
      }
      expect((await api.post('/api/totp/validate', { code: wrongCode }, token)).body.error.code).toBe(
        'SECOND_FACTOR_LOCKED',
      );
      await eventsDelivered();

      const scraped = await s.inject({ url: '/metrics' });
      expect(scraped.statusCode).toBe(200);
      expect(scraped.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(scraped.headers['cache-control']).toBe('no-store');
      const text = scraped.body;

      expect(sample(text, 'otpkit_http_requests_total{method="POST",route="/api/auth/register",status="201"}')).toBe(
        13,
      );
      expect(sample(text, 'otpkit_http_requests_total{method="POST",route="/api/auth/login",status="401"}')).toBe(12);
      expect(sample(text, 'otpkit_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(24);
      // 12 right and 12 wrong passwords, and the 2FA user's three sign-ins.
      const logins = 12 * 2 + 3;
      expect(sample(text, 'otpkit_http_request_duration_seconds_count{method="POST",route="/api/auth/login"}')).toBe(
        logins,
      );
      const checks = (step: string, outcome: string) =>
        sample(text, `otpkit_second_factor_checks_total{step="${step}",outcome="${outcome}"}`);
      expect(checks('login', 'malformed')).toBe(1);
      expect(checks('login', 'reused')).toBe(1);
      expect(checks('login', 'passed')).toBe(2);
      expect(checks('step_up', 'passed')).toBe(1);
      expect(checks('step_up', 'wrong')).toBe(3);
      expect(checks('step_up', 'locked')).toBe(1);
      expect(sample(text, 'otpkit_second_factor_lockouts_total')).toBe(1);
      expect(sample(text, 'otpkit_backup_codes_used_total')).toBe(1);
      // Each sign-up and each password check is one hash; none is waiting or running now.
      expect(sample(text, 'otpkit_password_hash_duration_seconds_count')).toBe(13 + logins);
      expect(sample(text, 'otpkit_password_hash_wait_seconds_count')).toBe(13 + logins);
      expect(sample(text, 'otpkit_password_hashes_waiting')).toBe(0);
      expect(sample(text, 'otpkit_password_hashes_running')).toBe(0);
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
      expect(text).not.toContain('otpkit_db_pool'); // SQLite has no pool

      // Labels come from fixed sets: route templates (or "unmatched"), methods, statuses, steps, outcomes.
      for (const [, labels] of text.matchAll(/^otpkit_\w+\{([^}]*)\}/gm)) {
        for (const [, name, value] of labels!.matchAll(/(\w+)="([^"]*)"/g)) {
          if (name === 'route') expect(value).toMatch(/^(\/[a-z/.*-]*|unmatched)$/);
          if (name === 'le') continue;
          expect(value, name).toMatch(/^[A-Za-z0-9_/.*-]+$/);
        }
      }
      for (const secret of [...names, ...addresses, ...api.secrets]) expect(text).not.toContain(secret);
    } finally {
      await s.close();
      await t.drop();
    }
  });

  it.runIf(hasPostgres)("shows PostgreSQL's pool: connections in use and idle, requests waiting", async () => {
    const t = await freshPostgres();
    const s = await startServer(t, { OTPKIT_METRICS: '1' });
    try {
      await apiClient(s).signUp();
      const text = (await s.inject({ url: '/metrics' })).body;
      expect(sample(text, 'otpkit_db_pool_connections_idle')).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/^otpkit_db_pool_connections_in_use \d+$/m);
      expect(sample(text, 'otpkit_db_pool_waiting')).toBe(0);
    } finally {
      await s.close();
      await t.drop();
    }
  });

  it('with OTPKIT_METRICS_PORT, serves /metrics on that port alone, at HOST (127.0.0.1 by default)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'otpkit-metrics-'));
    try {
      const port = await freePort();
      const env = {
        PATH: process.env.PATH ?? '',
        LOG_LEVEL: 'warn',
        OTPKIT_SCRYPT_LOG2N: '10',
        OTPKIT_METRICS_PORT: String(port),
      };
      const { child, base } = await startListening(BIN, ['serve', '--port', '0'], { env, cwd });
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect((await fetch(`${base}/metrics`)).status).toBe(404);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('otpkit_http_requests_total{method="GET",route="/readyz",status="200"} 1');
      const other = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(other.status).toBe(404);
      expect(await other.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such route' } });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('GET /readyz', () => {
  it('answers ready while SQLite answers, 503 DATABASE_UNAVAILABLE with Retry-After once it is gone; /healthz stays 200', async () => {
    const t = await freshSqlite();
    const s = await startServer(t);
    try {
      const ready = await s.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ status: 'ready' });
      expect(ready.headers['cache-control']).toBe('no-store');
      await s.db.close();
      const gone = await s.inject({ url: '/readyz' });
      expect(gone.statusCode).toBe(503);
      expect(gone.headers['retry-after']).toBe('5');
      expect(gone.headers['cache-control']).toBe('no-store');
      expect(gone.json().error.code).toBe('DATABASE_UNAVAILABLE');
      expect((await s.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await s.close();
      await t.drop();
    }
  });

  it.runIf(hasPostgres)(
    'follows PostgreSQL: 503 while the link is frozen or the server refuses, ready again once it answers',
    async () => {
      const database = await freshPostgresDatabase();
      const target = new URL(database.url);
      const proxy = await freezableProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const url = new URL(database.url);
      url.port = String(proxy.port);
      const config = readConfig(
        {
          OTPKIT_DATABASE_URL: url.href,
          OTPKIT_KEYS: generateKeyRingEntry({ id: 'k1' }),
          OTPKIT_TOKEN_KEY: randomBytes(32).toString('base64url'),
          OTPKIT_DB_CONNECT_TIMEOUT_MS: '500',
          OTPKIT_DB_STATEMENT_TIMEOUT_MS: '500',
        },
        '/',
      );
      const composed = await compose(config, { say: () => undefined });
      const readyz = () => composed.app.inject({ url: '/readyz' });
      try {
        expect((await readyz()).statusCode).toBe(200);
        proxy.freeze();
        const started = Date.now();
        const frozen = await readyz();
        expect(frozen.statusCode).toBe(503);
        expect(frozen.json().error.code).toBe('DATABASE_UNAVAILABLE');
        expect(frozen.headers['retry-after']).toBe('5');
        expect(Date.now() - started).toBeLessThan(5_000); // within the database timeouts
        proxy.thaw();
        await expect.poll(async () => (await readyz()).statusCode, { timeout: 5_000 }).toBe(200);
        proxy.close(); // connections dropped, the port refuses
        const refused = await readyz();
        expect(refused.statusCode).toBe(503);
        expect(refused.json().error.code).toBe('DATABASE_UNAVAILABLE');
      } finally {
        await composed.close();
        proxy.close();
        await database.drop();
      }
    },
  );
});
