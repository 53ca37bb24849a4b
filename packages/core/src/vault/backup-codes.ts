// Backup codes: generated once and shown once; only a keyed hash is stored.
//
// Stored form, version 1:   v1.<keyId>.<HMAC-SHA-256 of the code, base64url>
// under the ring key's backup-code subkey. A hash cannot be moved to another
// key, so keep a key in the ring while backup-code hashes made under it remain.

import { base64Decode, base64UrlEncode } from '../encoding.js';
import { OtpkitError } from '../errors.js';
import { hmacPrepared } from '../hmac.js';
import { type RandomBytes, webCryptoRandomBytes } from '../secret.js';
import type { KeyRing } from './keyring.js';

/** 31 symbols people can read aloud and type: no 0/O, no 1/I/L. */
const BACKUP_CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
/** 3 groups of 6: 18 symbols of log2(31) bits each, about 89 bits (at least 80 asked). */
const GROUPS = 3;
const GROUP_LENGTH = 6;
const CODE_SYMBOLS = GROUPS * GROUP_LENGTH;
const DEFAULT_BACKUP_CODES = 10;
const MAX_BACKUP_CODES = 100;
/** Longer input is malformed unread: a code with every separator doubled is shorter. */
const MAX_INPUT_LENGTH = 64;
/** A stored hash is at most 80 characters (a 32-character key id, 44 of base64); longer ones are skipped unread. */
const MAX_STORED_LENGTH = 128;
// Bytes at or above this are redrawn, so every symbol is equally likely.
const REJECT_FROM = 256 - (256 % BACKUP_CODE_ALPHABET.length);

type BackupCodeResult =
  | { readonly ok: true; readonly index: number }
  | { readonly ok: false; readonly reason: 'wrong' | 'malformed' };

const encoder = new TextEncoder();

/**
 * New backup codes, `XXXXXX-XXXXXX-XXXXXX`, from a CSPRNG. Show them once;
 * store only `hashBackupCode` of each.
 */
function generateBackupCodes(options: { count?: number; randomBytes?: RandomBytes } = {}): string[] {
  const { count = DEFAULT_BACKUP_CODES, randomBytes = webCryptoRandomBytes } = options;
  if (!Number.isInteger(count) || count < 1 || count > MAX_BACKUP_CODES) {
    throw new OtpkitError('OPTION_INVALID', `count must be an integer from 1 to ${MAX_BACKUP_CODES}`);
  }
  const codes: string[] = [];
  for (let c = 0; c < count; c++) {
    let symbols = '';
    while (symbols.length < CODE_SYMBOLS) {
      for (const byte of randomBytes(CODE_SYMBOLS)) {
        if (byte < REJECT_FROM && symbols.length < CODE_SYMBOLS) {
          symbols += BACKUP_CODE_ALPHABET[byte % BACKUP_CODE_ALPHABET.length];
        }
      }
    }
    codes.push(symbols.match(new RegExp(`.{${GROUP_LENGTH}}`, 'g'))!.join('-'));
  }
  return codes;
}

/** The code's symbols, uppercase, without spaces or hyphens; undefined if it cannot be a code. */
function normalize(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > MAX_INPUT_LENGTH) return undefined;
  const symbols = input.replace(/[\s-]/g, '').toUpperCase();
  if (symbols.length !== CODE_SYMBOLS) return undefined;
  for (const symbol of symbols) if (!BACKUP_CODE_ALPHABET.includes(symbol)) return undefined;
  return symbols;
}

function digest(ring: KeyRing, keyId: string, symbols: string): Uint8Array | undefined {
  const key = ring.keys.get(keyId);
  return key && hmacPrepared(key.mac, encoder.encode(symbols));
}

/** The keyed hash to store for a backup code, under the ring's current key. */
function hashBackupCode(ring: KeyRing, code: string): string {
  const symbols = normalize(code);
  if (symbols === undefined) throw new OtpkitError('OPTION_INVALID', 'not a backup code');
  return `v1.${ring.currentId}.${base64UrlEncode(digest(ring, ring.currentId, symbols)!)}`;
}

/**
 * Checks typed input (any case, spaces, hyphens) against the stored hashes
 * and says which one matched, so the store can consume exactly that one in
 * one conditional update. Every hash is compared, in constant time. A stored
 * value it cannot read (not a string, another version, a key the ring lacks,
 * bad base64, a wrong length, or `stored` not an array) never matches and
 * never throws.
 */
function checkBackupCode(ring: KeyRing, input: string, stored: readonly string[]): BackupCodeResult {
  const symbols = normalize(input);
  if (symbols === undefined) return { ok: false, reason: 'malformed' };
  // Stored values come from a database row: read them as untrusted data.
  const entries: readonly unknown[] = Array.isArray(stored) ? stored : [];
  const digests = new Map<string, Uint8Array | undefined>();
  let found = -1;
  for (const [index, entry] of entries.entries()) {
    if (typeof entry !== 'string' || entry.length > MAX_STORED_LENGTH) continue;
    const parts = entry.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1') continue;
    const keyId = parts[1]!;
    if (!digests.has(keyId)) digests.set(keyId, digest(ring, keyId, symbols));
    const ours = digests.get(keyId);
    let theirs: Uint8Array;
    try {
      theirs = base64Decode(parts[2]!, 'SEAL_INVALID');
    } catch {
      continue;
    }
    if (!ours || theirs.length !== ours.length) continue;
    let difference = 0;
    for (let i = 0; i < ours.length; i++) difference |= ours[i]! ^ theirs[i]!;
    // Keep the first match without a branch on the comparison.
    const take = ((difference - 1) >>> 31) & (found >>> 31);
    found = (found & ~-take) | (index & -take);
  }
  return found >= 0 ? { ok: true, index: found } : { ok: false, reason: 'wrong' };
}

export type { BackupCodeResult };
export { BACKUP_CODE_ALPHABET, checkBackupCode, generateBackupCodes, hashBackupCode };
