// Our SHA and HMAC against node:crypto on random keys and messages, and the
// generated compression functions against their generator.

import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generate } from '../scripts/generate-hashes.mjs';
import { sha512Compress } from '../src/hash/sha512.js';
import { sha512Wasm } from '../src/hash/sha512-wasm.js';
import { type Algorithm, digest, hmac, hmacKey, truncatedHmac, truncatedHmacJs } from '../src/hmac.js';

const ALGORITHMS: [Algorithm, string][] = [
  ['SHA-1', 'sha1'],
  ['SHA-256', 'sha256'],
  ['SHA-512', 'sha512'],
];
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
// Lengths around every padding and block boundary, and keys longer than a block.
const bytes = fc.uint8Array({ minLength: 0, maxLength: 300 });

describe.each(ALGORITHMS)('%s', (algorithm, nodeName) => {
  it('digest matches node:crypto', () => {
    fc.assert(
      fc.property(bytes, (message) => {
        expect(hex(digest(algorithm, message))).toBe(createHash(nodeName).update(message).digest('hex'));
      }),
      { numRuns: 300 },
    );
  });

  it('hmac matches node:crypto', () => {
    fc.assert(
      fc.property(bytes, bytes, (key, message) => {
        expect(hex(hmac(algorithm, key, message))).toBe(createHmac(nodeName, key).update(message).digest('hex'));
      }),
      { numRuns: 300 },
    );
  });

  it('the counter fast path matches node:crypto, up to 2^53 - 1', () => {
    const counter = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(2 ** 32));
    fc.assert(
      fc.property(bytes, counter, (key, c) => {
        const message = Buffer.alloc(8);
        message.writeBigUInt64BE(BigInt(c));
        const mac = createHmac(nodeName, key).update(message).digest();
        const offset = mac[mac.length - 1]! & 0xf;
        const prepared = hmacKey(algorithm, key);
        expect(truncatedHmac(prepared, c)).toBe(mac.readUInt32BE(offset) & 0x7fffffff);
        expect(truncatedHmacJs(prepared, c)).toBe(mac.readUInt32BE(offset) & 0x7fffffff);
      }),
      { numRuns: 300 },
    );
  });
});

describe('SHA-512 in WebAssembly', () => {
  const wasm = sha512Wasm();
  it('loads in Node', () => {
    expect(wasm).toBeDefined();
  });

  it('compresses exactly as the JavaScript fallback', () => {
    const words = (n: number) =>
      fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: n, maxLength: n });
    fc.assert(
      fc.property(words(16), words(32), (state, block) => {
        const a = Int32Array.from(state);
        const b = Int32Array.from(state);
        const w = new Int32Array(160);
        w.set(block);
        sha512Compress(a, w.slice());
        wasm!.compress(b, w.slice());
        expect(b).toEqual(a);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps each key apart when keys alternate', () => {
    const keys = [1, 2, 3].map((n) => hmacKey('SHA-512', new Uint8Array(64).fill(n)));
    for (let c = 0; c < 30; c++) {
      const key = keys[c % 3]!;
      expect(truncatedHmac(key, c)).toBe(truncatedHmacJs(key, c));
    }
  });
});

it('the committed compression functions are what the generator writes', async () => {
  for (const [name, text] of Object.entries(await generate())) {
    expect(readFileSync(new URL(`../src/hash/${name}`, import.meta.url), 'utf8'), name).toBe(text);
  }
});
