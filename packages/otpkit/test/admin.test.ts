// The admin API over HTTP on SQLite and the real PostgreSQL: the operator
// token (none configured: no routes; missing or wrong: one answer), users a
// page at a time and searched, one user's 2FA state, the actions on a user,
// the audit log filtered and paged, every admin action an audit event.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DATABASES, freshSqlite } from '../../../test/support/databases.js';
import { apiClient, PASSWORD } from './api.js';
import { HOSTS, serverPerSuite, startServer } from './server.js';

const ADMIN_TOKEN = randomBytes(32).toString('base64url');

describe.each(DATABASES)('admin API over %s', (_name, open) => {
  const { s } = serverPerSuite(open, { OTPKIT_ADMIN_TOKEN: ADMIN_TOKEN });
  const { post, get, call, signUp, withTwoFactor, signIn, challengeFor } = apiClient(() => s);
  const adminGet = (url: string) => get(url, ADMIN_TOKEN);
  const adminPost = (url: string, body: object) => post(url, body, ADMIN_TOKEN);

  it('refuses a missing, wrong, short, long or user token with one and the same answer', async () => {
    const user = await signUp();
    const answers = [];
    for (const authorization of [
      undefined,
      'Bearer ',
      `Bearer ${ADMIN_TOKEN.slice(0, -1)}x`, // right but for the last character
      `Bearer ${ADMIN_TOKEN.slice(0, 10)}`,
      `Bearer ${ADMIN_TOKEN}${ADMIN_TOKEN}`,
      `Basic ${ADMIN_TOKEN}`,
      `Bearer ${user.token}`,
    ]) {
      const r = await call('GET', '/api/admin/users', undefined, undefined, authorization ? { authorization } : {});
      answers.push({ status: r.status, body: r.body });
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    expect((await adminGet('/api/admin/users')).status).toBe(200);
  });

  it('lists users a page at a time, and searches by a part of the name', async () => {
    const prefix = `page${randomBytes(3).toString('hex')}`;
    for (const n of [1, 2, 3, 4, 5]) {
      expect((await post('/api/auth/register', { username: `${prefix}-${n}`, password: PASSWORD })).status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await adminGet(
        `/api/admin/users?search=${prefix.toUpperCase()}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.users.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.users.map((u: { username: string }) => u.username));
      cursor = page.body.nextCursor;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5].map((n) => `${prefix}-${n}`));
    expect((await adminGet('/api/admin/users?search=%25')).body.users).toEqual([]); // % is a character, not a wildcard
    expect((await adminGet('/api/admin/users?limit=0')).body.error.code).toBe('INPUT_INVALID');
    expect((await adminGet('/api/admin/users?cursor=!!')).body.error.code).toBe('INPUT_INVALID');
    expect((await adminGet('/api/admin/users?extra=1')).body.error.code).toBe('INPUT_INVALID');
  });

  it("shows one user's 2FA state, and unlocks, resets, deactivates, reactivates and revokes", async () => {
    const u = await withTwoFactor();
    const { token } = await signIn(u.username, u.secret);
    const challenge = await challengeFor(u.username);
    for (let i = 0; i < 3; i++) await post('/api/auth/login/verify', { challenge, code: '000000' });
    const state = await adminGet(`/api/admin/users/state?username=${u.username}`);
    expect(state.body).toMatchObject({
      user: { username: u.username, twoFactor: 'active', deactivatedAt: null },
      twoFactor: { enabled: true, backupCodesRemaining: 10, authenticators: [{ name: 'Authenticator' }] },
      trustedDevices: 0,
    });
    expect(state.body.twoFactor.failedAttempts).toBeGreaterThan(0);
    expect(JSON.stringify(state.body)).not.toContain(u.secret);
    expect((await adminGet('/api/admin/users/state?username=nobody-at-all')).body.error.code).toBe('USER_NOT_FOUND');

    expect((await adminPost('/api/admin/users/unlock', { username: u.username })).status).toBe(204);
    expect((await adminGet(`/api/admin/users/state?username=${u.username}`)).body.twoFactor.failedAttempts).toBe(0);
    expect((await get('/api/auth/me', token)).status).toBe(401); // an unlock ends the user's sessions

    expect((await adminPost('/api/admin/users/deactivate', { username: u.username })).status).toBe(204);
    expect((await post('/api/auth/login', { username: u.username, password: PASSWORD })).body.error.code).toBe(
      'ACCOUNT_DEACTIVATED',
    );
    expect((await adminPost('/api/admin/users/reactivate', { username: u.username })).status).toBe(204);
    const again = await signIn(u.username, u.secret);
    expect((await adminPost('/api/admin/users/revoke-sessions', { username: u.username })).status).toBe(204);
    expect((await get('/api/auth/me', again.token)).status).toBe(401);
    expect((await adminPost('/api/admin/users/revoke-devices', { username: u.username })).status).toBe(204);

    expect((await adminPost('/api/admin/users/reset-2fa', { username: u.username })).status).toBe(204);
    expect((await post('/api/auth/login', { username: u.username, password: PASSWORD })).body.status).toBe(
      'authenticated',
    );
    // One clock instant here, so events of the same millisecond are in id order: compare them sorted.
    const actions = (await adminGet(`/api/admin/audit?username=${u.username}&type=admin_action&limit=200`)).body.events;
    expect(actions.map((e: { detail: { action: string } }) => e.detail.action).sort()).toEqual([
      'GET /api/admin/users/state',
      'GET /api/admin/users/state',
      'POST /api/admin/users/deactivate',
      'POST /api/admin/users/reactivate',
      'POST /api/admin/users/reset-2fa',
      'POST /api/admin/users/revoke-devices',
      'POST /api/admin/users/revoke-sessions',
      'POST /api/admin/users/unlock',
    ]);
    expect(actions[0]).toMatchObject({ username: u.username, ip: expect.any(String), detail: { outcome: 'ok' } });
  });

  it('records failed admin requests too: a wrong token, an unknown user; refuses NUL characters with 400', async () => {
    const ghost = `GHOST-${randomBytes(3).toString('hex')}`;
    expect((await post('/api/admin/users/deactivate', { username: ghost }, 'not-the-token')).status).toBe(401);
    expect((await adminPost('/api/admin/users/deactivate', { username: ghost })).status).toBe(404);
    const events = (await adminGet('/api/admin/audit?type=admin_action&limit=200')).body.events as {
      detail: { action: string; outcome: string; username?: string };
    }[];
    const deactivations = events.filter((e) => e.detail.action === 'POST /api/admin/users/deactivate');
    expect(deactivations.map((e) => e.detail)).toEqual(
      expect.arrayContaining([
        { action: 'POST /api/admin/users/deactivate', outcome: 'UNAUTHENTICATED' },
        { action: 'POST /api/admin/users/deactivate', outcome: 'USER_NOT_FOUND', username: ghost.toLowerCase() },
      ]),
    );
    for (const path of ['/api/admin/users?search=%00', '/api/admin/audit?type=%00', '/api/admin/users?cursor=AA']) {
      const r = await adminGet(path);
      expect([r.status, r.body.error.code]).toEqual([400, 'INPUT_INVALID']);
    }
    const { token } = await signUp();
    const nul = await post('/api/auth/devices/revoke', { id: 'a\u0000b' }, token);
    expect([nul.status, nul.body.error.code]).toEqual([400, 'INPUT_INVALID']);
  });

  it('reads the audit log by user, type and time, a page at a time, each event once', async () => {
    const u = await withTwoFactor();
    const since = new Date(s.clock.now()).toISOString();
    s.clock.advance(1000);
    for (let i = 0; i < 5; i++) await post('/api/auth/login', { username: u.username, password: 'wrong password!' });
    const all = (await adminGet(`/api/admin/audit?username=${u.username}&limit=200`)).body.events;
    expect(all.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['user_registered', 'enrollment_started', 'enrollment_confirmed', 'login_failed']),
    );
    // Reading the log is itself logged (admin_action): page through one type, which reading adds none of.
    const failed = (await adminGet(`/api/admin/audit?username=${u.username}&type=login_failed&since=${since}`)).body;
    expect(failed.events).toHaveLength(5);
    expect(failed.events[0]).toMatchObject({
      type: 'login_failed',
      username: u.username,
      detail: { reason: 'credentials' },
    });
    const pages: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const query = `username=${u.username}&type=login_failed&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await adminGet(`/api/admin/audit?${query}`);
      pages.push(...page.body.events.map((e: { id: string }) => e.id));
      cursor = page.body.nextCursor;
    }
    expect(pages).toEqual(failed.events.map((e: { id: string }) => e.id));
    const before = await adminGet(`/api/admin/audit?username=${u.username}&type=login_failed&until=${since}`);
    expect(before.body.events).toEqual([]);
    for (const since of ['yesterday', '1', '2025-13-45x']) {
      expect((await adminGet(`/api/admin/audit?since=${since}`)).body.error.code).toBe('INPUT_INVALID');
    }
  });

  it('documents the admin routes in the OpenAPI document, under the operator scheme', async () => {
    const spec = JSON.parse((await s.app.inject('/docs/json')).body);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/admin/users', '/api/admin/audit']));
    expect(spec.paths['/api/admin/users'].get.security).toEqual([{ operator: [] }]);
    expect(spec.paths['/api/admin/users'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['search', 'cursor', 'limit']),
    );
  });
});

describe.each(HOSTS.filter(([, database]) => database === 'SQLite'))('admin API on %s', (host) => {
  it('does not exist without OTPKIT_ADMIN_TOKEN, and answers the same on every host with it', async () => {
    const t = await freshSqlite();
    const without = await startServer(t, {}, host);
    try {
      const r = await apiClient(without).get('/api/admin/users', ADMIN_TOKEN);
      expect([r.status, r.body.error.code]).toEqual([404, 'NOT_FOUND']);
    } finally {
      await without.close();
    }
    const withToken = await startServer(t, { OTPKIT_ADMIN_TOKEN: ADMIN_TOKEN }, host);
    try {
      const r = await apiClient(withToken).get('/api/admin/users?limit=1', ADMIN_TOKEN);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ users: [], nextCursor: null });
    } finally {
      await withToken.close();
      await t.drop();
    }
  });
});

it('refuses an OTPKIT_ADMIN_TOKEN shorter than 32 bytes at start', async () => {
  const t = await freshSqlite();
  try {
    await expect(startServer(t, { OTPKIT_ADMIN_TOKEN: 'short' })).rejects.toThrow(/OTPKIT_ADMIN_TOKEN must be/);
  } finally {
    await t.drop();
  }
});
