// The key ring: named 256-bit master keys, the first one current. Each master
// key yields two subkeys, one to seal secrets and one to hash backup codes.
// Sealing goes through an AEAD interface: WebCrypto's AES-256-GCM by default,
// or the caller's, e.g. node:crypto's, which runs on the calling thread
// instead of queueing on libuv's thread pool behind password hashing.

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
/** GCM's 128-bit tag, the longest (NIST SP 800-38D §5.2.1.2). */
const TAG_BYTES = 16;

/**
 * AES-256-GCM under one key: a 12-byte nonce, and the 16-byte tag appended
 * to the ciphertext. Either method may answer synchronously or with a Promise.
 */
interface Aead {
  encrypt(nonce: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Throws (any error) when the tag does not verify. */
  decrypt(nonce: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** Makes the AEAD for one ring key from its 32-byte sealing subkey; called once per key, by parseKeyRing. */
type AeadFactory = (key: Uint8Array) => Aead | Promise<Aead>;

interface KeyRingOptions {
  /** AES-256-GCM to seal and open secrets with; WebCrypto's by default. */
  aead?: AeadFactory;
}

interface RingKey {
  /** AES-256-GCM under the sealing subkey. */
  readonly seal: Aead;
  /** HMAC-SHA-256 key schedule, for hashing backup codes. */
  readonly mac: HmacKey;
}

// A mark in the types only (no such property exists): a KeyRing comes from
// parseKeyRing, never from an object literal that merely has the same ids.
declare const KEY_RING: unique symbol;

/** Opaque: built by parseKeyRing, used by the sealing and backup-code functions. */
interface KeyRing {
  readonly [KEY_RING]: true;
  /** The id new values are sealed and hashed under. */
  readonly currentId: string;
  /** Every key's id, the current one first. */
  readonly ids: readonly string[];
  /**
   * @internal The keys themselves: stripped from the published types, and
   * not enumerable, so logging or serialising a ring shows none of it.
   */
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

// WebCrypto wants ArrayBuffer-backed views; a copy is one, whatever the caller passed.
const own = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);

/** The default: WebCrypto's AES-GCM, the key imported once and not extractable. */
async function webCryptoAead(key: Uint8Array): Promise<Aead> {
  const subtle = globalThis.crypto.subtle;
  const aesKey = await subtle.importKey('raw', own(key), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const parameters = (nonce: Uint8Array, associatedData: Uint8Array): AesGcmParams => ({
    name: 'AES-GCM',
    iv: own(nonce),
    additionalData: own(associatedData),
    tagLength: TAG_BYTES * 8,
  });
  return {
    encrypt: async (nonce, plaintext, associatedData) =>
      new Uint8Array(await subtle.encrypt(parameters(nonce, associatedData), aesKey, own(plaintext))),
    decrypt: async (nonce, sealed, associatedData) =>
      new Uint8Array(await subtle.decrypt(parameters(nonce, associatedData), aesKey, own(sealed))),
  };
}

async function makeAead(factory: AeadFactory, key: Uint8Array, id: string): Promise<Aead> {
  let aead: Aead;
  try {
    aead = await factory(key);
  } catch (cause) {
    throw new OtpkitError('OPTION_INVALID', `aead: the factory failed for key ${id}`, { cause });
  }
  if (typeof aead?.encrypt !== 'function' || typeof aead.decrypt !== 'function') {
    throw new OtpkitError('OPTION_INVALID', 'aead: the factory must return an object with encrypt and decrypt');
  }
  return aead;
}

/**
 * Builds a key ring from the form an operator keeps in an environment
 * variable: `id:base64,id:base64,...`, current key first (base64 or
 * base64url, 32 bytes each). Rotation: put a new key first, reseal, then
 * drop the old one. `options.aead` replaces WebCrypto's AES-256-GCM; values
 * sealed under either open under the other.
 *
 * @example const ring = await parseKeyRing(configuredKeys); // e.g. from OTPKIT_KEYS
 */
async function parseKeyRing(text: string | undefined, options: KeyRingOptions = {}): Promise<KeyRing> {
  const { aead = webCryptoAead } = options;
  if (typeof aead !== 'function') throw new OtpkitError('OPTION_INVALID', 'aead must be a function');
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
    const seal = await makeAead(aead, subkey(master, 'seal'), id);
    keys.set(id, { seal, mac: hmacKey('SHA-256', subkey(master, 'backup-code')) });
  }
  const ids = [...keys.keys()];
  const ring = Object.defineProperty({ currentId: ids[0]!, ids: Object.freeze(ids) }, 'keys', { value: keys });
  return Object.freeze(ring as KeyRing);
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

export type { Aead, AeadFactory, KeyRing, KeyRingOptions };
export { generateKeyRingEntry, parseKeyRing, ringKey, TAG_BYTES };
