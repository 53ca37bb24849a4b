// Operator actions (the admin CLI): users, unlocking, resetting 2FA, key
// rotation and the start-up key check, and the sweep of expired rows. Each
// action on a user ends every session of that user.

import { openSecret, sealSecret } from '@otpkit/core';
import { normalizeUsername } from './accounts.js';
import { type Context, factorData } from './context.js';
import { ServiceError } from './errors.js';
import type { KeyRotation, Service } from './types.js';

/** Secrets resealed per read: small enough to stop at any time, large enough to cost few round trips. */
const ROTATION_BATCH = 100;

function operator(
  c: Context,
): Pick<Service, 'listUsers' | 'unlock' | 'resetTwoFactor' | 'rotateKeys' | 'checkKeys' | 'prune'> {
  const { store, ring } = c;

  async function userNamed(username: string) {
    const user = await store.userByName(normalizeUsername(username));
    if (!user) throw new ServiceError('USER_NOT_FOUND', 'no such user');
    return user;
  }

  /** KEY_MISSING naming the first key id stored values depend on that the ring lacks. */
  async function checkKeyIds(): Promise<void> {
    const { secrets, backupCodeUsers } = await store.keyUsage(ring.ids);
    for (const [keyId, count] of secrets) {
      if (count > 0 && !ring.ids.includes(keyId)) {
        throw new ServiceError(
          'KEY_MISSING',
          `${count} stored secrets are sealed under the key ${keyId}, which the key ring lacks`,
        );
      }
    }
    for (const [keyId, users] of backupCodeUsers) {
      if (users > 0 && !ring.ids.includes(keyId)) {
        throw new ServiceError(
          'KEY_MISSING',
          `the unused backup codes of ${users} users are hashed under the key ${keyId}, which the key ring lacks: keep it in the ring until they make new codes`,
        );
      }
    }
  }

  return {
    async listUsers() {
      const now = c.nowMs();
      return (await store.listUsers()).map((u) => ({
        username: u.username,
        twoFactor: u.factor ?? 'off',
        lockedUntil: u.lockedUntil > now ? new Date(u.lockedUntil).toISOString() : null,
        lockedPermanently: u.lockedPermanently,
        createdAt: new Date(u.createdAt).toISOString(),
      }));
    },
    async unlock(username) {
      const user = await userNamed(username);
      await store.unlock(user.id);
      await store.revokeSessions(user.id, null, c.nowMs());
      await c.audit('second_factor_unlocked', user.id, { ip: null });
    },
    async resetTwoFactor(username) {
      const user = await userNamed(username);
      await store.deleteFactor(user.id, null, c.nowMs());
      await store.unlock(user.id);
      await c.audit('two_factor_reset', user.id, { ip: null });
    },
    /**
     * Reseals every stored secret under the current key. Works in user-id
     * order and only replaces what it read, so it is safe to stop and run
     * again. Backup codes cannot be re-keyed without the codes themselves:
     * the result says how many users' unused codes still depend on each old key.
     */
    async rotateKeys(onProgress): Promise<KeyRotation> {
      const total = await store.countFactors();
      let done = 0;
      let resealed = 0;
      for (let after = '', batch = await store.factorsAfter(after, ROTATION_BATCH); batch.length > 0; ) {
        for (const factor of batch) {
          const opened = await openSecret(ring, factor.sealedSecret, factorData(factor));
          if (opened.needsReseal) {
            const sealed = await sealSecret(ring, opened.secret, { ...factorData(factor), randomBytes: c.random });
            if (await store.resealFactor(factor.userId, factor.sealedSecret, sealed)) resealed++;
          }
          done++; // not inside onProgress?.(...): an absent callback skips its arguments
          onProgress?.(done, total);
        }
        after = batch[batch.length - 1]!.userId;
        batch = await store.factorsAfter(after, ROTATION_BATCH);
      }
      await c.audit('keys_rotated', null, { ip: null }, { resealed, currentKey: ring.currentId });
      const { backupCodeUsers } = await store.keyUsage(ring.ids);
      const backupCodesOnOldKeys = [...backupCodeUsers]
        .filter(([id, users]) => id !== ring.currentId && users > 0)
        .map(([keyId, users]) => ({ keyId, users }));
      return { checked: done, resealed, backupCodesOnOldKeys };
    },
    /**
     * The start-up check: refuses (KEY_MISSING, naming the key id) when stored
     * secrets or unused backup codes depend on a key the ring lacks, or when a
     * ring key fails to open a secret sealed under its id (a wrong key).
     */
    async checkKeys() {
      await checkKeyIds();
      for (const keyId of ring.ids) {
        const factor = await store.factorSealedBy(keyId);
        if (!factor) continue;
        try {
          await openSecret(ring, factor.sealedSecret, factorData(factor));
        } catch {
          throw new ServiceError(
            'KEY_MISSING',
            `the key ${keyId} in the key ring does not open the secrets sealed under ${keyId}: is it the right key?`,
          );
        }
      }
    },
    /** Deletes expired challenges, refresh tokens and sessions, at most `limit` of each. */
    async prune(limit) {
      return store.prune(c.nowMs(), limit);
    },
  };
}

export { operator };
