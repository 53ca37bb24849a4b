// Passwords hashed with scrypt (node:crypto), a memory-hard KDF, at the OWASP
// Password Storage Cheat Sheet's parameters: N = 2^17, r = 8, p = 1 (128 MiB).
// Stored as scrypt$N$r$p$salt$hash (base64url), so parameters can change later.

import { scrypt, timingSafeEqual } from 'node:crypto';
import type { RandomBytes } from '@otpkit/core';

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

async function hashPassword(password: string, params: ScryptParams, random: RandomBytes): Promise<string> {
  const salt = Buffer.from(random(SALT_BYTES));
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

/** Requests that may wait for a hashing slot, per slot: a few KDF runs' worth (about a second), no more. */
const WAITING_PER_SLOT = 4;

/** One hash's way through a gate, as a watcher sees it. */
interface HashTicket {
  /** It got a slot (at once, or after waiting its turn). */
  started(): void;
  /** Its work ended, done or failed; the slot is free. */
  done(): void;
}

/**
 * Watches every hash gate in the process (for metrics: how many wait and run,
 * how long each waited and ran): main/ adds one with its own clock. A gate
 * behaves the same whether or not anyone watches.
 */
interface HashGateWatcher {
  /** A hash asks for a slot; the ticket hears how it goes. */
  asked(): HashTicket;
  /** A hash was refused at once: every slot busy and the queue full. */
  refused(): void;
}

const watchers = new Set<HashGateWatcher>();

/** Adds a watcher of every hash gate; returns what removes it. */
function watchHashGates(watcher: HashGateWatcher): () => void {
  watchers.add(watcher);
  return () => void watchers.delete(watcher);
}

/**
 * Caps the password hashes computed at once. scrypt runs on libuv's thread
 * pool and keeps a core busy for a third of a second; unbounded, a flood of
 * logins would take every core and thread from everyone else. Beyond the cap
 * a few wait their turn, and the rest are refused at once (`busy()`), which
 * the HTTP edge answers with 503 and Retry-After.
 */
function createHashGate(concurrency: number, busy: () => Error) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async function gated<T>(work: () => Promise<T>): Promise<T> {
    if (running >= concurrency && waiting.length >= concurrency * WAITING_PER_SLOT) {
      for (const watcher of watchers) watcher.refused();
      throw busy();
    }
    const tickets = [...watchers].map((watcher) => watcher.asked()); // none unless metrics are on
    if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    for (const ticket of tickets) ticket.started();
    try {
      return await work();
    } finally {
      for (const ticket of tickets) ticket.done();
      const next = waiting.shift();
      if (next)
        next(); // the slot passes straight to the next in line
      else running--;
    }
  };
}

export type { HashGateWatcher, HashTicket, ScryptParams };
export { createHashGate, hashPassword, OWASP_SCRYPT, verifyPassword, watchHashGates };
