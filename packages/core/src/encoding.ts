// Base32 (RFC 4648 §6) and hex for keys: tolerant on input, canonical on output.

import { OtpkitError } from './errors.js';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// Symbol value per char code, upper and lower case; -1 for anything else.
const BASE32_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 32; i++) {
  BASE32_VALUES[BASE32_ALPHABET.charCodeAt(i)] = i;
  BASE32_VALUES[BASE32_ALPHABET.toLowerCase().charCodeAt(i)] = i;
}

// What people paste between groups: spaces, tabs, line breaks and hyphens.
function isSeparator(charCode: number): boolean {
  return charCode === 0x20 || charCode === 0x2d || charCode === 0x09 || charCode === 0x0a || charCode === 0x0d;
}

/**
 * Canonical base32: uppercase, no padding.
 *
 * @example base32Encode(new TextEncoder().encode('12345678901234567890'))
 * // 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
 */
function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff; // at most 4 pending bits + 8 new
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Decodes base32 the way people paste it: any case, with spaces, hyphens or
 * line breaks between groups, with or without trailing `=` padding. Errors
 * name the 1-based position of the offending character, never the character.
 */
function base32Decode(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let length = 0;
  let symbols = 0;
  let buffer = 0;
  let bits = 0;
  let padding = false;
  for (let i = 0; i < text.length; i++) {
    const charCode = text.charCodeAt(i);
    if (isSeparator(charCode)) continue;
    if (charCode === 0x3d) {
      padding = true; // '=' may only be followed by more '=' or separators
      continue;
    }
    const value = charCode < 128 ? BASE32_VALUES[charCode]! : -1;
    if (value < 0 || padding) {
      throw new OtpkitError('BASE32_INVALID', `base32: unexpected character at position ${i + 1}`);
    }
    symbols++;
    buffer = ((buffer << 5) | value) & 0xfff; // at most 7 pending bits + 5 new
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[length++] = buffer >>> bits;
    }
  }
  // 8 symbols carry 5 bytes; 1, 3 or 6 symbols left over cannot end a byte string.
  const rest = symbols % 8;
  if (rest === 1 || rest === 3 || rest === 6) {
    throw new OtpkitError('BASE32_INVALID', `base32: ${symbols} symbols is not a valid length`);
  }
  return out.slice(0, length);
}

/** Decodes hex keys (as oathtool takes them): any case, spaces ignored. */
function hexDecode(text: string): Uint8Array {
  const digits: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const charCode = text.charCodeAt(i);
    if (charCode === 0x20) continue;
    const value = hexValue(charCode);
    if (value < 0) throw new OtpkitError('HEX_INVALID', `hex: unexpected character at position ${i + 1}`);
    digits.push(value);
  }
  if (digits.length % 2 !== 0) {
    throw new OtpkitError('HEX_INVALID', `hex: ${digits.length} digits is not a whole number of bytes`);
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = (digits[2 * i]! << 4) | digits[2 * i + 1]!;
  return out;
}

function hexValue(charCode: number): number {
  if (charCode >= 0x30 && charCode <= 0x39) return charCode - 0x30;
  const lower = charCode | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Lowercase hex. */
function hexEncode(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const BASE64_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) BASE64_VALUES[BASE64URL_ALPHABET.charCodeAt(i)] = i;
BASE64_VALUES[0x2b] = 62; // '+' of standard base64
BASE64_VALUES[0x2f] = 63; // '/' of standard base64

/** Base64url (RFC 4648 §5), unpadded: the form of every value otpkit writes. */
function base64UrlEncode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) out += BASE64URL_ALPHABET[(n >>> (18 - 6 * j)) & 63];
  }
  return out;
}

/** What a caller inside the package reports bad base64 as: the value it was reading. */
type Base64ErrorCode = 'KEYRING_INVALID' | 'SEAL_INVALID' | 'MIGRATION_INVALID' | 'OPTION_INVALID';

/**
 * Decodes base64 or base64url, padded or not. Strict otherwise: a bad
 * character or length throws `OPTION_INVALID` with the position, never the
 * character.
 *
 * @example base64Decode('AQID') // Uint8Array [1, 2, 3]
 */
function base64Decode(text: string): Uint8Array<ArrayBuffer>;
/** @internal The package's own readers throw their own code (stripped from the published types). */
function base64Decode(text: string, code: Base64ErrorCode): Uint8Array<ArrayBuffer>;
function base64Decode(text: string, code: Base64ErrorCode = 'OPTION_INVALID'): Uint8Array<ArrayBuffer> {
  const body = text.replace(/={1,2}$/, '');
  if (body.length % 4 === 1) throw new OtpkitError(code, `base64: ${body.length} characters is not a valid length`);
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let length = 0;
  for (let i = 0; i < body.length; i++) {
    const charCode = body.charCodeAt(i);
    const value = charCode < 128 ? BASE64_VALUES[charCode]! : -1;
    if (value < 0) throw new OtpkitError(code, `base64: unexpected character at position ${i + 1}`);
    buffer = ((buffer << 6) | value) & 0x3fff; // at most 6 pending bits + 6 new
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[length++] = buffer >>> bits;
    }
  }
  // Canonical only: the bits left over must be zero, so each value has one spelling.
  if ((buffer & ((1 << bits) - 1)) !== 0) throw new OtpkitError(code, 'base64: non-zero trailing bits');
  return out;
}

export { base32Decode, base32Encode, base64Decode, base64UrlEncode, hexDecode, hexEncode };
