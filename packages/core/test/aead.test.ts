// A plug-in AEAD for the key ring: node:crypto's AES-256-GCM against the
// default, WebCrypto's, both ways; tampering under both; and what a plug-in
// that throws or answers garbage gets.

import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Aead,
  type AeadFactory,
  base64UrlEncode,
  generateKeyRingEntry,
  type KeyRing,
  openSecret,
  parseKeyRing,
  sealSecret,
} from '../src/index.js';
import { rejection } from './rejection.js';

// ---------------------------------------------------------------------------
// AES-256-GCM from node:crypto, for parseKeyRing(text, { aead: nodeAead }).
// It runs on the calling thread, so sealing and opening never queue on
// libuv's thread pool behind scrypt the way WebCrypto's encrypt/decrypt do.
const TAG_BYTES = 16;

const nodeAead: AeadFactory = (key) => {
  const secretKey = createSecretKey(key);
  return {
    encrypt(nonce, plaintext, associatedData) {
      const cipher = createCipheriv('aes-256-gcm', secretKey, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(associatedData);
      return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    },
    decrypt(nonce, sealed, associatedData) {
      const decipher = createDecipheriv('aes-256-gcm', secretKey, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData);
      decipher.setAuthTag(sealed.subarray(-TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(0, -TAG_BYTES)), decipher.final()]);
    },
  };
};
// ---------------------------------------------------------------------------

const K1 = generateKeyRingEntry({ id: 'k1' });
const OWNER = { associatedData: 'user:42/totp' };
const NEUTRAL = 'sealed value could not be opened';

async function bothRings(text: string): Promise<[string, KeyRing][]> {
  return [
    ['WebCrypto', await parseKeyRing(text)],
    ['node:crypto', await parseKeyRing(text, { aead: nodeAead })],
  ];
}

describe('a plug-in AEAD (node:crypto AES-256-GCM)', () => {
  it('seals exactly what WebCrypto seals, and each opens what the other sealed', async () => {
    const [[, web], [, node]] = (await bothRings(K1)) as [[string, KeyRing], [string, KeyRing]];
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 256 }),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 512 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        async (secret, associatedData, nonce) => {
          const options = { associatedData, randomBytes: () => nonce };
          const byWeb = await sealSecret(web, secret, options);
          const byNode = await sealSecret(node, secret, options);
          expect(byNode).toBe(byWeb);
          const random = { associatedData };
          const opened = { secret, needsReseal: false, keyId: 'k1' };
          expect(await openSecret(node, await sealSecret(web, secret, random), random)).toEqual(opened);
          expect(await openSecret(web, await sealSecret(node, secret, random), random)).toEqual(opened);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('opens values sealed before the AEAD became pluggable', async () => {
    // Sealed by the WebCrypto-only vault (commit 46860fe): this key, nonce 12 x 0xa5.
    const entry = `k1:${base64UrlEncode(Uint8Array.from({ length: 32 }, (_, i) => i + 1))}`;
    const sealed = 'v1.k1.paWlpaWlpaWlpaWl.V-XfyK-VNYobLwQ7YRXSb-GS7lTr7n8PDsEhrz7nCyr82iY1';
    for (const [name, ring] of await bothRings(entry)) {
      const opened = await openSecret(ring, sealed, OWNER);
      expect(new TextDecoder().decode(opened.secret), name).toBe('12345678901234567890');
      expect(opened.secret.constructor, name).toBe(Uint8Array);
    }
  });

  it('fails under both after any changed byte of nonce, ciphertext or tag, or another owner', async () => {
    const rings = await bothRings(K1);
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        async (secret, at, mask, sealedByNode) => {
          const sealed = await sealSecret(rings[sealedByNode ? 1 : 0]![1], secret, OWNER);
          const [version, keyId, nonceText, bodyText] = sealed.split('.') as [string, string, string, string];
          const bytes = new Uint8Array([...Buffer.from(nonceText, 'base64url'), ...Buffer.from(bodyText, 'base64url')]);
          const i = at % bytes.length;
          bytes[i] = bytes[i]! ^ mask;
          const tampered = [
            version,
            keyId,
            base64UrlEncode(bytes.subarray(0, 12)),
            base64UrlEncode(bytes.subarray(12)),
          ].join('.');
          for (const [name, ring] of rings) {
            for (const [value, owner] of [
              [tampered, OWNER],
              [sealed, { associatedData: 'user:43/totp' }],
            ] as const) {
              const error = await rejection(openSecret(ring, value, owner));
              expect([error.code, error.message], `${name}, byte ${i}`).toEqual(['SEAL_INVALID', NEUTRAL]);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps the errors for values that are not sealed at all, or under a key the ring lacks', async () => {
    const other = await sealSecret(await parseKeyRing(generateKeyRingEntry({ id: 'k9' })), new Uint8Array(20), OWNER);
    for (const [name, ring] of await bothRings(K1)) {
      for (const value of ['not sealed', 'v1.k1.!!!.!!!', 'v1.k1.AAAAAAAAAAAAAAAA.AAAA']) {
        expect((await rejection(openSecret(ring, value, OWNER))).code, name).toBe('SEAL_INVALID');
      }
      expect((await rejection(openSecret(ring, other, OWNER))).code, name).toBe('SEAL_KEY_UNKNOWN');
    }
  });

  it('receives the sealing subkey, the nonce and the associated data of the sealed layout', async () => {
    const calls: { key: Uint8Array; nonce: Uint8Array; associatedData: string }[] = [];
    const spy: AeadFactory = async (key) => {
      const real = await nodeAead(key);
      return {
        encrypt(nonce, plaintext, associatedData) {
          calls.push({ key, nonce, associatedData: new TextDecoder().decode(associatedData) });
          return real.encrypt(nonce, plaintext, associatedData);
        },
        decrypt: (nonce, sealed, associatedData) => real.decrypt(nonce, sealed, associatedData),
      };
    };
    const ring = await parseKeyRing(`${K1},${generateKeyRingEntry({ id: 'k2' })}`, { aead: spy });
    const sealed = await sealSecret(ring, new Uint8Array(20), OWNER);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.key).toHaveLength(32);
    expect(base64UrlEncode(calls[0]!.nonce)).toBe(sealed.split('.')[2]);
    expect(calls[0]!.associatedData).toBe('v1.k1.user:42/totp');
  });
});

it('the README example runs as written: node:crypto seals, WebCrypto opens', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /<!-- example:[^>]*-->\s*```js\n([\s\S]*?)```/.exec(readme)![1]!;
  const { OTPKIT_KEYS: _, ...env } = process.env;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', block], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    env,
  });
  expect(out).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{48}\n20\n$/);
});

describe('a plug-in AEAD that misbehaves', () => {
  const secret = new Uint8Array(20).fill(3);
  const sealed = parseKeyRing(K1).then((ring) => sealSecret(ring, secret, OWNER)); // 20 + 16 bytes
  // The method not under test answers as a broken one would, so it cannot pass for working.
  const plugIn = (aead: Partial<Aead>): AeadFactory => {
    const broken = () => new Uint8Array(0);
    return () => ({ encrypt: broken, decrypt: broken, ...aead });
  };
  const garbage = (bytes: number): [string, () => unknown][] => [
    ['undefined', () => undefined],
    ['a string', () => 'sealed'],
    ['an array of numbers', () => Array.from({ length: bytes }, () => 1)],
    ['an ArrayBuffer', () => new ArrayBuffer(bytes)],
    ['a DataView', () => new DataView(new ArrayBuffer(bytes))],
    ['a byte too few', () => new Uint8Array(bytes - 1)],
    ['a byte too many', () => new Uint8Array(bytes + 1)],
    ['a Promise of garbage', async () => 'sealed'],
  ];

  it('is refused by parseKeyRing unless it makes an object with encrypt and decrypt', async () => {
    const failing: AeadFactory = () => {
      throw new Error('no AES here');
    };
    for (const aead of [
      'aes-256-gcm',
      {},
      () => undefined,
      () => ({ encrypt: () => new Uint8Array(0) }),
      async () => null,
      failing,
    ]) {
      const error = await rejection(parseKeyRing(K1, { aead: aead as AeadFactory }));
      expect(error.code).toBe('OPTION_INVALID');
      expect(error.message).not.toContain(K1.slice(3, 12));
    }
    const error = await rejection(parseKeyRing(K1, { aead: failing }));
    expect((error.cause as Error).message).toBe('no AES here');
    expect((await rejection(parseKeyRing('k1:short', { aead: nodeAead }))).code).toBe('KEYRING_INVALID');
    // An async factory is fine.
    const ring = await parseKeyRing(K1, { aead: async (key) => nodeAead(key) });
    expect((await openSecret(ring, await sealed, OWNER)).secret).toEqual(secret);
  });

  it.each(garbage(36))('cannot seal when encrypt returns %s', async (_, encrypt) => {
    const ring = await parseKeyRing(K1, { aead: plugIn({ encrypt: encrypt as Aead['encrypt'] }) });
    const error = await rejection(sealSecret(ring, secret, OWNER));
    expect([error.code, error.message]).toEqual([
      'OPTION_INVALID',
      'aead: encrypt must return a Uint8Array of 36 bytes',
    ]);
  });

  it('cannot seal when encrypt throws or rejects, and keeps what it threw as the cause', async () => {
    const cause = new Error('cipher broke');
    const throwing = () => {
      throw cause;
    };
    for (const encrypt of [throwing, () => Promise.reject(cause)]) {
      const ring = await parseKeyRing(K1, { aead: plugIn({ encrypt }) });
      const error = await rejection(sealSecret(ring, secret, OWNER));
      expect([error.code, error.message, error.cause]).toEqual(['OPTION_INVALID', 'aead: encrypt failed', cause]);
    }
  });

  const failures: [string, () => unknown][] = [
    [
      'a throw',
      () => {
        throw new Error('unable to authenticate data');
      },
    ],
    ['a rejection', () => Promise.reject(new Error('unable to authenticate data'))],
    ['a thrown non-error', () => Promise.reject('nope')],
  ];
  it.each([...garbage(20), ...failures])('cannot open when decrypt gives %s: SEAL_INVALID', async (_, decrypt) => {
    const ring = await parseKeyRing(K1, { aead: plugIn({ decrypt: decrypt as Aead['decrypt'] }) });
    const error = await rejection(openSecret(ring, await sealed, OWNER));
    expect([error.code, error.message, error.cause]).toEqual(['SEAL_INVALID', NEUTRAL, undefined]);
  });
});
