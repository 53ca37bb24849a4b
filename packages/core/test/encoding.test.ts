// Base32 and hex: tolerant input, canonical output, errors that never show input.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  base32Decode,
  base32Encode,
  generateSecret,
  groupSecret,
  hexDecode,
  hexEncode,
  OtpkitError,
} from '../src/index.js';

const ascii = (text: string) => new TextEncoder().encode(text);

function errorOf(fn: () => unknown): OtpkitError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OtpkitError);
    return error as OtpkitError;
  }
  throw new Error('expected an OtpkitError');
}

describe('base32', () => {
  it('encodes the RFC 4648 §10 vectors canonically (uppercase, unpadded)', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(ascii(plain))).toBe(encoded);
      expect(base32Decode(encoded)).toEqual(ascii(plain));
    }
  });

  it('decodes what people paste: case, spaces, hyphens, line breaks, padding', () => {
    const expected = ascii('foobar');
    for (const pasted of [
      'mzxw6ytboi',
      'MZXW 6YTB OI',
      'mzxw-6ytb-oi',
      'MZXW6YTBOI======',
      ' MZXW\n6YTB\tOI ',
      'MzXw6yTbOi==',
    ]) {
      expect(base32Decode(pasted), pasted).toEqual(expected);
    }
  });

  it('round-trips any bytes, and accepts its own grouped form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const encoded = base32Encode(bytes);
        expect(encoded).toMatch(/^[A-Z2-7]*$/);
        expect(base32Decode(encoded)).toEqual(bytes);
        expect(base32Decode(encoded.toLowerCase())).toEqual(bytes);
        expect(base32Decode(groupSecret(encoded))).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('names the position of a bad character, never the character', () => {
    for (const [input, position] of [
      ['MZXW1YTB', 5],
      ['MZXW0YTB', 5],
      ['MZXW6YT!', 8],
      ['MZXW6YTBOI=A', 12],
      ['MZXW6YTBOÉ', 10],
    ] as const) {
      const error = errorOf(() => base32Decode(input));
      expect(error.code).toBe('BASE32_INVALID');
      expect(error.message).toBe(`base32: unexpected character at position ${position}`);
    }
  });

  it('refuses lengths that cannot be base32', () => {
    for (const input of ['M', 'MZX', 'MZXW6Y']) {
      expect(errorOf(() => base32Decode(input)).code).toBe('BASE32_INVALID');
    }
  });
});

describe('hex', () => {
  it('round-trips and tolerates case and spaces', () => {
    expect(hexDecode('00ff 10AB')).toEqual(Uint8Array.of(0, 255, 16, 171));
    fc.assert(
      fc.property(fc.uint8Array(), (bytes) => {
        expect(hexDecode(hexEncode(bytes))).toEqual(bytes);
      }),
    );
  });
  it('refuses bad hex without echoing it', () => {
    expect(errorOf(() => hexDecode('abc')).code).toBe('HEX_INVALID');
    const error = errorOf(() => hexDecode('abzz'));
    expect(error.message).toBe('hex: unexpected character at position 3');
  });
});

describe('secrets', () => {
  it('are 20 random bytes by default, from an injectable source', () => {
    expect(generateSecret()).toHaveLength(20);
    expect(generateSecret()).not.toEqual(generateSecret());
    expect(generateSecret({ bytes: 32, randomBytes: (n) => new Uint8Array(n).fill(7) })).toEqual(
      new Uint8Array(32).fill(7),
    );
  });
  it('refuses sizes under 16 or over 128 bytes, and broken random sources', () => {
    for (const bytes of [15, 129, 16.5]) expect(errorOf(() => generateSecret({ bytes })).code).toBe('OPTION_INVALID');
    expect(errorOf(() => generateSecret({ randomBytes: () => new Uint8Array(3) })).code).toBe('OPTION_INVALID');
  });
  it('group into fours for typing', () => {
    expect(groupSecret('S3JDVB7QD2R7JPXX')).toBe('S3JD VB7Q D2R7 JPXX');
    expect(groupSecret('S3JDVB7QD2')).toBe('S3JD VB7Q D2');
  });
});
