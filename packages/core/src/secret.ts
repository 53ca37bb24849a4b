// Shared secrets: generation, length rules and the grouped form people type.

import { OtpkitError } from './errors.js';

/** RFC 4226 §4 R6 recommends 160 bits; it is also what authenticator apps expect. */
const DEFAULT_SECRET_BYTES = 20;
/** RFC 4226 §4 R6: the shared secret MUST be at least 128 bits. */
const MIN_SECRET_BYTES = 16;
/** The largest HMAC block (SHA-512); HMAC hashes longer keys down anyway (RFC 2104 §3). */
const MAX_SECRET_BYTES = 128;

/** A source of cryptographically secure random bytes. */
type RandomBytes = (length: number) => Uint8Array;

/** Web Crypto's CSPRNG: the same call in Node, browsers, Deno, Bun and workers. */
const webCryptoRandomBytes: RandomBytes = (length) => globalThis.crypto.getRandomValues(new Uint8Array(length));

interface GenerateSecretOptions {
  /** Key length, from 16 to 128 bytes; 20 by default. */
  bytes?: number;
  /** Where randomness comes from; Web Crypto's `getRandomValues` by default. */
  randomBytes?: RandomBytes;
}

/**
 * A new random shared secret.
 *
 * @example base32Encode(generateSecret()) // 32 characters, 160 bits
 */
function generateSecret(options: GenerateSecretOptions = {}): Uint8Array {
  const { bytes = DEFAULT_SECRET_BYTES, randomBytes = webCryptoRandomBytes } = options;
  if (!Number.isInteger(bytes) || bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw new OtpkitError(
      'OPTION_INVALID',
      `bytes must be an integer from ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES}, got ${String(bytes)}`,
    );
  }
  const secret = randomBytes(bytes);
  if (!(secret instanceof Uint8Array) || secret.length !== bytes) {
    throw new OtpkitError('OPTION_INVALID', `randomBytes must return a Uint8Array of ${bytes} bytes`);
  }
  return secret;
}

/**
 * Checks a key's length: from `minBytes` (1 unless the caller says more) up
 * to 128 bytes. RFC 4226's 128-bit floor (§4 R6) is a rule for issuing keys,
 * which generateSecret keeps; a key someone already holds is read as it is,
 * as oathtool, pyotp and every authenticator app do. A verifier that must
 * refuse short keys passes `minSecretBytes: MIN_SECRET_BYTES`.
 */
function checkSecret(secret: unknown, minBytes: unknown = 1): asserts secret is Uint8Array {
  if (typeof minBytes !== 'number' || !Number.isInteger(minBytes) || minBytes < 1 || minBytes > MAX_SECRET_BYTES) {
    throw new OtpkitError('OPTION_INVALID', `minSecretBytes must be an integer from 1 to ${MAX_SECRET_BYTES}`);
  }
  if (!(secret instanceof Uint8Array)) {
    throw new OtpkitError('OPTION_INVALID', 'secret must be a Uint8Array');
  }
  if (secret.length < minBytes) {
    throw new OtpkitError('SECRET_TOO_SHORT', `secret must be at least ${minBytes} bytes, got ${secret.length}`);
  }
  if (secret.length > MAX_SECRET_BYTES) {
    throw new OtpkitError('SECRET_TOO_LONG', `secret must be at most ${MAX_SECRET_BYTES} bytes, got ${secret.length}`);
  }
}

/**
 * The grouped form for people typing a key by hand: groups of four
 * separated by spaces. Base32 decoding accepts it back as is.
 *
 * @example groupSecret('S3JDVB7QD2R7JPXX') // 'S3JD VB7Q D2R7 JPXX'
 */
function groupSecret(base32: string): string {
  return base32.replace(/(.{4})(?=.)/g, '$1 ');
}

export type { GenerateSecretOptions, RandomBytes };
export {
  checkSecret,
  DEFAULT_SECRET_BYTES,
  generateSecret,
  groupSecret,
  MAX_SECRET_BYTES,
  MIN_SECRET_BYTES,
  webCryptoRandomBytes,
};
