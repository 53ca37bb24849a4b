// Passwords hashed with scrypt (node:crypto), a memory-hard KDF, at the OWASP
// Password Storage Cheat Sheet's parameters: N = 2^17, r = 8, p = 1 (128 MiB).
// Stored as scrypt$N$r$p$salt$hash (base64url), so parameters can change later.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

const OWASP_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;

function derive(password: string, salt: Buffer, { N, r, p }: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem: 128 * N * r bytes is what scrypt needs; allow twice that.
    scrypt(password.normalize('NFKC'), salt, HASH_BYTES, { N, r, p, maxmem: 256 * N * r }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

async function hashPassword(password: string, params: ScryptParams): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Checks a password; costs one full KDF run whether or not the stored hash is well formed. */
async function verifyPassword(password: string, stored: string, fallback: ScryptParams): Promise<boolean> {
  const [scheme, N, r, p, salt, hash] = stored.split('$');
  const params = { N: Number(N), r: Number(r), p: Number(p) };
  const wellFormed = scheme === 'scrypt' && Number.isInteger(params.N) && salt !== undefined && hash !== undefined;
  const expected = wellFormed ? Buffer.from(hash, 'base64url') : Buffer.alloc(HASH_BYTES);
  const actual = await derive(
    password,
    wellFormed ? Buffer.from(salt, 'base64url') : Buffer.alloc(SALT_BYTES),
    wellFormed ? params : fallback,
  );
  return wellFormed && actual.length === expected.length && timingSafeEqual(actual, expected);
}

export type { ScryptParams };
export { hashPassword, OWASP_SCRYPT, verifyPassword };
