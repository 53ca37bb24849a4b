// Sealed secrets, the key ring, backup codes and stored enrollments.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BACKUP_CODE_ALPHABET,
  base32Encode,
  base64UrlEncode,
  checkBackupCode,
  createEnrollment,
  createHotp,
  generateBackupCodes,
  generateKeyRingEntry,
  hashBackupCode,
  hexEncode,
  OtpkitError,
  openEnrollment,
  openSecret,
  parseKeyRing,
  sealSecret,
} from '../src/index.js';
import { rejection } from './rejection.js';

const K1 = generateKeyRingEntry({ id: 'k1' });
const K2 = generateKeyRingEntry({ id: 'k2' });
const OWNER = { associatedData: 'user:42/totp' };

describe('key ring', () => {
  it('reads id:base64 entries, the first current, in base64 or base64url', async () => {
    const standard = `k0:${Buffer.alloc(32, 0xfb).toString('base64')}`;
    const ring = await parseKeyRing(` ${K2}, ${K1},${standard}`);
    expect(ring.currentId).toBe('k2');
    expect(ring.ids).toEqual(['k2', 'k1', 'k0']);
  });

  it('generates entries that parse, from an injectable source', async () => {
    expect(K1).toMatch(/^k1:[A-Za-z0-9_-]{43}$/);
    const fixed = generateKeyRingEntry({ id: 'x', randomBytes: (n) => new Uint8Array(n).fill(1) });
    expect(fixed).toBe(`x:${base64UrlEncode(new Uint8Array(32).fill(1))}`);
    expect(() => generateKeyRingEntry({ id: 'has.dot' })).toThrow(OtpkitError);
  });

  it.each([
    ['', 'no keys'],
    ['k1', 'ID:BASE64'],
    [`bad id:${K1.slice(3)}`, 'ID:BASE64'],
    [`${K1},${K1}`, 'repeats'],
    ['k1:not*base64', 'not base64'],
    [`k1:${Buffer.alloc(31).toString('base64')}`, 'must be 32 bytes, got 31'],
    [`k1:${Buffer.alloc(33).toString('base64')}`, 'must be 32 bytes, got 33'],
    [Array.from({ length: 17 }, (_, i) => generateKeyRingEntry({ id: `k${i}` })).join(','), 'at most 16'],
  ])('refuses %#: %s', async (text, reason) => {
    const error = await rejection(parseKeyRing(text));
    expect(error.code).toBe('KEYRING_INVALID');
    expect(error.message).toContain(reason);
    expect(error.message).not.toContain(K1.slice(3, 12));
  });
});

describe('sealed secrets', () => {
  it('round-trip any secret, and the sealed text shows nothing of it', async () => {
    const ring = await parseKeyRing(K1);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 128 }), async (secret) => {
        const sealed = await sealSecret(ring, secret, OWNER);
        expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
        if (secret.length >= 4) {
          for (const shown of [base32Encode(secret), hexEncode(secret), base64UrlEncode(secret)]) {
            expect(sealed).not.toContain(shown.slice(0, 6));
          }
        }
        expect(await openSecret(ring, sealed, OWNER)).toEqual({ secret, needsReseal: false, keyId: 'k1' });
      }),
      { numRuns: 100 },
    );
  });

  it('fail to open, with one neutral error, after any flipped bit', async () => {
    const ring = await parseKeyRing(K1);
    const secret = crypto.getRandomValues(new Uint8Array(20));
    const sealed = await sealSecret(ring, secret, OWNER);
    for (let i = 0; i < sealed.length; i++) {
      for (let bit = 0; bit < 7; bit++) {
        const flipped =
          sealed.slice(0, i) + String.fromCharCode(sealed.charCodeAt(i) ^ (1 << bit)) + sealed.slice(i + 1);
        const error = await rejection(openSecret(ring, flipped, OWNER));
        // Flipping the key id names a key the ring does not hold: its own code.
        const expected = i >= 3 && i < 5 ? ['SEAL_INVALID', 'SEAL_KEY_UNKNOWN'] : ['SEAL_INVALID'];
        expect(expected, `char ${i} bit ${bit}`).toContain(error.code);
        if (error.code === 'SEAL_INVALID') expect(error.message).toBe('sealed value could not be opened');
      }
    }
  });

  it('fail for another owner, under a wrong key, or truncated; an unknown key id has its own code', async () => {
    const ring = await parseKeyRing(K1);
    const sealed = await sealSecret(ring, new Uint8Array(20).fill(7), OWNER);
    const wrongKey = await parseKeyRing(generateKeyRingEntry({ id: 'k1' }));
    const otherRing = await parseKeyRing(K2);
    const cases: [() => Promise<unknown>, string][] = [
      [() => openSecret(ring, sealed, { associatedData: 'user:43/totp' }), 'SEAL_INVALID'],
      [() => openSecret(wrongKey, sealed, OWNER), 'SEAL_INVALID'],
      [() => openSecret(ring, sealed.slice(0, -4), OWNER), 'SEAL_INVALID'],
      [() => openSecret(ring, `${sealed}.x`, OWNER), 'SEAL_INVALID'],
      [() => openSecret(ring, 'not sealed', OWNER), 'SEAL_INVALID'],
      [() => openSecret(otherRing, sealed, OWNER), 'SEAL_KEY_UNKNOWN'],
    ];
    for (const [open, code] of cases) expect((await rejection(open())).code).toBe(code);
    expect((await rejection(sealSecret(ring, new Uint8Array(20), { associatedData: '' }))).code).toBe('OPTION_INVALID');
  });

  it('open under an old key and say they need resealing; resealing moves them to the current key', async () => {
    const before = await parseKeyRing(K1);
    const after = await parseKeyRing(`${K2},${K1}`);
    const secret = new Uint8Array(32).fill(9);
    const old = await sealSecret(before, secret, OWNER);
    const opened = await openSecret(after, old, OWNER);
    expect(opened).toEqual({ secret, needsReseal: true, keyId: 'k1' });
    const resealed = await sealSecret(after, opened.secret, OWNER);
    expect(resealed.startsWith('v1.k2.')).toBe(true);
    expect((await openSecret(after, resealed, OWNER)).needsReseal).toBe(false);
  });

  it('never reuse a nonce', async () => {
    const ring = await parseKeyRing(K1);
    const secret = new Uint8Array(20);
    const nonces = new Set<string>();
    for (let i = 0; i < 200; i++) nonces.add((await sealSecret(ring, secret, OWNER)).split('.')[2]!);
    expect(nonces.size).toBe(200);
  });
});

describe('backup codes', () => {
  const pattern = new RegExp(
    `^[${BACKUP_CODE_ALPHABET}]{6}-[${BACKUP_CODE_ALPHABET}]{6}-[${BACKUP_CODE_ALPHABET}]{6}$`,
  );

  it('are 10 distinct codes of at least 80 bits in an unambiguous alphabet', () => {
    const codes = generateBackupCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(pattern);
    expect(18 * Math.log2(BACKUP_CODE_ALPHABET.length)).toBeGreaterThanOrEqual(80);
    expect(BACKUP_CODE_ALPHABET).not.toMatch(/[01OIL]/);
    expect(generateBackupCodes({ count: 3 })).toHaveLength(3);
    expect(() => generateBackupCodes({ count: 0 })).toThrow(OtpkitError);
  });

  it('use every symbol evenly (bytes past the last whole multiple are redrawn)', () => {
    const counts = new Map<string, number>();
    for (const code of generateBackupCodes({ count: 100 })) {
      for (const symbol of code.replaceAll('-', '')) counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
    }
    expect(counts.size).toBe(BACKUP_CODE_ALPHABET.length);
    // 1800 symbols over 31: about 58 each; a fair draw stays well inside this.
    for (const n of counts.values()) expect(n).toBeGreaterThan(20);
  });

  it('verify as pasted and say which code matched; the stored hashes hold no code', async () => {
    const ring = await parseKeyRing(K1);
    const codes = generateBackupCodes();
    const stored = codes.map((code) => hashBackupCode(ring, code));
    const dump = stored.join('\n');
    for (const code of codes) {
      for (const form of [code, code.replaceAll('-', ''), code.toLowerCase()]) expect(dump).not.toContain(form);
    }
    const code = codes[6]!;
    for (const pasted of [
      code,
      code.toLowerCase(),
      code.replaceAll('-', ''),
      ` ${code.replaceAll('-', ' ')} `,
      code.replaceAll('-', ' - '),
    ]) {
      expect(checkBackupCode(ring, pasted, stored), pasted).toEqual({ ok: true, index: 6 });
    }
    expect(checkBackupCode(ring, generateBackupCodes({ count: 1 })[0]!, stored)).toEqual({
      ok: false,
      reason: 'wrong',
    });
    for (const bad of ['', 'ABC', `${code}X`, code.replace(/[A-Z]/, '0'), 'x'.repeat(1000)]) {
      expect(checkBackupCode(ring, bad, stored)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('keep verifying after a key rotation while the old key stays in the ring', async () => {
    const [first, second] = generateBackupCodes({ count: 2 }) as [string, string];
    const stored = [hashBackupCode(await parseKeyRing(K1), first)];
    const rotated = await parseKeyRing(`${K2},${K1}`);
    stored.push(hashBackupCode(rotated, second));
    expect(stored[1]!.startsWith('v1.k2.')).toBe(true);
    expect(checkBackupCode(rotated, first, stored)).toEqual({ ok: true, index: 0 });
    expect(checkBackupCode(rotated, second, stored)).toEqual({ ok: true, index: 1 });
    // Once k1 leaves the ring, its hashes cannot match any more.
    expect(checkBackupCode(await parseKeyRing(K2), first, stored)).toEqual({ ok: false, reason: 'wrong' });
  });

  it('reject, never throw, on stored values they cannot read, and still find a good one among them', async () => {
    const ring = await parseKeyRing(K1);
    const [code] = generateBackupCodes({ count: 1 }) as [string];
    const good = hashBackupCode(ring, code);
    const hash = good.slice('v1.k1.'.length);
    const unreadable: unknown[] = [
      null,
      undefined,
      42,
      Number.NaN,
      true,
      {},
      [],
      ['v1', 'k1', hash],
      { toString: () => good },
      new String(good),
      '',
      '.',
      'v1',
      'v1..',
      'v1...',
      'v1.k1.',
      'v1.k1.!!!',
      `v1.k1.${hash}.`,
      `v2.k1.${hash}`,
      `V1.k1.${hash}`,
      `v1.k9.${hash}`,
      `v1..${hash}`,
      `v1.k1.${hash.slice(0, -2)}`,
      `v1.k1.${hash}AA`,
      `v1.k1.${base64UrlEncode(new Uint8Array(0))}`,
      `v1.k1.${hash}`.padEnd(100_000, 'A'),
    ];
    expect(checkBackupCode(ring, code, unreadable as string[])).toEqual({ ok: false, reason: 'wrong' });
    expect(checkBackupCode(ring, code, [...unreadable, good] as string[])).toEqual({
      ok: true,
      index: unreadable.length,
    });
    for (const stored of [null, undefined, good, 42, {}, { length: 1, 0: good }, new Set([good])]) {
      expect(checkBackupCode(ring, code, stored as unknown as string[]), String(stored)).toEqual({
        ok: false,
        reason: 'wrong',
      });
      expect(checkBackupCode(ring, 'ABC', stored as unknown as string[])).toEqual({ ok: false, reason: 'malformed' });
    }
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.anything(), fc.string(), fc.constant(good))), (stored) => {
        const result = checkBackupCode(ring, code, stored as string[]);
        const index = stored.indexOf(good);
        expect(result).toEqual(index >= 0 ? { ok: true, index } : { ok: false, reason: 'wrong' });
      }),
    );
  });
});

describe('enrollments', () => {
  const secret = new TextEncoder().encode('12345678901234567890');
  const NOW = 1_750_000_000;
  const code = (counter: number) => createHotp({ secret }).generate(counter);

  it('store parameters, the sealed key and the last counter, and refuse reuse across a save', async () => {
    const ring = await parseKeyRing(K1);
    const enrollment = await createEnrollment(ring, secret, { account: 'alice', issuer: 'ACME', digits: 6 }, OWNER);
    expect(enrollment.changed).toBe(true);
    expect(enrollment.keyUri()).toBe(`otpauth://totp/ACME:alice?secret=${base32Encode(secret)}&issuer=ACME`);
    const json = JSON.stringify(enrollment);
    expect(json).not.toContain(base32Encode(secret).slice(0, 8));
    expect(JSON.parse(json)).toMatchObject({
      v: 1,
      account: 'alice',
      issuer: 'ACME',
      algorithm: 'SHA-1',
      lastCounter: null,
    });

    const reopened = await openEnrollment(ring, json, OWNER);
    expect(reopened.changed).toBe(false);
    const T = Math.floor(NOW / 30);
    expect(reopened.verify(code(T), { nowSeconds: NOW })).toMatchObject({ ok: true, counter: T });
    expect(reopened.changed).toBe(true);
    expect(reopened.lastCounter).toBe(T);

    const again = await openEnrollment(ring, reopened.toJSON(), OWNER);
    expect(again.verify(code(T), { nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'reused' });
    expect(again.changed).toBe(false);
  });

  it('reseal under the current key when opened under an old one, and report it changed', async () => {
    const old = await createEnrollment(await parseKeyRing(K1), secret, { account: 'bob' }, OWNER);
    const rotated = await openEnrollment(await parseKeyRing(`${K2},${K1}`), old.toJSON(), OWNER);
    expect(rotated.changed).toBe(true);
    expect(rotated.toJSON().sealedSecret.startsWith('v1.k2.')).toBe(true);
    expect((await openEnrollment(await parseKeyRing(K2), rotated.toJSON(), OWNER)).changed).toBe(false);
  });

  it('refuse to open for another owner, and refuse bad stored state', async () => {
    const ring = await parseKeyRing(K1);
    const json = (await createEnrollment(ring, secret, { account: 'carol' }, OWNER)).toJSON();
    expect((await rejection(openEnrollment(ring, json, { associatedData: 'user:7/totp' }))).code).toBe('SEAL_INVALID');
    expect((await rejection(openEnrollment(ring, '{not json', OWNER))).code).toBe('OPTION_INVALID');
    expect((await rejection(openEnrollment(ring, { ...json, lastCounter: -5 }, OWNER))).code).toBe('OPTION_INVALID');
    expect((await rejection(createEnrollment(ring, secret, { account: 'a', digits: 4 }, OWNER))).code).toBe(
      'OPTION_INVALID',
    );
  });
});
