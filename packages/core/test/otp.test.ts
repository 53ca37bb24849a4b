// HOTP and TOTP behaviour: options, the window, replay refusal, malformed
// input, resync and Steam codes. Time is always passed in.

import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createHotp,
  createTotp,
  generateSecret,
  MAX_LOOK_AHEAD,
  MAX_RESYNC_STEPS,
  MAX_WINDOW_STEPS,
  MIN_SECRET_BYTES,
  OtpkitError,
  STEAM_ALPHABET,
  type Totp,
} from '../src/index.js';
import { RFC4226_SECRET } from './vectors.js';

const secret = RFC4226_SECRET;
const NOW = 1_750_000_000;

function expectError(fn: () => unknown, code: string): OtpkitError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OtpkitError);
    expect((error as OtpkitError).code).toBe(code);
    return error as OtpkitError;
  }
  throw new Error('expected an OtpkitError');
}

describe('parameters', () => {
  it('reads keys from 1 to 128 bytes; refuses shorter than minSecretBytes when asked', () => {
    expect(createTotp({ secret: secret.slice(0, 10) }).generate(NOW)).toMatch(/^\d{6}$/);
    expect(createHotp({ secret: secret.slice(0, 1) }).generate(0)).toMatch(/^\d{6}$/);
    expectError(() => createTotp({ secret: new Uint8Array(0) }), 'SECRET_TOO_SHORT');
    // The server's one line for keys it issues or accepts at enrollment:
    const error = expectError(
      () => createTotp({ secret: secret.slice(0, 10), minSecretBytes: MIN_SECRET_BYTES }),
      'SECRET_TOO_SHORT',
    );
    expect(error.message).toBe('secret must be at least 16 bytes, got 10');
    for (const bad of [0, 129, 1.5, '16']) {
      expectError(() => createTotp({ secret, minSecretBytes: bad as number }), 'OPTION_INVALID');
    }
    expectError(() => generateSecret({ bytes: 10 }), 'OPTION_INVALID'); // what issues keys keeps the floor
    expectError(() => createTotp({ secret: new Uint8Array(129) }), 'SECRET_TOO_LONG');
    expectError(
      () => createTotp({ secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' as unknown as Uint8Array }),
      'OPTION_INVALID',
    );
  });

  it.each([5, 11, 6.5, Number.NaN])('refuses %s digits', (digits) => {
    expectError(() => createTotp({ secret, digits }), 'OPTION_INVALID');
  });

  it('accepts 6 to 10 digits, and 10 digits are the 31-bit value zero-padded', () => {
    for (let digits = 6; digits <= 10; digits++) {
      expect(createTotp({ secret, digits }).generate(NOW)).toHaveLength(digits);
    }
    expect(createHotp({ secret, digits: 10 }).generate(0)).toBe('1284755224');
  });

  it('refuses bad periods, T0, algorithms and encoders', () => {
    expectError(() => createTotp({ secret, periodSeconds: 0 }), 'OPTION_INVALID');
    expectError(() => createTotp({ secret, periodSeconds: 1.5 }), 'OPTION_INVALID');
    expectError(() => createTotp({ secret, t0Seconds: -1 }), 'OPTION_INVALID');
    expectError(() => createTotp({ secret, algorithm: 'MD5' as 'SHA-1' }), 'OPTION_INVALID');
    expectError(() => createTotp({ secret, encoder: 'hex' as 'steam' }), 'OPTION_INVALID');
    expectError(() => createTotp({ secret, encoder: 'steam', digits: 6 }), 'OPTION_INVALID');
  });

  it('refuses times before T0 and times that are not numbers', () => {
    const totp = createTotp({ secret, t0Seconds: 100 });
    expectError(() => totp.generate(99), 'OPTION_INVALID');
    expectError(() => totp.generate(Number.POSITIVE_INFINITY), 'OPTION_INVALID');
    expectError(() => totp.generate('1' as unknown as number), 'OPTION_INVALID');
    expect(totp.generate(100)).toBe(createHotp({ secret }).generate(0));
  });

  it('supports any period of 1 s or more, T0, and times past 2038', () => {
    const hotp = createHotp({ secret });
    for (const periodSeconds of [1, 7, 30, 60, 86_400]) {
      const totp = createTotp({ secret, periodSeconds, t0Seconds: 1000 });
      const now = 4_102_444_800; // 2100-01-01
      expect(totp.generate(now)).toBe(hotp.generate(Math.floor((now - 1000) / periodSeconds)));
    }
  });

  it('supports counters up to 2^53 - 1 and refuses beyond', () => {
    const hotp = createHotp({ secret });
    expect(hotp.generate(Number.MAX_SAFE_INTEGER)).toMatch(/^\d{6}$/);
    expectError(() => hotp.generate(Number.MAX_SAFE_INTEGER + 1), 'OPTION_INVALID');
    expectError(() => hotp.generate(-1), 'OPTION_INVALID');
  });

  it('does not mutate or keep a reference to the caller key', () => {
    const key = secret.slice();
    const totp = createTotp({ secret: key });
    const code = totp.generate(NOW);
    key.fill(0);
    expect(totp.generate(NOW)).toBe(code);
  });
});

describe('TOTP verify', () => {
  const totp = createTotp({ secret });
  const T = totp.counterAt(NOW);
  const codeAt = (counter: number) => createHotp({ secret }).generate(counter);

  it('returns the matched counter, the drift and when the code expires', () => {
    expect(totp.verify(codeAt(T), { nowSeconds: NOW })).toMatchObject({
      ok: true,
      counter: T,
      delta: 0,
      expiresAt: (T + 1) * 30,
    });
    expect(totp.verify(codeAt(T - 1), { nowSeconds: NOW })).toMatchObject({ ok: true, counter: T - 1, delta: -1 });
    expect(totp.verify(codeAt(T + 1), { nowSeconds: NOW })).toMatchObject({ ok: true, counter: T + 1, delta: 1 });
    expect(totp.verify(codeAt(T + 2), { nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'wrong' });
  });

  it('takes a symmetric window or [past, future], capped', () => {
    expect(totp.verify(codeAt(T - 3), { nowSeconds: NOW, window: 3 }).ok).toBe(true);
    expect(totp.verify(codeAt(T + 1), { nowSeconds: NOW, window: [2, 0] }).ok).toBe(false);
    expect(totp.verify(codeAt(T - 2), { nowSeconds: NOW, window: [2, 0] }).ok).toBe(true);
    expect(totp.verify(codeAt(T), { nowSeconds: NOW, window: 0 }).ok).toBe(true);
    expect(totp.verify(codeAt(T + 10), { nowSeconds: NOW, window: MAX_WINDOW_STEPS }).ok).toBe(true);
    expectError(() => totp.verify(codeAt(T), { nowSeconds: NOW, window: MAX_WINDOW_STEPS + 1 }), 'OPTION_INVALID');
    expectError(
      () => totp.verify(codeAt(T), { nowSeconds: NOW, window: [1, 2, 3] as unknown as [1, 2] }),
      'OPTION_INVALID',
    );
  });

  it('refuses a code at or before the last accepted counter as reused (RFC 6238 §5.2)', () => {
    const first = totp.verify(codeAt(T), { nowSeconds: NOW });
    expect(first.ok).toBe(true);
    const afterCounter = first.ok ? first.counter : -1;
    expect(totp.verify(codeAt(T), { nowSeconds: NOW, afterCounter })).toMatchObject({ ok: false, reason: 'reused' });
    expect(totp.verify(codeAt(T - 1), { nowSeconds: NOW, afterCounter })).toMatchObject({
      ok: false,
      reason: 'reused',
    });
    expect(totp.verify(codeAt(T + 1), { nowSeconds: NOW, afterCounter })).toMatchObject({ ok: true, counter: T + 1 });
    expect(totp.verify('000000', { nowSeconds: NOW, afterCounter })).toMatchObject({ ok: false });
  });

  it('accepts spaces inside a code', () => {
    const code = codeAt(T);
    expect(totp.verify(`${code.slice(0, 3)} ${code.slice(3)}`, { nowSeconds: NOW }).ok).toBe(true);
    expect(totp.verify(` ${code} `, { nowSeconds: NOW }).ok).toBe(true);
  });

  it('calls anything but the right number of ASCII digits malformed', () => {
    const code = codeAt(T);
    const fullWidth = [...code].map((d) => String.fromCharCode(0xff10 + Number(d))).join('');
    const arabicIndic = [...code].map((d) => String.fromCharCode(0x0660 + Number(d))).join('');
    for (const bad of [
      fullWidth,
      arabicIndic,
      `+${code.slice(1)}`,
      `-${code.slice(1)}`,
      '1e5000',
      '12345a',
      `${code}0`,
      code.slice(1),
      '',
      `${code}\n`,
      `\t${code}`,
      '0x1234',
      ' '.repeat(100) + code,
    ]) {
      expect(totp.verify(bad, { nowSeconds: NOW }), JSON.stringify(bad)).toMatchObject({
        ok: false,
        reason: 'malformed',
      });
    }
    for (const bad of [Number(code), null, undefined, {}, [code]]) {
      expect(totp.verify(bad as unknown as string, { nowSeconds: NOW })).toMatchObject({
        ok: false,
        reason: 'malformed',
      });
    }
  });

  it('a 10-digit code above 2^31 is wrong, not an error', () => {
    const ten = createTotp({ secret, digits: 10 });
    expect(ten.verify('9999999999', { nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'wrong' });
  });

  it('accepts a code if and only if it is the code of a counter inside the window', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.constantFrom('SHA-1' as const, 'SHA-256' as const, 'SHA-512' as const),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        fc.integer({ min: -6, max: 6 }),
        fc.integer({ min: 0, max: 3 }),
        (key, algorithm, now, drift, window) => {
          const t = createTotp({ secret: key, algorithm });
          const hotp = createHotp({ secret: key, algorithm });
          const base = t.counterAt(now);
          const target = Math.max(0, base + drift);
          const code = hotp.generate(target);
          const inside: number[] = [];
          for (let c = Math.max(0, base - window); c <= base + window; c++)
            if (hotp.generate(c) === code) inside.push(c);
          const result = t.verify(code, { nowSeconds: now, window });
          expect(result.ok).toBe(inside.length > 0);
          if (result.ok) expect(inside).toContain(result.counter);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('agrees with RFC 4226 §5.3 on node:crypto for keys of 1 to 128 bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 128 }),
        fc.constantFrom('SHA-1' as const, 'SHA-256' as const, 'SHA-512' as const),
        fc.integer({ min: 6, max: 10 }),
        fc.maxSafeNat(),
        (key, algorithm, digits, counter) => {
          const message = Buffer.alloc(8);
          message.writeBigUInt64BE(BigInt(counter));
          const mac = createHmac(algorithm.replace('-', '').toLowerCase(), key).update(message).digest();
          const offset = mac[mac.length - 1]! & 0xf;
          const binary = mac.readUInt32BE(offset) & 0x7fffffff;
          const expected = String(binary % 10 ** digits).padStart(digits, '0');
          expect(createHotp({ secret: key, algorithm, digits }).generate(counter)).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('generate then verify round-trips for every hash, digits and period', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 128 }),
        fc.constantFrom('SHA-1' as const, 'SHA-256' as const, 'SHA-512' as const),
        fc.integer({ min: 6, max: 10 }),
        fc.integer({ min: 1, max: 300 }),
        fc.double({ min: 0, max: 2 ** 40, noNaN: true }),
        (key, algorithm, digits, periodSeconds, now) => {
          const t = createTotp({ secret: key, algorithm, digits, periodSeconds });
          const result = t.verify(t.generate(now), { nowSeconds: now, window: 0 });
          expect(result).toEqual({
            ok: true,
            counter: t.counterAt(now),
            expectedCounter: t.counterAt(now),
            delta: 0,
            expiresAt: (t.counterAt(now) + 1) * periodSeconds,
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('HOTP verify', () => {
  const hotp = createHotp({ secret });
  it('matches at the expected counter or within the look-ahead', () => {
    expect(hotp.verify('969429', { counter: 3 })).toMatchObject({ ok: true, counter: 3, delta: 0 });
    expect(hotp.verify('969429', { counter: 1 })).toMatchObject({ ok: false, reason: 'wrong' });
    expect(hotp.verify('969429', { counter: 1, lookAhead: 2 })).toMatchObject({ ok: true, counter: 3, delta: 2 });
    expect(hotp.verify('287082', { counter: 2, lookAhead: 5 })).toMatchObject({ ok: false, reason: 'wrong' });
    expect(hotp.verify('28708', { counter: 1 })).toMatchObject({ ok: false, reason: 'malformed' });
    expectError(() => hotp.verify('287082', { counter: 1, lookAhead: MAX_LOOK_AHEAD + 1 }), 'OPTION_INVALID');
  });
});

describe('resync (RFC 4226 §7.4)', () => {
  const totp = createTotp({ secret });
  const T = totp.counterAt(NOW);
  const drifted = (steps: number, count: number) =>
    Array.from({ length: count }, (_, i) => totp.generate(NOW + (steps - (count - 1) + i) * 30));

  it.each([-2000, -17, 0, 5, 2880])('finds a device %i steps off from 2 or 3 consecutive codes', (steps) => {
    for (const count of [2, 3]) {
      expect(totp.resync(drifted(steps, count), { nowSeconds: NOW })).toMatchObject({
        ok: true,
        counter: T + steps,
        delta: steps,
      });
    }
  });

  it('refuses codes that are not consecutive, out of range, reused or malformed', () => {
    const codes = drifted(100, 3);
    expect(totp.resync([codes[0]!, codes[2]!], { nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'wrong' });
    expect(totp.resync(drifted(100, 2), { nowSeconds: NOW, maxDriftSteps: 50 })).toMatchObject({
      ok: false,
      reason: 'wrong',
    });
    expect(totp.resync(drifted(100, 2), { nowSeconds: NOW, afterCounter: T + 100 })).toMatchObject({
      ok: false,
      reason: 'reused',
    });
    expect(totp.resync(['12345', codes[1]!], { nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'malformed' });
    expectError(() => totp.resync([codes[0]!], { nowSeconds: NOW }), 'OPTION_INVALID');
    expectError(() => totp.resync(codes, { nowSeconds: NOW, maxDriftSteps: MAX_RESYNC_STEPS + 1 }), 'OPTION_INVALID');
  });

  it('HOTP resync finds how far ahead the device is', () => {
    const hotp = createHotp({ secret });
    expect(hotp.resync(['338314', '254676'], { counter: 1 })).toMatchObject({ ok: true, counter: 5, delta: 4 });
    expect(hotp.resync(['338314', '254676', '287922'], { counter: 0 })).toMatchObject({
      ok: true,
      counter: 6,
      delta: 6,
    });
    expect(hotp.resync(['338314', '254676'], { counter: 5 })).toMatchObject({ ok: false, reason: 'wrong' });
  });
});

describe('Steam Guard', () => {
  // An independent implementation from node:crypto and the published description.
  function steamReference(key: Uint8Array, counter: number): string {
    const message = Buffer.alloc(8);
    message.writeBigUInt64BE(BigInt(counter));
    const mac = createHmac('sha1', key).update(message).digest();
    let value = mac.readUInt32BE(mac[19]! & 0xf) & 0x7fffffff;
    let code = '';
    for (let i = 0; i < 5; i++, value = Math.floor(value / 26)) code += STEAM_ALPHABET[value % 26];
    return code;
  }

  it('generates and verifies 5-character codes', () => {
    const steam: Totp = createTotp({ secret, encoder: 'steam' });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 34 }), (now) => {
        const code = steam.generate(now);
        expect(code).toBe(steamReference(secret, Math.floor(now / 30)));
        expect(steam.verify(code, { nowSeconds: now }).ok).toBe(true);
        expect(steam.verify(code.toLowerCase(), { nowSeconds: now }).ok).toBe(true);
      }),
    );
    expect(steam.digits).toBe(5);
    expect(steam.verify('AAAAA', { nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(steam.verify('123456', { nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
