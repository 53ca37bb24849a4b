// The key ring: named 256-bit master keys, the first one current. Each master
// key yields two subkeys, one to seal secrets and one to hash backup codes.

import { base64Decode, base64UrlEncode } from '../encoding.js';
import { OtpkitError } from '../errors.js';
import { type HmacKey, hmac, hmacKey } from '../hmac.js';
import type { RandomBytes } from '../secret.js';
import { webCryptoRandomBytes } from '../secret.js';

/** AES-256 and HMAC-SHA-256 keys: 32 bytes, no more, no less. */
const MASTER_KEY_BYTES = 32;
/** Key ids appear in every sealed value and stored hash: short, and never a '.'. */
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** A ring is a handful of keys being rotated, not a database. */
const MAX_KEYS = 16;

interface RingKey {
  /** AES-256-GCM, for sealing secrets (non-extractable). */
  readonly seal: CryptoKey;
  /** HMAC-SHA-256 key schedule, for hashing backup codes. */
  readonly mac: HmacKey;
}

/** Opaque: built by parseKeyRing, used by the sealing and backup-code functions. */
interface KeyRing {
  /** The id new values are sealed and hashed under. */
  readonly currentId: string;
  readonly ids: readonly string[];
  /** @internal */
  readonly keys: ReadonlyMap<string, RingKey>;
}

const encoder = new TextEncoder();

// RFC 5869 HKDF-Expand for one 32-byte block, with the master key as the PRK:
// §3.3 allows skipping Extract when the input is already a uniform random key.
function subkey(master: Uint8Array, purpose: string): Uint8Array<ArrayBuffer> {
  const info = encoder.encode(`otpkit/v1/${purpose}\u0001`);
  return hmac('SHA-256', master, info);
}

function invalid(message: string): OtpkitError {
  return new OtpkitError('KEYRING_INVALID', `key ring: ${message}`);
}

/**
 * Builds a key ring from the form an operator keeps in an environment
 * variable: `id:base64,id:base64,...`, current key first (base64 or
 * base64url, 32 bytes each). Rotation: put a new key first, reseal, then
 * drop the old one.
 *
 * @example const ring = await parseKeyRing(configuredKeys); // e.g. from OTPKIT_KEYS
 */
async function parseKeyRing(text: string | undefined): Promise<KeyRing> {
  if (typeof text !== 'string' || text.trim() === '') throw invalid('no keys given');
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.length > MAX_KEYS) throw invalid(`at most ${MAX_KEYS} keys`);
  const keys = new Map<string, RingKey>();
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = entry.slice(0, colon);
    if (colon < 0 || !KEY_ID_PATTERN.test(id)) {
      throw invalid(`entry ${index + 1} must be ID:BASE64 with an id of 1 to 32 letters, digits, '-' or '_'`);
    }
    if (keys.has(id)) throw invalid(`entry ${index + 1} repeats the id ${id}`);
    let master: Uint8Array;
    try {
      master = base64Decode(entry.slice(colon + 1), 'KEYRING_INVALID');
    } catch {
      throw invalid(`key ${id} is not base64`);
    }
    if (master.length !== MASTER_KEY_BYTES) {
      throw invalid(`key ${id} must be ${MASTER_KEY_BYTES} bytes, got ${master.length}`);
    }
    const seal = await globalThis.crypto.subtle.importKey('raw', subkey(master, 'seal'), 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ]);
    keys.set(id, { seal, mac: hmacKey('SHA-256', subkey(master, 'backup-code')) });
  }
  const ids = [...keys.keys()];
  return Object.freeze({ currentId: ids[0]!, ids: Object.freeze(ids), keys });
}

/**
 * A new key-ring entry, `id:base64url`, from a CSPRNG.
 *
 * @example generateKeyRingEntry({ id: 'k2' }) // 'k2:3q2-7w...'
 */
function generateKeyRingEntry(options: { id: string; randomBytes?: RandomBytes }): string {
  const { id, randomBytes = webCryptoRandomBytes } = options;
  if (typeof id !== 'string' || !KEY_ID_PATTERN.test(id)) {
    throw invalid("the id must be 1 to 32 letters, digits, '-' or '_'");
  }
  const key = randomBytes(MASTER_KEY_BYTES);
  if (!(key instanceof Uint8Array) || key.length !== MASTER_KEY_BYTES) {
    throw new OtpkitError('OPTION_INVALID', `randomBytes must return a Uint8Array of ${MASTER_KEY_BYTES} bytes`);
  }
  return `${id}:${base64UrlEncode(key)}`;
}

function ringKey(ring: KeyRing, id: string): RingKey {
  const key = ring.keys.get(id);
  if (!key) throw new OtpkitError('SEAL_KEY_UNKNOWN', `no key with the id ${id} in the key ring`);
  return key;
}

export type { KeyRing };
export { generateKeyRingEntry, parseKeyRing, ringKey };
