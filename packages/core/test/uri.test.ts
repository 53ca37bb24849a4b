// otpauth:// key URIs: Google's Key URI format, both ways.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base32Encode, formatKeyUri, type KeyUri, MAX_URI_LENGTH, OtpkitError, parseKeyUri } from '../src/index.js';
import { RFC4226_SECRET } from './vectors.js';

const secret = RFC4226_SECRET;
const B32 = base32Encode(secret);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OtpkitError);
    expect((error as OtpkitError).message).not.toContain(B32);
    return (error as OtpkitError).code;
  }
  throw new Error('expected an OtpkitError');
}

describe('formatKeyUri', () => {
  it('writes the issuer as label prefix and parameter, %20 for spaces, defaults left out', () => {
    expect(formatKeyUri({ secret, account: 'alice@example.com', issuer: 'Big Corp' })).toBe(
      `otpauth://totp/Big%20Corp:alice@example.com?secret=${B32}&issuer=Big%20Corp`,
    );
    expect(formatKeyUri({ secret, account: 'bob' })).toBe(`otpauth://totp/bob?secret=${B32}`);
  });

  it('writes non-default parameters, the HOTP counter, Steam and image', () => {
    expect(
      formatKeyUri({
        secret,
        account: 'a',
        algorithm: 'SHA-512',
        digits: 8,
        periodSeconds: 60,
        image: 'https://x/y.png',
      }),
    ).toBe(`otpauth://totp/a?secret=${B32}&algorithm=SHA512&digits=8&period=60&image=https%3A%2F%2Fx%2Fy.png`);
    expect(formatKeyUri({ type: 'hotp', secret, account: 'a', counter: 0 })).toBe(
      `otpauth://hotp/a?secret=${B32}&counter=0`,
    );
    expect(formatKeyUri({ secret, account: 'a', encoder: 'steam' })).toBe(
      `otpauth://totp/a?secret=${B32}&encoder=steam`,
    );
  });

  it('refuses what would make an ambiguous or unusable URI', () => {
    expect(codeOf(() => formatKeyUri({ secret, account: 'a:b' }))).toBe('OPTION_INVALID');
    expect(codeOf(() => formatKeyUri({ secret, account: 'a', issuer: 'x:y' }))).toBe('OPTION_INVALID');
    expect(codeOf(() => formatKeyUri({ secret, account: '' }))).toBe('OPTION_INVALID');
    expect(codeOf(() => formatKeyUri({ secret, account: 'a'.repeat(257) }))).toBe('OPTION_INVALID');
    expect(codeOf(() => formatKeyUri({ type: 'hotp', secret, account: 'a' }))).toBe('OPTION_INVALID');
    expect(codeOf(() => formatKeyUri({ secret: new Uint8Array(0), account: 'a' }))).toBe('SECRET_TOO_SHORT');
    expect(formatKeyUri({ secret: secret.slice(0, 10), account: 'a' })).toBe(
      'otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ',
    ); // a legacy key, written as it is
  });
});

describe('parseKeyUri', () => {
  const base: KeyUri = {
    type: 'totp',
    secret,
    account: 'alice@example.com',
    issuer: 'ACME Co',
    algorithm: 'SHA-1',
    digits: 6,
    encoder: 'decimal',
    periodSeconds: 30,
  };

  it.each([
    `otpauth://totp/ACME%20Co:alice@example.com?secret=${B32}&issuer=ACME%20Co`,
    `otpauth://totp/ACME%20Co%3Aalice%40example.com?secret=${B32}&issuer=ACME+Co`,
    `otpauth://totp/ACME%20Co:%20alice@example.com?secret=${B32.toLowerCase()}====`,
    `otpauth://totp/alice@example.com?issuer=ACME%20Co&secret=${B32}&algorithm=SHA1&digits=6&period=30`,
    `OTPAUTH://TOTP/ACME%20Co:alice@example.com?secret=${B32}&algorithm=sha-1`,
  ])('reads %s', (uri) => {
    expect(parseKeyUri(uri)).toEqual(base);
  });

  it('reads HOTP with its counter, other algorithms, digits, periods, Steam and image', () => {
    expect(parseKeyUri(`otpauth://hotp/x?secret=${B32}&counter=42&algorithm=SHA-256&digits=8`)).toMatchObject({
      type: 'hotp',
      counter: 42,
      algorithm: 'SHA-256',
      digits: 8,
    });
    expect(parseKeyUri(`otpauth://totp/x?secret=${B32}&period=60&algorithm=SHA512`)).toMatchObject({
      periodSeconds: 60,
      algorithm: 'SHA-512',
    });
    expect(parseKeyUri(`otpauth://totp/Steam:x?secret=${B32}&encoder=steam`)).toMatchObject({
      encoder: 'steam',
      digits: 5,
    });
    expect(parseKeyUri(`otpauth://totp/x?secret=${B32}&image=https%3A%2F%2Fe.com%2Fl.png`).image).toBe(
      'https://e.com/l.png',
    );
  });

  it.each([
    ['not a uri', 'URI_INVALID'],
    [`https://totp/x?secret=${B32}`, 'URI_INVALID'],
    [`otpauth://motp/x?secret=${B32}`, 'URI_INVALID'],
    ['otpauth://totp/x?issuer=A', 'URI_INVALID'],
    [`otpauth://totp/A:x?secret=${B32}&issuer=B`, 'URI_INVALID'],
    [`otpauth://totp/x?secret=${B32}&secret=${B32}`, 'URI_INVALID'],
    [`otpauth://totp/x?secret=${B32}&algorithm=MD5`, 'URI_INVALID'],
    [`otpauth://totp/x?secret=${B32}&digits=5`, 'URI_INVALID'],
    [`otpauth://totp/x?secret=${B32}&digits=six`, 'URI_INVALID'],
    [`otpauth://totp/x?secret=${B32}&period=0`, 'URI_INVALID'],
    [`otpauth://totp/x?secret=${B32}&period=-30`, 'URI_INVALID'],
    [`otpauth://hotp/x?secret=${B32}`, 'URI_INVALID'],
    [`otpauth://totp/x?secret=${B32}&encoder=base26`, 'URI_INVALID'],
    [`otpauth://totp/%E0%A4%A?secret=${B32}`, 'URI_INVALID'],
    [`otpauth://totp/x?secret=${B32}1`, 'URI_INVALID'],
    [`otpauth://totp/x?secret=${B32}&image=${'a'.repeat(1100)}`, 'URI_INVALID'],
    [`otpauth://totp/${'a'.repeat(MAX_URI_LENGTH)}?secret=${B32}`, 'URI_INVALID'],
    [`otpauth://totp/${'a'.repeat(300)}?secret=${B32}`, 'URI_INVALID'],
  ])('refuses %s', (uri, code) => {
    expect(codeOf(() => parseKeyUri(uri))).toBe(code);
  });

  it("reads a short key (Google's own example is 80 bits), and refuses it when asked for a floor", () => {
    expect(parseKeyUri('otpauth://totp/X:y?secret=JBSWY3DPEHPK3PXP&issuer=X').secret).toHaveLength(10);
    expect(codeOf(() => parseKeyUri('otpauth://totp/x?secret=JBSWY3DPEHPK3PXP', { minSecretBytes: 16 }))).toBe(
      'URI_INVALID',
    );
  });

  it('round-trips anything formatKeyUri writes', () => {
    const text = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter((s) => !s.includes(':'));
    fc.assert(
      fc.property(
        fc.record({
          type: fc.constantFrom('totp' as const, 'hotp' as const),
          secret: fc.uint8Array({ minLength: 1, maxLength: 128 }),
          account: text.filter((s) => s.trimStart() === s),
          issuer: fc.option(text, { nil: undefined }),
          algorithm: fc.constantFrom('SHA-1' as const, 'SHA-256' as const, 'SHA-512' as const),
          digits: fc.integer({ min: 6, max: 10 }),
          periodSeconds: fc.integer({ min: 1, max: 3600 }),
          counter: fc.maxSafeNat(),
        }),
        (input) => {
          const parsed = parseKeyUri(formatKeyUri(input));
          expect(parsed).toMatchObject({
            type: input.type,
            secret: input.secret,
            account: input.account,
            algorithm: input.algorithm,
            digits: input.digits,
          });
          expect(parsed.issuer).toBe(input.issuer);
          if (input.type === 'totp') expect(parsed.periodSeconds).toBe(input.periodSeconds);
          else expect(parsed.counter).toBe(input.counter);
        },
      ),
      { numRuns: 300 },
    );
  });
});
