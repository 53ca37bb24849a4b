// The three example apps, each started as its README says (node examples/NAME/server.js),
// driven over HTTP as a person would: sign in, turn 2FA on with a code from
// oathtool, sign in again with the password and a code, a replayed code
// refused, a backup code accepted. The apps own their accounts; otpkit is
// mounted at /2fa.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hasOathtool, oathtool } from '../test/support/external.js';
import { startListening } from '../test/support/listening.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function start(example: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `otpkit-example-${example}-`));
  dirs.push(dir);
  // cwd: its data/ (SQLite, keys) lands there
  const script = join(ROOT, 'examples', example, 'server.js');
  return (await startListening(script, [], { cwd: dir, env: { PATH: process.env.PATH ?? '', PORT: '0' } })).base;
}

/** A browser of sorts: keeps the app's session cookie. */
function client(base: string) {
  let cookie = '';
  return async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(cookie ? { cookie } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const set = response.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0]!;
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown> & { error?: { code: string } },
    };
  };
}

const totp = (secret: string, offsetSeconds = 0) =>
  oathtool(['--totp', '-b', '-N', `@${Math.floor(Date.now() / 1000) + offsetSeconds}`, secret]);

describe.runIf(hasOathtool).each(['express', 'hono', 'fetch'])('the %s example', (example) => {
  it('mounts 2FA beside its own sign-in: enroll, two-step sign-in, replay refused, backup code', async () => {
    const base = await start(example);
    const alice = client(base);
    expect(
      (await alice('POST', '/login', { username: 'alice', password: 'correct horse battery staple' })).body,
    ).toEqual({
      stage: 'in',
    });
    const enrollment = await alice('POST', '/2fa/enroll', {});
    expect(enrollment.status).toBe(200);
    const secret = enrollment.body.secret as string;
    expect(enrollment.body.uri).toMatch(/^otpauth:\/\/totp\/otpkit:alice\?secret=/);
    const confirmed = await alice('POST', '/2fa/confirm', { code: totp(secret) });
    expect(confirmed.status).toBe(200);
    const backupCodes = confirmed.body.backupCodes as string[];
    expect((await alice('GET', '/2fa/status')).body).toMatchObject({ enabled: true, backupCodesRemaining: 10 });

    // Signing in again: the password alone leaves the session at the second factor.
    const again = client(base);
    expect(
      (await again('POST', '/login', { username: 'alice', password: 'correct horse battery staple' })).body,
    ).toEqual({
      stage: 'second-factor',
    });
    expect((await again('GET', '/2fa/status')).status).toBe(401);
    const next = totp(secret, 30); // the confirming code is spent: the next step's, inside the window
    expect((await again('POST', '/login/2fa', { code: next })).body).toEqual({ stage: 'in' });
    expect((await again('GET', '/2fa/status')).status).toBe(200);

    const replay = client(base);
    await replay('POST', '/login', { username: 'alice', password: 'correct horse battery staple' });
    expect((await replay('POST', '/login/2fa', { code: next })).body).toEqual({ error: 'CODE_REUSED' });
    expect((await replay('POST', '/login/2fa', { backupCode: backupCodes[0] })).body).toEqual({ stage: 'in' });
    expect((await replay('GET', '/2fa/status')).body).toMatchObject({ backupCodesRemaining: 9 });
    // Bad input to the mounted routes answers in otpkit's coded shape.
    expect((await replay('POST', '/2fa/validate', { code: 42 })).body.error?.code).toBe('INPUT_INVALID');
    expect((await client(base)('POST', '/login', { username: 'alice', password: 'wrong' })).status).toBe(401);
  });
});
