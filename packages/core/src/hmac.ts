// HMAC (RFC 2104) over SHA-1, SHA-256 and SHA-512. The keyed inner and outer
// states are computed once per key, so each OTP candidate then costs exactly
// two compression calls and allocates nothing.

import { SHA1_IV, sha1Compress } from './hash/sha1.js';
import { SHA256_IV, sha256Compress } from './hash/sha256.js';
import { SHA512_IV, sha512Compress } from './hash/sha512.js';
import { sha512Wasm } from './hash/sha512-wasm.js';

/** The HMAC hash functions of RFC 6238 §1.2. */
type Algorithm = 'SHA-1' | 'SHA-256' | 'SHA-512';

interface Hash {
  readonly blockBytes: 64 | 128;
  readonly digestBytes: 20 | 32 | 64;
  /** Size of the message-length field in the final padded block (FIPS 180-4 §5.1). */
  readonly lengthBytes: 8 | 16;
  readonly iv: Int32Array;
  readonly compress: (state: Int32Array, w: Int32Array) => void;
}

const HASHES: Readonly<Record<Algorithm, Hash>> = {
  'SHA-1': { blockBytes: 64, digestBytes: 20, lengthBytes: 8, iv: SHA1_IV, compress: sha1Compress },
  'SHA-256': {
    blockBytes: 64,
    digestBytes: 32,
    lengthBytes: 8,
    iv: SHA256_IV,
    compress: sha256Compress,
  },
  'SHA-512': {
    blockBytes: 128,
    digestBytes: 64,
    lengthBytes: 16,
    iv: SHA512_IV,
    compress: (state, w) => (sha512Wasm()?.compress ?? sha512Compress)(state, w),
  },
};

// Scratch space shared by every call: JavaScript runs one call at a time and
// nothing here awaits, so reuse is safe and keeps the hot path allocation-free.
const W = new Int32Array(160); // the largest message schedule (SHA-512: 80 pairs)
const S = new Int32Array(16); // the largest state (SHA-512: 8 pairs)

interface HmacKey {
  readonly hash: Hash;
  /** State after absorbing key XOR ipad. */
  readonly inner: Int32Array;
  /** State after absorbing key XOR opad. */
  readonly outer: Int32Array;
}

function isAlgorithm(value: unknown): value is Algorithm {
  return typeof value === 'string' && Object.hasOwn(HASHES, value);
}

/** Precomputes the HMAC key schedule (RFC 2104 §2, steps 1-2 and 5). */
function hmacKey(algorithm: Algorithm, key: Uint8Array): HmacKey {
  const hash = HASHES[algorithm];
  const padded = new Uint8Array(hash.blockBytes);
  padded.set(key.length > hash.blockBytes ? digest(algorithm, key) : key);
  const inner = hash.iv.slice();
  const outer = hash.iv.slice();
  loadBlock(padded, 0, hash.blockBytes, 0x36);
  hash.compress(inner, W);
  loadBlock(padded, 0, hash.blockBytes, 0x5c);
  hash.compress(outer, W);
  return { hash, inner, outer };
}

/**
 * HMAC of an 8-byte big-endian counter (RFC 4226 §5.2), reduced by dynamic
 * truncation (RFC 4226 §5.3) to a 31-bit integer.
 */
function truncatedHmac(key: HmacKey, counter: number): number {
  const wasm = key.hash.blockBytes === 128 ? sha512Wasm() : undefined;
  return wasm ? wasm.truncatedHmac(key.inner, key.outer, counter) : truncatedHmacJs(key, counter);
}

/** truncatedHmac in JavaScript: every hash, and SHA-512 where WebAssembly is refused. */
function truncatedHmacJs(key: HmacKey, counter: number): number {
  const { hash } = key;
  const blockWords = hash.blockBytes >> 2;
  const digestWords = hash.digestBytes >> 2;
  S.set(key.inner);
  W[0] = counter / 0x100000000; // high 32 bits; counters stay below 2^53
  W[1] = counter; // Int32Array keeps the low 32 bits
  W[2] = 0x80000000;
  W.fill(0, 3, blockWords - 1);
  W[blockWords - 1] = (hash.blockBytes + 8) * 8;
  hash.compress(S, W);
  for (let i = 0; i < digestWords; i++) W[i] = S[i]!;
  W[digestWords] = 0x80000000;
  W.fill(0, digestWords + 1, blockWords - 1);
  W[blockWords - 1] = (hash.blockBytes + hash.digestBytes) * 8;
  S.set(key.outer);
  hash.compress(S, W);
  // The low 4 bits of the last digest byte pick where 4 bytes are read.
  const offset = S[digestWords - 1]! & 0xf;
  const shift = (offset & 3) << 3;
  const high = S[offset >> 2]!;
  const low = S[(offset >> 2) + 1]!;
  // (low >>> 1) >>> (31 - shift) is low >>> (32 - shift), and 0 when shift is 0.
  return ((high << shift) | ((low >>> 1) >>> (31 - shift))) & 0x7fffffff;
}

/** HMAC of any message. */
function hmac(algorithm: Algorithm, key: Uint8Array, message: Uint8Array): Uint8Array<ArrayBuffer> {
  return hmacPrepared(hmacKey(algorithm, key), message);
}

/** HMAC of any message under a precomputed key schedule. */
function hmacPrepared({ hash, inner, outer }: HmacKey, message: Uint8Array): Uint8Array<ArrayBuffer> {
  const innerState = inner.slice();
  absorbFinal(hash, innerState, message, hash.blockBytes);
  const outerState = outer.slice();
  absorbFinal(hash, outerState, toBytes(innerState, hash.digestBytes), hash.blockBytes);
  return toBytes(outerState, hash.digestBytes);
}

/** The hash of a whole message. */
function digest(algorithm: Algorithm, message: Uint8Array): Uint8Array<ArrayBuffer> {
  const hash = HASHES[algorithm];
  const state = hash.iv.slice();
  absorbFinal(hash, state, message, 0);
  return toBytes(state, hash.digestBytes);
}

/** Pads and absorbs the rest of a message, after `prefixBytes` already absorbed. */
function absorbFinal(hash: Hash, state: Int32Array, data: Uint8Array, prefixBytes: number): void {
  const blocks = Math.ceil((data.length + 1 + hash.lengthBytes) / hash.blockBytes);
  const padded = new Uint8Array(blocks * hash.blockBytes);
  padded.set(data);
  padded[data.length] = 0x80;
  const bits = (prefixBytes + data.length) * 8;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(padded.length - 4, bits >>> 0);
  for (let at = 0; at < padded.length; at += hash.blockBytes) {
    loadBlock(padded, at, hash.blockBytes, 0);
    hash.compress(state, W);
  }
}

/** Loads one block of `bytes` from `at` into W as big-endian words, each byte XOR `mask`. */
function loadBlock(bytes: Uint8Array, at: number, blockBytes: number, mask: number): void {
  for (let i = 0; i < blockBytes >> 2; i++) {
    const j = at + 4 * i;
    W[i] =
      ((bytes[j]! ^ mask) << 24) |
      ((bytes[j + 1]! ^ mask) << 16) |
      ((bytes[j + 2]! ^ mask) << 8) |
      (bytes[j + 3]! ^ mask);
  }
}

function toBytes(state: Int32Array, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < length >> 2; i++) view.setInt32(4 * i, state[i]!);
  return out;
}

export type { Algorithm, HmacKey };
export { digest, hmac, hmacKey, hmacPrepared, isAlgorithm, truncatedHmac, truncatedHmacJs };
