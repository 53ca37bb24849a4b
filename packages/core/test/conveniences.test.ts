// What passlib and pyotp users reach for: a token view for countdowns, match
// details that explain delta and when to retry, codes typed with separators,
// a known clock skew, and a one-line preset of a server's defaults.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHotp, createTotp, MIN_SECRET_BYTES, OtpkitError, parseKeyUri, totpPreset } from '../src/index.js';

const secret = new TextEncoder().encode('12345678901234567890');
const T = 58_333_333;
const NOW = T * 30 + 7; // 7 s into step T
const hotp = createHotp({ secret });

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof OtpkitError) return error.code;
  }
  return 'no error';
}

describe('token view', () => {
  it("gives the code, its counter, its step's bounds and the seconds left", () => {
    expect(createTotp({ secret }).token(NOW)).toEqual({
      code: hotp.generate(T),
      counter: T,
      startsAt: T * 30,
      expiresAt: (T + 1) * 30,
      remainingSeconds: 23,
    });
    const t0 = createTotp({ secret, periodSeconds: 60, t0Seconds: 1_000 }).token(1_000 + 150.5);
    expect(t0).toMatchObject({ counter: 2, startsAt: 1_120, expiresAt: 1_180, remainingSeconds: 29.5 });
  });
});

describe('match details', () => {
  const totp = createTotp({ secret });
  it('carry the expected counter beside the matched one, so delta is explained', () => {
    expect(totp.verify(hotp.generate(T - 1), { nowSeconds: NOW })).toEqual({
      ok: true,
      counter: T - 1,
      expectedCounter: T,
      delta: -1,
      expiresAt: T * 30,
    });
    expect(totp.verify('000000', { nowSeconds: NOW })).toEqual({ ok: false, reason: 'wrong', expectedCounter: T });
    expect(totp.verify('12', { nowSeconds: NOW })).toEqual({ ok: false, reason: 'malformed', expectedCounter: T });
    expect(hotp.verify(hotp.generate(9), { counter: 7, lookAhead: 3 })).toEqual({
      ok: true,
      counter: 9,
      expectedCounter: 7,
      delta: 2,
    });
  });

  it('say, for a reused code, when the next code can be accepted', () => {
    // The current code was just used: the next one appears when this step ends, in 23 s.
    expect(totp.verify(hotp.generate(T), { nowSeconds: NOW, afterCounter: T })).toEqual({
      ok: false,
      reason: 'reused',
      expectedCounter: T,
      retryAfterSeconds: 23,
    });
    // A future code (within the window) was used: wait until the step after it.
    expect(totp.verify(hotp.generate(T), { nowSeconds: NOW, afterCounter: T + 1 })).toMatchObject({
      reason: 'reused',
      retryAfterSeconds: 53,
    });
    // An old code replayed while the current one is still fresh: no wait.
    expect(totp.verify(hotp.generate(T - 1), { nowSeconds: NOW, afterCounter: T - 1 })).toMatchObject({
      reason: 'reused',
      retryAfterSeconds: 0,
    });
  });
});

describe('codes as people type them', () => {
  const code = hotp.generate(T);
  const [a, b] = [code.slice(0, 3), code.slice(3)];
  it('take a hyphen between digits with `separators`; spaces always', () => {
    const lenient = createTotp({ secret, separators: true });
    for (const typed of [
      `${a} ${b}`,
      `${a}-${b}`,
      ` ${a} - ${b} `,
      `${code.slice(0, 2)}-${code.slice(2, 4)}-${code.slice(4)}`,
    ]) {
      expect(lenient.verify(typed, { nowSeconds: NOW }).ok, typed).toBe(true);
    }
    for (const typed of [
      `-${code}`,
      `${code}-`,
      `${a}--${b}`,
      `${a}.${b}`,
      `${a}_${b}`,
      `${a}\u2010${b}`,
      `+${code}`,
    ]) {
      expect(lenient.verify(typed, { nowSeconds: NOW }), typed).toMatchObject({ reason: 'malformed' });
    }
    const strict = createTotp({ secret });
    expect(strict.verify(`${a} ${b}`, { nowSeconds: NOW }).ok).toBe(true);
    expect(strict.verify(`${a}-${b}`, { nowSeconds: NOW })).toMatchObject({ reason: 'malformed' });
    expect(codeOf(() => createTotp({ secret, separators: 'yes' as unknown as boolean }))).toBe('OPTION_INVALID');
  });

  it('never turn a malformed code into an accepted one', () => {
    const lenient = createTotp({ secret, separators: true });
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (typed) => {
        const result = lenient.verify(typed, { nowSeconds: NOW });
        if (result.ok) expect(typed.replace(/[ -]/g, '')).toMatch(/^[0-9]{6}$/);
      }),
      { numRuns: 500 },
    );
  });
});

describe('clock skew', () => {
  it('moves the centre of the window, not its width, and reports times on this clock', () => {
    // This server's clock runs 95 s slow: true time is NOW + 95, step T + 3.
    const slow = createTotp({ secret, skewSeconds: 95, window: 0 });
    expect(slow.counterAt(NOW)).toBe(T + 3);
    expect(slow.generate(NOW)).toBe(hotp.generate(T + 3));
    expect(slow.verify(hotp.generate(T + 3), { nowSeconds: NOW })).toMatchObject({
      ok: true,
      expectedCounter: T + 3,
      delta: 0,
      expiresAt: (T + 4) * 30 - 95,
    });
    expect(slow.verify(hotp.generate(T), { nowSeconds: NOW })).toMatchObject({ reason: 'wrong' });
    expect(slow.token(NOW).remainingSeconds).toBe((T + 4) * 30 - 95 - NOW);
    expect(createTotp({ secret, skewSeconds: -7 }).counterAt(NOW)).toBe(T);
    for (const bad of [86_401, 1.5, Number.NaN]) {
      expect(codeOf(() => createTotp({ secret, skewSeconds: bad }))).toBe('OPTION_INVALID');
    }
  });
});

describe('totpPreset', () => {
  it("binds a server's defaults once: keys it issues, their URIs, and each user's Totp", () => {
    const totps = totpPreset({
      issuer: 'ACME Co',
      algorithm: 'SHA-256',
      digits: 8,
      window: 2,
      minSecretBytes: MIN_SECRET_BYTES,
    });
    const key = totps.generateSecret();
    expect(key).toHaveLength(20);
    const uri = totps.keyUri(key, 'alice@example.com');
    expect(parseKeyUri(uri)).toMatchObject({
      issuer: 'ACME Co',
      account: 'alice@example.com',
      algorithm: 'SHA-256',
      digits: 8,
    });
    const totp = totps.create(key);
    const code = createHotp({ secret: key, algorithm: 'SHA-256', digits: 8 }).generate(T - 2);
    expect(totp.verify(code, { nowSeconds: NOW })).toMatchObject({ ok: true, delta: -2 }); // the preset's window
    expect(totp.verify(code, { nowSeconds: NOW, window: 1 })).toMatchObject({ ok: false }); // a call may narrow it
    // The one obvious line that refuses a short key a user brings.
    expect(codeOf(() => totps.create(secret.slice(0, 10)))).toBe('SECRET_TOO_SHORT');
    expect(totps.options).toMatchObject({ issuer: 'ACME Co', digits: 8 });
  });

  it('fails at once on a bad option, not at the first sign-in', () => {
    for (const options of [
      { digits: 11 },
      { issuer: 'a:b' },
      { window: 11 },
      { secretBytes: 10 },
      { periodSeconds: 0 },
    ]) {
      expect(
        codeOf(() => totpPreset(options)),
        JSON.stringify(options),
      ).toBe('OPTION_INVALID');
    }
  });
});

describe("the package README's example", () => {
  it('runs as written and prints what its comments say', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /<!-- conveniences[^>]*-->\s*```js\n([\s\S]*?)```/.exec(readme)![1]!;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', block], {
      cwd: new URL('..', import.meta.url),
      encoding: 'utf8',
    });
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('true');
    expect(lines[1]).toBe('58333333 1749999990 1750000020 13');
    expect(out).toMatch(/ok: true,\s+counter: 58333333,\s+expectedCounter: 58333333,\s+delta: 0/);
    expect(out).toMatch(/reason: 'reused',\s+expectedCounter: 58333333,\s+retryAfterSeconds: 13/);
    expect(lines.at(-1)).toBe('996554');
  });
});
