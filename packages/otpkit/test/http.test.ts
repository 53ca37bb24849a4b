// Every route of the HTTP API, success and failure, on every host (the
// standalone Fastify app, Express middleware, the Fetch handler) over SQLite,
// and Fastify over the real PostgreSQL; then the races, the attempt budget, a
// database dump and the logs, looking for anything secret.

import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { base32Decode, createHotp } from '@otpkit/core';
import { describe, expect, it } from 'vitest';
import { DATABASES, freshSqlite, POSTGRES_URL } from '../../../test/support/databases.js';
import { buildApp } from '../src/http/app.js';
import { apiClient, PASSWORD } from './api.js';
import { HOSTS, serverPerSuite, startServer } from './server.js';

describe.each(HOSTS)('HTTP API on %s over %s', (host, _database, open) => {
  const { s, t } = serverPerSuite(open, {}, host);
  /** Everything secret the tests handle: none of it may reach a log or a dump. */
  const secrets = new Set<string>([PASSWORD]);

  const { post, get, step, codeAt, signUp, withTwoFactor, challengeFor, challengesFor } = apiClient(() => s, secrets);

  it('registers, refusing taken and invalid names and short passwords', async () => {
    const r = await post('/api/auth/register', { username: '  Ada.Lovelace@Example.com ', password: PASSWORD });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ username: 'ada.lovelace@example.com', twoFactorEnabled: false });
    expect(
      (await post('/api/auth/register', { username: 'ADA.LOVELACE@example.com', password: PASSWORD })).body.error.code,
    ).toBe('USERNAME_TAKEN');
    expect((await post('/api/auth/register', { username: 'has space', password: PASSWORD })).body.error.code).toBe(
      'INPUT_INVALID',
    );
    expect((await post('/api/auth/register', { username: 'bob', password: 'short' })).body.error.code).toBe(
      'INPUT_INVALID',
    );
  });

  it('logs in without 2FA; unknown users and wrong passwords get the same answer', async () => {
    const { username, token } = await signUp();
    expect((await get('/api/auth/me', token)).body).toMatchObject({ username, twoFactorEnabled: false });
    const wrong = await post('/api/auth/login', { username, password: 'wrong password!' });
    const unknown = await post('/api/auth/login', { username: 'nobody-here', password: 'wrong password!' });
    expect(wrong.status).toBe(401);
    expect(unknown).toEqual({ ...wrong, headers: unknown.headers });
  });

  it('refuses missing, malformed and foreign tokens', async () => {
    expect((await get('/api/auth/me')).body.error.code).toBe('UNAUTHENTICATED');
    expect((await get('/api/auth/me', 'not.a.jwt')).body.error.code).toBe('TOKEN_INVALID');
    const { username } = await withTwoFactor();
    const challenge = await challengeFor(username);
    expect((await get('/api/auth/me', challenge)).status).toBe(401); // a challenge is never an access token
    expect((await get('/api/totp/status', challenge)).status).toBe(401);
  });

  it('enrolls: pending shows the same secret again; a wrong code does not confirm; backup codes come once', async () => {
    const { token } = await signUp();
    expect((await post('/api/totp/confirm', { code: '123456' }, token)).body.error.code).toBe('ENROLLMENT_NOT_STARTED');
    const first = await post('/api/totp/enroll', {}, token);
    expect(first.status).toBe(200);
    expect(first.body.uri).toMatch(/^otpauth:\/\/totp\/otpkit:user\d+-\w+\?secret=[A-Z2-7]{32}&issuer=otpkit$/);
    expect(first.body.qrSvg).toMatch(/^<svg/);
    expect(first.body.qrPng).toMatch(/^data:image\/png;base64,/);
    expect(first.body.secretGrouped.replaceAll(' ', '')).toBe(first.body.secret);
    expect((await get('/api/totp/enroll', token)).body.secret).toBe(first.body.secret);
    expect((await get('/api/totp/status', token)).body).toMatchObject({ enabled: false, pending: true });
    const wrongCode = codeAt(first.body.secret, step() + 5);
    expect((await post('/api/totp/confirm', { code: wrongCode }, token)).body.error.code).toBe('CODE_WRONG');
    expect((await post('/api/totp/confirm', { code: '12345' }, token)).body.error.code).toBe('CODE_MALFORMED');
    const confirmed = await post('/api/totp/confirm', { code: codeAt(first.body.secret) }, token);
    expect(confirmed.body.backupCodes).toHaveLength(10);
    expect(confirmed.body.authenticator).toMatchObject({ id: first.body.authenticatorId, name: 'Authenticator' });
    // Nothing is pending any more: a second confirm has nothing to turn on.
    expect((await post('/api/totp/confirm', { code: codeAt(first.body.secret) }, token)).body.error.code).toBe(
      'ENROLLMENT_NOT_STARTED',
    );
    expect((await get('/api/totp/status', token)).body).toMatchObject({
      enabled: true,
      pending: false,
      backupCodesRemaining: 10,
      authenticators: [{ id: first.body.authenticatorId, name: 'Authenticator', digits: 6, periodSeconds: 30 }],
    });
  });

  it('signs in in two steps, with a TOTP code or a backup code, each usable once', async () => {
    const { username, secret, backupCodes } = await withTwoFactor();
    const code = codeAt(secret);
    const challenge = await challengeFor(username);
    const tokens = await post('/api/auth/login/verify', { challenge, code });
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 600 });
    expect((await get('/api/auth/me', tokens.body.accessToken)).body.twoFactorEnabled).toBe(true);
    expect((await post('/api/auth/login/verify', { challenge, code })).body.error.code).toBe('CHALLENGE_INVALID');
    expect(
      (await post('/api/auth/login/verify', { challenge: await challengeFor(username), code })).body.error.code,
    ).toBe('CODE_REUSED');

    const pasted = ` ${backupCodes[2]!.toLowerCase().replaceAll('-', ' ')} `;
    expect(
      (await post('/api/auth/login/verify', { challenge: await challengeFor(username), backupCode: pasted })).status,
    ).toBe(200);
    expect(
      (await post('/api/auth/login/verify', { challenge: await challengeFor(username), backupCode: backupCodes[2] }))
        .body.error.code,
    ).toBe('CODE_REUSED');
    expect(
      (
        await post('/api/auth/login/verify', {
          challenge: await challengeFor(username),
          code,
          backupCode: backupCodes[3],
        })
      ).status,
    ).toBe(400);
  });

  it('gives a challenge 5 attempts and 5 minutes', async () => {
    const { username, secret } = await withTwoFactor();
    const challenge = await challengeFor(username);
    for (let i = 0; i < 5; i++) {
      expect(
        (await post('/api/auth/login/verify', { challenge, code: codeAt(secret, step() + 7) })).body.error.code,
      ).toBe('CODE_WRONG');
    }
    expect((await post('/api/auth/login/verify', { challenge, code: codeAt(secret) })).body.error.code).toBe(
      'CHALLENGE_INVALID',
    );
    const later = await challengeFor(username);
    s.clock.advance(5 * 60_000);
    expect((await post('/api/auth/login/verify', { challenge: later, code: codeAt(secret) })).body.error.code).toBe(
      'CHALLENGE_INVALID',
    );
    // Those wrong codes count against the account: a success resets them.
    expect(
      (await post('/api/auth/login/verify', { challenge: await challengeFor(username), code: codeAt(secret) })).status,
    ).toBe(200);
  });

  it('rotates refresh tokens; a reused one revokes the session; logout revokes', async () => {
    const { username, secret } = await withTwoFactor();
    const tokens = (
      await post('/api/auth/login/verify', { challenge: await challengeFor(username), code: codeAt(secret) })
    ).body;
    const next = await post('/api/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(next.status).toBe(200);
    expect(next.body.refreshToken).not.toBe(tokens.refreshToken);
    expect((await get('/api/auth/me', next.body.accessToken)).status).toBe(200);
    expect((await post('/api/auth/refresh', { refreshToken: tokens.refreshToken })).body.error.code).toBe(
      'TOKEN_INVALID',
    );
    expect((await get('/api/auth/me', next.body.accessToken)).status).toBe(401); // the whole family is gone
    expect((await post('/api/auth/refresh', { refreshToken: next.body.refreshToken })).status).toBe(401);

    const other = (
      await post('/api/auth/login/verify', {
        challenge: await challengeFor(username),
        backupCode: (await withTwoFactor()).backupCodes[0],
      })
    ).status;
    expect(other).toBe(401); // another user's backup code is wrong here
    s.clock.advance(30_000);
    const fresh = (
      await post('/api/auth/login/verify', { challenge: await challengeFor(username), code: codeAt(secret) })
    ).body;
    expect((await post('/api/auth/logout', {}, fresh.accessToken)).status).toBe(204);
    expect((await get('/api/auth/me', fresh.accessToken)).status).toBe(401);
    expect((await post('/api/auth/refresh', { refreshToken: fresh.refreshToken })).status).toBe(401);
  });

  it('gives browsers the refresh token as an HttpOnly, SameSite=Strict cookie, only when asked', async () => {
    const { username, secret } = await withTwoFactor();
    const browser = async (url: string, body: object, headers: Record<string, string> = {}) => {
      const response = await s.inject({ method: 'POST', url, payload: body, headers });
      const cookie = String(response.headers['set-cookie'] ?? '');
      const token = /^otpkit_refresh=([^;]*)/.exec(cookie)?.[1];
      if (token) secrets.add(token);
      const json = response.json();
      if (json.accessToken) secrets.add(json.accessToken);
      return { status: response.statusCode, body: json, cookie, token };
    };
    const asked = { 'x-otpkit-session': 'cookie' };
    const challenge = await challengeFor(username);
    const login = await browser('/api/auth/login/verify', { challenge, code: codeAt(secret) }, asked);
    expect(login.status).toBe(200);
    expect(login.body.refreshToken).toBeUndefined(); // no script sees it
    expect(login.cookie).toMatch(/^otpkit_refresh=[\w-]{40,}; Path=\/api\/auth; HttpOnly; SameSite=Strict$/);

    // The cookie alone is not enough: a cross-site form cannot send the header.
    const cookie = { cookie: `theme=dark; otpkit_refresh=${login.token}` };
    expect((await browser('/api/auth/refresh', {}, cookie)).body.error.code).toBe('INPUT_INVALID');
    expect((await browser('/api/auth/refresh', {}, asked)).body.error.code).toBe('TOKEN_INVALID');
    const renewed = await browser('/api/auth/refresh', {}, { ...cookie, ...asked });
    expect(renewed.status).toBe(200);
    expect(renewed.token).not.toBe(login.token); // rotated
    expect((await get('/api/auth/me', renewed.body.accessToken)).status).toBe(200);

    const out = await s.inject({
      method: 'POST',
      url: '/api/auth/logout',
      headers: { ...asked, authorization: `Bearer ${renewed.body.accessToken}` },
    });
    expect(out.statusCode).toBe(204);
    expect(out.headers['set-cookie']).toMatch(/^otpkit_refresh=; .*Max-Age=0$/);
    const after = await browser('/api/auth/refresh', {}, { cookie: `otpkit_refresh=${renewed.token}`, ...asked });
    expect(after.status).toBe(401);
  });

  it('validates a code for a signed-in user, rotates backup codes and disables 2FA with a code', async () => {
    const { username, token, secret, backupCodes } = await withTwoFactor();
    expect((await post('/api/totp/validate', { code: codeAt(secret) }, token)).body).toEqual({
      valid: true,
      method: 'totp',
    });
    expect((await post('/api/totp/validate', { code: codeAt(secret) }, token)).body.error.code).toBe('CODE_REUSED');
    expect((await post('/api/totp/validate', { backupCode: backupCodes[0] }, token)).body).toEqual({
      valid: true,
      method: 'backup_code',
    });
    expect((await get('/api/totp/status', token)).body.backupCodesRemaining).toBe(9);
    s.clock.advance(30_000);
    const rotated = await post('/api/totp/backup-codes', { code: codeAt(secret) }, token);
    expect(rotated.body.backupCodes).toHaveLength(10);
    expect((await post('/api/totp/validate', { backupCode: backupCodes[1] }, token)).body.error.code).toBe(
      'CODE_WRONG',
    );
    expect((await post('/api/totp/disable', {}, token)).status).toBe(400);
    expect((await post('/api/totp/disable', { backupCode: rotated.body.backupCodes[4] }, token)).status).toBe(204);
    expect((await get('/api/totp/status', token)).body).toMatchObject({ enabled: false, pending: false });
    expect((await post('/api/auth/login', { username, password: PASSWORD })).body.status).toBe('authenticated');
    expect((await post('/api/totp/validate', { code: codeAt(secret) }, token)).body.error.code).toBe(
      'TWO_FACTOR_NOT_ENABLED',
    );
  });

  it('locks the second factor after 10 wrong codes with 429 and Retry-After, across challenges', async () => {
    const { username, token, secret } = await withTwoFactor();
    for (let i = 0; i < 10; i++) {
      expect((await post('/api/totp/validate', { code: codeAt(secret, step() + 9) }, token)).status).toBe(401);
    }
    const locked = await post('/api/auth/login/verify', {
      challenge: await challengeFor(username),
      code: codeAt(secret),
    });
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('SECOND_FACTOR_LOCKED');
    expect(locked.headers['retry-after']).toBe('900');
    expect((await get('/api/totp/status', token)).body.locked).toBe(true);
    s.clock.advance(15 * 60_000);
    expect(
      (await post('/api/auth/login/verify', { challenge: await challengeFor(username), code: codeAt(secret) })).status,
    ).toBe(200);
  });

  it('holds exactly once under races: one code by 50 parallel logins, one backup code by 30', async () => {
    const { username, secret, backupCodes } = await withTwoFactor();
    const challenges = await challengesFor(username, 50);
    const code = codeAt(secret);
    const results = await Promise.all(
      challenges.map((challenge) => post('/api/auth/login/verify', { challenge, code })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    // The losers were either evaluated and found reused, or, once ten had
    // spent the attempt budget, refused before being looked at.
    for (const r of results.filter((r) => r.status !== 200))
      expect(['CODE_REUSED', 'SECOND_FACTOR_LOCKED']).toContain(r.body.error.code);

    // Losers that claimed after the winner reset the budget count again, so the
    // race may end with the account locked for 15 minutes: wait that out.
    s.clock.advance(15 * 60_000);
    const more = await challengesFor(username, 30);
    const uses = await Promise.all(
      more.map((challenge) => post('/api/auth/login/verify', { challenge, backupCode: backupCodes[5] })),
    );
    expect(uses.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it('evaluates no more than the budget of a burst of 100 wrong codes, and the lock holds', async () => {
    const { token, secret } = await withTwoFactor();
    const wrong = codeAt(secret, step() + 9);
    const burst = await Promise.all(
      Array.from({ length: 100 }, () => post('/api/totp/validate', { code: wrong }, token)),
    );
    expect(burst.filter((r) => r.status === 401)).toHaveLength(10);
    expect(burst.filter((r) => r.status === 429)).toHaveLength(90);
    expect((await post('/api/totp/validate', { code: codeAt(secret) }, token)).status).toBe(429);
    const events = await s.store.audit();
    expect(events.filter((e) => e.type === 'second_factor_locked').length).toBeGreaterThan(0);
  });

  it('holds the budget at sign-in too: 100 wrong codes on 100 challenges, 10 evaluated; a malformed one costs nothing', async () => {
    const { username, secret } = await withTwoFactor();
    const malformed = await post('/api/auth/login/verify', { challenge: await challengeFor(username), code: '12345' });
    expect(malformed.body.error.code).toBe('CODE_MALFORMED');
    const challenges = await challengesFor(username, 100);
    const wrong = codeAt(secret, step() + 9);
    const burst = await Promise.all(
      challenges.map((challenge) => post('/api/auth/login/verify', { challenge, code: wrong })),
    );
    expect(burst.filter((r) => r.status === 401)).toHaveLength(10);
    expect(burst.filter((r) => r.status === 429)).toHaveLength(90);
    const right = await post('/api/auth/login/verify', {
      challenge: await challengeFor(username),
      code: codeAt(secret),
    });
    expect(right.body.error.code).toBe('SECOND_FACTOR_LOCKED');
  });

  it('answers bad input with a 4xx and a coded error, never a 500', async () => {
    const { token, secret } = await withTwoFactor();
    const raw = (payload: string, contentType = 'application/json') =>
      s.inject({ method: 'POST', url: '/api/auth/login', payload, headers: { 'content-type': contentType } });
    const cases: [Promise<{ statusCode: number; body: string }>, number, string][] = [
      [raw('{"username": "a", '), 400, 'BODY_INVALID'],
      [raw('username=a&password=b', 'application/x-www-form-urlencoded'), 415, 'MEDIA_TYPE_UNSUPPORTED'],
      [raw(JSON.stringify({ username: 'a', password: 'x'.repeat(20_000) })), 413, 'BODY_TOO_LARGE'],
      [raw(JSON.stringify({ username: 42, password: PASSWORD })), 400, 'INPUT_INVALID'],
      [raw(JSON.stringify({ username: 'a', password: PASSWORD, admin: true })), 400, 'INPUT_INVALID'],
      [raw(JSON.stringify({ username: 'u'.repeat(5000), password: PASSWORD })), 400, 'INPUT_INVALID'],
      [raw('null'), 400, 'INPUT_INVALID'],
    ];
    for (const [pending, status, code] of cases) {
      const response = await pending;
      expect(response.statusCode, response.body).toBe(status);
      expect(JSON.parse(response.body).error.code).toBe(code);
    }
    const fullWidth = [...codeAt(secret)].map((d) => String.fromCharCode(0xff10 + Number(d))).join('');
    expect((await post('/api/totp/validate', { code: fullWidth }, token)).body.error.code).toBe('CODE_MALFORMED');
    expect((await post('/api/totp/validate', { code: 123456 }, token)).body.error.code).toBe('INPUT_INVALID');
    expect((await get('/api/nothing')).body.error.code).toBe('NOT_FOUND');
  });

  it('refuses usernames with control or invisible characters (zero-width, bidi overrides)', async () => {
    for (const username of ['ad\u200bmin', 'ad\u202emin', 'ad\u2066min', 'ad\u0007min', 'ad\u00admin', 'ad\ufeffmin']) {
      const r = await post('/api/auth/register', { username, password: PASSWORD });
      expect(r.status, JSON.stringify(username)).toBe(400);
      expect(r.body.error.code).toBe('INPUT_INVALID');
    }
    expect((await post('/api/auth/register', { username: 'zoë.ñandú@example.com', password: PASSWORD })).status).toBe(
      201,
    );
  });

  it('tells caches to keep nothing that carries a token, a secret or codes; security headers everywhere', async () => {
    const { token, refreshToken } = await signUp();
    const responses = [
      await post('/api/auth/refresh', { refreshToken }),
      await post('/api/totp/enroll', {}, token),
      await get('/api/auth/me', token),
      await post('/api/auth/login', { username: 'nobody', password: PASSWORD }),
    ];
    for (const r of responses) {
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['referrer-policy']).toBe('no-referrer');
    }
  });

  it('keeps secrets out of a database dump and out of the logs', async () => {
    await withTwoFactor();
    const dump =
      t.db.dialect === 'sqlite'
        ? execFileSync('sqlite3', [t.url, '.dump'], { encoding: 'utf8', maxBuffer: 256 << 20 })
        : execFileSync('pg_dump', ['--schema', t.schema!, '--data-only', '--inserts', POSTGRES_URL], {
            encoding: 'utf8',
            maxBuffer: 256 << 20,
          });
    expect(dump).toContain('INSERT INTO'); // the dump did capture data
    const logs = s.logs.join('\n');
    expect(logs).toContain('"audit"');
    for (const secret of secrets) {
      const forms = [secret, secret.toLowerCase()];
      if (/^[A-Z2-7]{32}$/.test(secret)) {
        const bytes = Buffer.from(base32Decode(secret));
        forms.push(
          bytes.toString('hex'),
          bytes.toString('base64'),
          bytes.toString('base64url'),
          bytes.toString('latin1'),
        );
      }
      if (/^[A-Z0-9]{6}-/.test(secret)) forms.push(secret.replaceAll('-', ''));
      for (const form of forms) {
        // A TOTP code is a few digits: look for it standing alone, not inside a timestamp, a hex id or a hash.
        const found = /^\d+$/.test(form)
          ? (text: string) => new RegExp(`(?<![0-9A-Za-z_-])${form}(?![0-9A-Za-z_-])`).test(text)
          : (text: string) => text.includes(form);
        expect(found(dump), 'dump').toBe(false);
        expect(found(logs), 'logs').toBe(false);
      }
    }
  });
});

describe('the standalone server (Fastify)', () => {
  const { s } = serverPerSuite(freshSqlite);
  const { get } = apiClient(() => s);

  it('serves the web UI with a policy that allows nothing but this server', async () => {
    for (const [url, type] of [
      ['/', 'text/html'],
      ['/app.js', 'text/javascript'],
      ['/style.css', 'text/css'],
    ] as const) {
      const response = await s.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain(type);
      expect(response.headers['content-security-policy']).toContain("default-src 'none'; script-src 'self'");
      expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(response.body).not.toMatch(/https?:\/\/(?!localhost)/); // no CDN, no outside fonts
    }
  });

  it('serves health, an OpenAPI document and a docs page', async () => {
    expect((await get('/healthz')).body).toEqual({ status: 'ok' });
    const spec = await s.app.inject('/docs/json');
    expect(JSON.parse(spec.body).paths['/api/auth/login/verify']).toBeDefined();
    expect((await s.app.inject('/docs/')).statusCode).toBe(200);
  });

  it('sends the security headers with the web UI and the docs; the docs load nothing from another host', async () => {
    for (const url of ['/docs/', '/docs/json', '/', '/app.js']) {
      const r = await s.app.inject({ method: 'GET', url });
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
      expect(r.headers['x-frame-options'], url).toBe('DENY');
      expect(r.headers['referrer-policy'], url).toBe('no-referrer');
    }
    const docs = await s.app.inject({ method: 'GET', url: '/docs/static/index.html' });
    expect(docs.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(docs.headers['content-security-policy']).not.toMatch(/https?:/);
  });
});

describe('the standalone server, attacked', () => {
  const { s } = serverPerSuite(freshSqlite, { OTPKIT_TRUST_PROXY: '1' });

  it('keeps no-store however the path is spelled', async () => {
    const spelled = await s.app.inject({
      method: 'POST',
      url: '/%61pi/auth/login',
      payload: { username: 'x', password: 'y' },
    });
    expect(spelled.statusCode).toBe(401);
    expect(spelled.headers['cache-control']).toBe('no-store');
  });

  it('answers paths that climb or do not decode in the coded shape: never a 500, never the URL echoed', async () => {
    for (const url of [
      '/docs/static/%2e%2e/x',
      '/docs/static/.%2e/.%2e/package.json',
      '/api/auth/%ZZ',
      '/docs/static/%00',
    ]) {
      const r = await s.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBeLessThan(500);
      expect(Object.keys(JSON.parse(r.body)), url).toEqual(['error']);
      expect(r.body, url).not.toContain('%');
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
    }
    expect(s.logs.join('\n')).not.toContain('"level":50'); // nothing logged as our fault
  });

  it('takes no text that is not an address from X-Forwarded-For, even from a trusted proxy', async () => {
    await s.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      remoteAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': '<script>alert(1)</script>' },
      payload: { username: 'nobody', password: 'wrong password!' },
    });
    const failed = (await s.store.audit()).filter((e) => e.type === 'login_failed');
    expect(failed.length).toBeGreaterThan(0);
    for (const e of failed) expect(e.ip).toBe('127.0.0.1');
  });

  it('answers a request whose body never comes with 408, and closes it', async () => {
    const app = await buildApp({ service: s.service, requestTimeoutMs: 300 });
    try {
      const { port } = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect({ port: Number(port), host: '127.0.0.1' }, () =>
          socket.write('POST /api/auth/logout HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n{'),
        );
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk;
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('REQUEST_TIMEOUT');
    } finally {
      await app.close();
    }
  });
});

describe('requests Node cannot parse', () => {
  it('answer a header too large (431) and broken framing (400) in the coded error shape', async () => {
    const t = await freshSqlite();
    const s = await startServer(t);
    try {
      const address = await s.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = new URL(address);
      const raw = (request: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect({ port: Number(port), host: '127.0.0.1' }, () => socket.end(request));
          let answer = '';
          socket.on('data', (chunk) => {
            answer += chunk;
          });
          socket.on('close', () => resolve(answer));
          socket.on('error', reject);
        });
      const tooLarge = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(tooLarge).toMatch(/^HTTP\/1\.1 431 /);
      expect(JSON.parse(tooLarge.slice(tooLarge.indexOf('\r\n\r\n') + 4)).error.code).toBe('HEADERS_TOO_LARGE');
      const broken = await raw(
        'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      );
      expect(broken).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(broken.slice(broken.indexOf('\r\n\r\n') + 4)).error.code).toBe('REQUEST_MALFORMED');
    } finally {
      await s.close();
      await t.drop();
    }
  });
});

describe('embedding and throttling', () => {
  it('the TOTP routes work inside another Fastify app that says who the user is', async () => {
    const { default: Fastify } = await import('fastify');
    const { totpRoutes } = await import('otpkit/server');
    const t = await DATABASES[0]![1]();
    const s = await startServer(t);
    const host = Fastify();
    await host.register(totpRoutes, {
      prefix: '/2fa',
      service: s.service,
      currentUser: async (request) => {
        const id = request.headers['x-user'] as string | undefined;
        if (id) await s.service.ensureUser(id, `host-${id}`);
        return id;
      },
    });
    try {
      expect((await host.inject({ method: 'GET', url: '/2fa/status' })).statusCode).toBe(401);
      const enrolled = await host.inject({ method: 'POST', url: '/2fa/enroll', headers: { 'x-user': 'u-42' } });
      expect(enrolled.statusCode).toBe(200);
      const { secret, uri } = JSON.parse(enrolled.body);
      expect(uri).toContain('otpkit:host-u-42');
      const code = createHotp({ secret: base32Decode(secret) }).generate(Math.floor(s.clock.now() / 30_000));
      const confirmed = await host.inject({
        method: 'POST',
        url: '/2fa/confirm',
        headers: { 'x-user': 'u-42' },
        payload: { code },
      });
      expect(JSON.parse(confirmed.body).backupCodes).toHaveLength(10);
      expect(
        JSON.parse((await host.inject({ method: 'GET', url: '/2fa/status', headers: { 'x-user': 'u-42' } })).body)
          .enabled,
      ).toBe(true);
    } finally {
      await host.close();
      await s.close();
      await t.drop();
    }
  });

  it('throttles the auth routes per IP with 429 and Retry-After', async () => {
    const t = await DATABASES[0]![1]();
    const s = await startServer(t, { OTPKIT_RATE_LIMIT: '3' });
    try {
      const attempt = () =>
        s.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'x', password: 'y' } });
      for (let i = 0; i < 3; i++) expect((await attempt()).statusCode).toBe(401);
      const limited = await attempt();
      expect(limited.statusCode).toBe(429);
      expect(JSON.parse(limited.body).error.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect((await s.app.inject('/healthz')).statusCode).toBe(200);
    } finally {
      await s.close();
      await t.drop();
    }
  });
});
