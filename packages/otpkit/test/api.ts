// An HTTP client for tests of a TestServer, on whichever host it runs: JSON in and
// out, and the steps most tests start from (sign up, turn 2FA on, get a
// login challenge). Everything secret it sees goes into `secrets`, for the
// tests that search logs and dumps.

import { base32Decode, createHotp } from '@otpkit/core';
import { expect } from 'vitest';
import type { Injected, TestServer } from './server.js';

const PASSWORD = 'correct horse battery staple';

/** `server`: the server to call, looked up on each call (tests often start it in beforeAll). */
function apiClient(server: TestServer | (() => TestServer), secrets = new Set<string>([PASSWORD])) {
  const s =
    typeof server === 'function'
      ? {
          inject: (request: Injected) => server().inject(request),
          get clock() {
            return server().clock;
          },
        }
      : server;
  async function call(
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
    token?: string,
    headers: Record<string, string> = {},
  ) {
    const response = await s.inject({
      method,
      url,
      ...(body === undefined ? {} : { payload: body as object }),
      headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    const json = response.body ? JSON.parse(response.body) : undefined;
    for (const key of ['accessToken', 'refreshToken', 'challenge', 'secret']) if (json?.[key]) secrets.add(json[key]);
    if (json?.tokens)
      for (const v of Object.values(json.tokens)) if (typeof v === 'string' && v.length > 20) secrets.add(v);
    if (json?.backupCodes) for (const c of json.backupCodes) secrets.add(c);
    return { status: response.statusCode, body: json, headers: response.headers };
  }
  const post = (url: string, body?: unknown, token?: string, headers?: Record<string, string>) =>
    call('POST', url, body ?? {}, token, headers);
  const get = (url: string, token?: string) => call('GET', url, undefined, token);

  const step = () => Math.floor(s.clock.now() / 1000 / 30);
  function codeAt(secret: string, counter = step()) {
    const code = createHotp({ secret: base32Decode(secret) }).generate(counter);
    secrets.add(code);
    return code;
  }

  let counter = 0;
  async function signUp(): Promise<{ username: string; token: string; refreshToken: string }> {
    const username = `user${++counter}-${Math.random().toString(36).slice(2, 8)}`;
    expect((await post('/api/auth/register', { username, password: PASSWORD })).status).toBe(201);
    return { username, ...(await passwordSession(username)) };
  }
  /** A session from the password alone (2FA off). */
  async function passwordSession(username: string) {
    const login = await post('/api/auth/login', { username, password: PASSWORD });
    expect(login.body.status).toBe('authenticated');
    return { token: login.body.tokens.accessToken as string, refreshToken: login.body.tokens.refreshToken as string };
  }
  async function withTwoFactor() {
    const user = await signUp();
    const { secret } = (await post('/api/totp/enroll', {}, user.token)).body;
    const { backupCodes } = (await post('/api/totp/confirm', { code: codeAt(secret) }, user.token)).body;
    s.clock.advance(30_000); // the confirming code is spent; the next step's is fresh
    return { ...user, secret: secret as string, backupCodes: backupCodes as string[] };
  }
  async function challengeFor(username: string): Promise<string> {
    const login = await post('/api/auth/login', { username, password: PASSWORD });
    expect(login.body.status).toBe('second_factor_required');
    return login.body.challenge;
  }
  /** n challenges, one after another: password hashing is capped, and parallel sign-ins would be refused (503). */
  async function challengesFor(username: string, n: number): Promise<string[]> {
    const challenges: string[] = [];
    for (let i = 0; i < n; i++) challenges.push(await challengeFor(username));
    return challenges;
  }
  /** A full two-step sign-in with the current TOTP code; the clock moves on a step so the next code is fresh. */
  async function signIn(username: string, secret: string) {
    const verified = await post('/api/auth/login/verify', {
      challenge: await challengeFor(username),
      code: codeAt(secret),
    });
    expect(verified.status).toBe(200);
    s.clock.advance(30_000);
    return { token: verified.body.accessToken as string, refreshToken: verified.body.refreshToken as string };
  }

  return {
    call,
    post,
    get,
    step,
    codeAt,
    signUp,
    passwordSession,
    withTwoFactor,
    challengeFor,
    challengesFor,
    signIn,
    secrets,
  };
}

export { apiClient, PASSWORD };
