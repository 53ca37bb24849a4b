// Operator actions (the admin CLI): users, unlocking, resetting 2FA, key
// rotation and the start-up key check, and the sweep of expired rows. Each
// action on a user ends every session of that user.

import { openSecret, type RandomBytes, sealSecret } from '@otpkit/core';
import type { Factor, Reseal, User } from '../store/store.js';
import { normalizeUsername } from './accounts.js';
import { type Context, factorData, isoOrNull } from './context.js';
import { ServiceError } from './errors.js';
import type { AdminUser, KeyRotation, Service } from './types.js';

/**
 * Secrets read, resealed and written back per transaction. A batch holds the
 * write lock (SQLite) or its rows (PostgreSQL) for a few ms, so the server
 * serves on beside it, and at 2,000 a million secrets cost 500 round trips of
 * each kind; Store.resealFactors takes at most 10,000.
 */
const ROTATION_BATCH = 2_000;
/** AES-GCM's nonce, 96 bits (NIST SP 800-38D §8.2.2), as sealSecret draws it. */
const NONCE_BYTES = 12;

/**
 * A RandomBytes that serves `count` draws of `size` bytes out of one call to
 * `random`, each byte once, then calls `random` itself. One call per nonce
 * cost a rotation more than the AES-GCM did (a CSPRNG call each, ~6 us here).
 */
function pooled(random: RandomBytes, size: number, count: number): RandomBytes {
  const pool = random(size * count);
  let at = 0;
  return (length) => {
    if (length !== size || at + length > pool.length) return random(length);
    at += length;
    return pool.subarray(at - length, at);
  };
}

/** KEY_MISSING naming the first key id stored values depend on that the ring lacks. */
async function checkKeyIds(c: Context): Promise<void> {
  const { secrets, backupCodeUsers } = await c.store.keyUsage(c.ring.ids);
  for (const [keyId, count] of secrets) {
    if (count > 0 && !c.ring.ids.includes(keyId)) {
      throw new ServiceError(
        'KEY_MISSING',
        `${count} stored secrets are sealed under the key ${keyId}, which the key ring lacks`,
      );
    }
  }
  for (const [keyId, users] of backupCodeUsers) {
    if (users > 0 && !c.ring.ids.includes(keyId)) {
      throw new ServiceError(
        'KEY_MISSING',
        `the unused backup codes of ${users} users are hashed under the key ${keyId}, which the key ring lacks: keep it in the ring until they make new codes`,
      );
    }
  }
}

/**
 * The start-up check: refuses (KEY_MISSING, naming the key id) when stored
 * secrets or unused backup codes depend on a key the ring lacks, or when a
 * ring key fails to open a secret sealed under its id (a wrong key).
 */
async function checkKeys(c: Context): Promise<void> {
  await checkKeyIds(c);
  for (const keyId of c.ring.ids) {
    const factor = await c.store.factorSealedBy(keyId);
    if (!factor) continue;
    try {
      await openSecret(c.ring, factor.sealedSecret, factorData(factor));
    } catch {
      throw new ServiceError(
        'KEY_MISSING',
        `the key ${keyId} in the key ring does not open the secrets sealed under ${keyId}: is it the right key?`,
      );
    }
  }
}

/**
 * Reseals every stored secret under the current key. Works in user-id order,
 * a batch at a time: opens and reseals it in memory, then writes it in one
 * transaction that replaces each secret only if it is still the one read. So
 * it is safe to stop and run again, and beside a server or another rotation
 * (what changed meanwhile keeps its new value). onProgress follows each batch.
 * Backup codes cannot be re-keyed without the codes themselves: the result
 * says how many users' unused codes still depend on each old key.
 */
async function rotateKeys(c: Context, onProgress?: (done: number, total: number) => void): Promise<KeyRotation> {
  const { store, ring } = c;
  const total = await store.countFactors();
  let done = 0;
  let resealed = 0;
  for (let after = ''; ; ) {
    const batch = await store.factorsAfter(after, ROTATION_BATCH);
    if (batch.length === 0) break;
    const changes: Reseal[] = [];
    const randomBytes = pooled(c.random, NONCE_BYTES, batch.length);
    for (const factor of batch) {
      const opened = await openSecret(ring, factor.sealedSecret, factorData(factor));
      if (opened.needsReseal) {
        const sealed = await sealSecret(ring, opened.secret, { ...factorData(factor), randomBytes });
        changes.push({ factorId: factor.id, before: factor.sealedSecret, after: sealed });
      }
      opened.secret.fill(0); // our own copy (see openSecret): no plaintext waits for the collector
    }
    resealed += await store.resealFactors(changes);
    done += batch.length;
    after = batch[batch.length - 1]!.id;
    onProgress?.(done, total);
  }
  await c.audit('keys_rotated', null, { ip: null }, { resealed, currentKey: ring.currentId });
  const { backupCodeUsers } = await store.keyUsage(ring.ids);
  const backupCodesOnOldKeys = [...backupCodeUsers]
    .filter(([id, users]) => id !== ring.currentId && users > 0)
    .map(([keyId, users]) => ({ keyId, users }));
  return { checked: done, resealed, backupCodesOnOldKeys };
}

async function userNamed(c: Context, username: string) {
  const user = await c.store.userByName(normalizeUsername(username));
  if (!user) throw new ServiceError('USER_NOT_FOUND', 'no such user');
  return user;
}

/** A user as an operator sees them (the CLI's list, the admin API's). */
function userSummary(u: User & { factor: Factor['status'] | null }, now: number): AdminUser {
  return {
    id: u.id,
    username: u.username,
    twoFactor: u.factor ?? 'off',
    lockedUntil: u.lockedUntil > now ? new Date(u.lockedUntil).toISOString() : null,
    lockedPermanently: u.lockedPermanently,
    deactivatedAt: isoOrNull(u.deactivatedAt),
    createdAt: new Date(u.createdAt).toISOString(),
  };
}

function operator(
  c: Context,
): Pick<
  Service,
  'listUsers' | 'unlock' | 'resetTwoFactor' | 'deactivate' | 'reactivate' | 'rotateKeys' | 'checkKeys' | 'prune'
> {
  const { store } = c;
  return {
    async listUsers() {
      const now = c.nowMs();
      return (await store.listUsers()).map((u) => userSummary(u, now));
    },
    async unlock(username) {
      const user = await userNamed(c, username);
      await store.unlock(user.id);
      await store.revokeSessions(user.id, null, c.nowMs());
      await c.audit('second_factor_unlocked', user.id, { ip: null });
    },
    async resetTwoFactor(username) {
      const user = await userNamed(c, username);
      await store.deleteFactors(user.id, null, c.nowMs());
      await store.unlock(user.id);
      await c.audit('two_factor_reset', user.id, { ip: null });
    },
    async deactivate(username) {
      const user = await userNamed(c, username);
      await store.setDeactivated(user.id, true, c.nowMs());
      await c.audit('user_deactivated', user.id, { ip: null });
    },
    async reactivate(username) {
      const user = await userNamed(c, username);
      await store.setDeactivated(user.id, false, c.nowMs());
      await c.audit('user_reactivated', user.id, { ip: null });
    },
    rotateKeys: (onProgress) => rotateKeys(c, onProgress),
    checkKeys: () => checkKeys(c),
    /** Deletes expired challenges, refresh tokens and sessions, at most `limit` of each. */
    prune: async (limit) => store.prune(c.nowMs(), limit),
  };
}

export { operator, userNamed, userSummary };
