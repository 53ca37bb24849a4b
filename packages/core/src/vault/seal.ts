// Secrets sealed at rest with AES-256-GCM, under a key ring (whose AEAD is
// WebCrypto's unless the caller gave another: see keyring.ts).
//
// Layout, version 1:   v1.<keyId>.<nonce>.<ciphertext+tag>
//   keyId       the ring key that sealed it (1-32 of A-Z a-z 0-9 - _)
//   nonce       12 random bytes, base64url (NIST SP 800-38D §8.2.2)
//   ciphertext  the secret, followed by the 16-byte GCM tag, base64url
// Associated data: UTF-8 of "v1.<keyId>.<associatedData>", where the caller's
// associatedData names the owner (say "user:42/factor:7"). A value copied to
// another owner's row, or edited in any bit, fails to open.

import { base64Decode, base64UrlEncode } from '../encoding.js';
import { OtpkitError } from '../errors.js';
import { type RandomBytes, webCryptoRandomBytes } from '../secret.js';
import { type KeyRing, ringKey, TAG_BYTES } from './keyring.js';

const VERSION = 'v1';
const NONCE_BYTES = 12;
/** Secrets are keys of at most 128 bytes; this leaves room and bounds the work. */
const MAX_PLAINTEXT_BYTES = 256;
const MAX_SEALED_LENGTH = 512;
const MAX_ASSOCIATED_DATA_LENGTH = 512;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

interface SealOptions {
  /** Names the owner: the sealed value opens only with the same string. */
  associatedData: string;
  randomBytes?: RandomBytes;
}

interface Opened {
  secret: Uint8Array;
  /** Sealed under a key that is no longer current: seal it again and store that. */
  needsReseal: boolean;
  keyId: string;
}

const encoder = new TextEncoder();

function additionalData(keyId: string, associatedData: unknown): Uint8Array<ArrayBuffer> {
  if (
    typeof associatedData !== 'string' ||
    associatedData === '' ||
    associatedData.length > MAX_ASSOCIATED_DATA_LENGTH
  ) {
    throw new OtpkitError(
      'OPTION_INVALID',
      `associatedData must name the owner in 1 to ${MAX_ASSOCIATED_DATA_LENGTH} characters`,
    );
  }
  return encoder.encode(`${VERSION}.${keyId}.${associatedData}`);
}

// The one answer to every failure to open: no oracle for what was wrong.
function cannotOpen(): OtpkitError {
  return new OtpkitError('SEAL_INVALID', 'sealed value could not be opened');
}

/**
 * Seals a secret under the ring's current key, bound to its owner.
 *
 * @example const sealed = await sealSecret(ring, secret, { associatedData: `user:${id}/totp` });
 */
async function sealSecret(ring: KeyRing, secret: Uint8Array, options: SealOptions): Promise<string> {
  if (!(secret instanceof Uint8Array) || secret.length === 0 || secret.length > MAX_PLAINTEXT_BYTES) {
    throw new OtpkitError('OPTION_INVALID', `secret must be a Uint8Array of 1 to ${MAX_PLAINTEXT_BYTES} bytes`);
  }
  const keyId = ring.currentId;
  const data = additionalData(keyId, options.associatedData);
  const nonce = (options.randomBytes ?? webCryptoRandomBytes)(NONCE_BYTES);
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) {
    throw new OtpkitError('OPTION_INVALID', `randomBytes must return a Uint8Array of ${NONCE_BYTES} bytes`);
  }
  const { seal } = ringKey(ring, keyId);
  let sealed: Uint8Array;
  try {
    sealed = await seal.encrypt(nonce, secret, data);
  } catch (cause) {
    throw new OtpkitError('OPTION_INVALID', 'aead: encrypt failed', { cause });
  }
  // A plug-in AEAD that drops the tag or pads would store what no AES-GCM can open.
  const sealedBytes = secret.length + TAG_BYTES;
  if (!(sealed instanceof Uint8Array) || sealed.length !== sealedBytes) {
    throw new OtpkitError('OPTION_INVALID', `aead: encrypt must return a Uint8Array of ${sealedBytes} bytes`);
  }
  return `${VERSION}.${keyId}.${base64UrlEncode(nonce)}.${base64UrlEncode(sealed)}`;
}

/**
 * Opens a sealed secret. Any failure (tampered, moved to another owner, wrong
 * key, not a sealed value) is SEAL_INVALID with one neutral message; a key id
 * the ring does not hold is SEAL_KEY_UNKNOWN.
 */
async function openSecret(ring: KeyRing, sealed: string, options: { associatedData: string }): Promise<Opened> {
  if (typeof sealed !== 'string' || sealed.length > MAX_SEALED_LENGTH) throw cannotOpen();
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw cannotOpen();
  const [, keyId, nonceText, bodyText] = parts as [string, string, string, string];
  if (!BASE64URL.test(nonceText) || !BASE64URL.test(bodyText)) throw cannotOpen();
  const key = ringKey(ring, keyId);
  const data = additionalData(keyId, options.associatedData);
  let nonce: Uint8Array<ArrayBuffer>;
  let body: Uint8Array<ArrayBuffer>;
  try {
    nonce = base64Decode(nonceText, 'SEAL_INVALID');
    body = base64Decode(bodyText, 'SEAL_INVALID');
  } catch {
    throw cannotOpen();
  }
  if (nonce.length !== NONCE_BYTES || body.length <= TAG_BYTES) throw cannotOpen();
  let secret: Uint8Array;
  try {
    secret = await key.seal.decrypt(nonce, body, data);
  } catch {
    throw cannotOpen();
  }
  if (!(secret instanceof Uint8Array) || secret.length !== body.length - TAG_BYTES) throw cannotOpen();
  // A copy of its own: a plug-in's answer may be a view into a shared memory pool (as Node's are).
  return { secret: new Uint8Array(secret), needsReseal: keyId !== ring.currentId, keyId };
}

export type { Opened, SealOptions };
export { openSecret, sealSecret };
