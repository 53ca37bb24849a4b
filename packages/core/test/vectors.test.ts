// The RFC 4226 and RFC 6238 vectors, through the public API and the HMAC underneath.

import { describe, expect, it } from 'vitest';
import { hmac, hmacKey, truncatedHmac } from '../src/hmac.js';
import { createHotp, createTotp, hexEncode } from '../src/index.js';
import { RFC4226_HOTP, RFC4226_SECRET, RFC6238_SECRETS, RFC6238_TOTP } from './vectors.js';

describe('RFC 4226 Appendix D', () => {
  const hotp = createHotp({ secret: RFC4226_SECRET });
  const key = hmacKey('SHA-1', RFC4226_SECRET);
  it.each(RFC4226_HOTP)('counter $counter', ({ counter, hmac: expected, truncated, hotp: code }) => {
    const message = new Uint8Array(8);
    new DataView(message.buffer).setUint32(4, counter);
    expect(hexEncode(hmac('SHA-1', RFC4226_SECRET, message))).toBe(expected);
    expect(truncatedHmac(key, counter)).toBe(truncated);
    expect(hotp.generate(counter)).toBe(code);
    expect(hotp.verify(code, { counter })).toMatchObject({ ok: true, counter, delta: 0 });
  });
});

describe('RFC 6238 Appendix B', () => {
  it.each(RFC6238_TOTP)('$algorithm at T=$time', ({ time, counterHex, algorithm, totp: code }) => {
    const totp = createTotp({ secret: RFC6238_SECRETS[algorithm], algorithm, digits: 8 });
    expect(totp.counterAt(time)).toBe(Number.parseInt(counterHex, 16));
    expect(totp.generate(time)).toBe(code);
    const result = totp.verify(code, { nowSeconds: time, window: 0 });
    expect(result).toEqual({
      ok: true,
      counter: Number.parseInt(counterHex, 16),
      expectedCounter: Number.parseInt(counterHex, 16),
      delta: 0,
      expiresAt: expect.any(Number),
    });
  });
});
