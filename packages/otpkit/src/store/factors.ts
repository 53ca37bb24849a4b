// TOTP authenticators: a user's active ones, each with the last counter it
// accepted, and at most one pending enrollment; adding, removing or turning
// them all off ends the user's other sessions.

import { newBackupCodes } from './backup-codes.js';
import type { Db, Statement } from './db.js';
import { FACTOR_COLUMNS, type FactorRow, first, toFactor } from './rows.js';
import { endSessions } from './sessions.js';
import type { Store } from './types.js';

// RFC 6238 §5.2: a verifier MUST NOT accept the second attempt of an OTP
// after a successful validation; a counter is spent by moving last_counter
// past it, in one conditional UPDATE, so only one racing caller wins it.
// Each authenticator has its own: a code from one leaves the others' alone.
const claimCounter = (userId: string, factorId: string, counter: number): Statement => ({
  sql: `UPDATE totp_factors SET last_counter = ? WHERE user_id = ? AND id = ? AND status = 'active' AND last_counter < ?`,
  params: [counter, userId, factorId, counter],
  expectChanges: 1,
});

type FactorMethods = Pick<
  Store,
  | 'factors'
  | 'putPendingFactor'
  | 'discardPendingFactor'
  | 'activateFactor'
  | 'renameFactor'
  | 'removeFactor'
  | 'deleteFactors'
>;

function factors(db: Db): FactorMethods {
  const all = async (userId: string) =>
    (
      await db.all<FactorRow>(`SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE user_id = ? ORDER BY created_at, id`, [
        userId,
      ])
    ).map(toFactor);
  const discardPending = async (userId: string, factorId: string) => {
    await db.run("DELETE FROM totp_factors WHERE user_id = ? AND id = ? AND status = 'pending'", [userId, factorId]);
  };
  return {
    factors: all,
    async putPendingFactor(f, replacing) {
      if (replacing !== undefined) await discardPending(f.userId, replacing);
      await db.run(
        `INSERT INTO totp_factors (user_id, id, name, status, session_id, sealed_secret, algorithm, digits, period_seconds, created_at)
         VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) WHERE status = 'pending' DO NOTHING`,
        [f.userId, f.id, f.name, f.sessionId, f.sealedSecret, f.algorithm, f.digits, f.periodSeconds, f.now],
      );
      const row = await first<FactorRow>(
        db,
        `SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE user_id = ? AND status = 'pending'`,
        [f.userId],
      );
      return row && toFactor(row);
    },
    discardPendingFactor: discardPending,
    async activateFactor(a) {
      // The first one (with backup codes) only while there is none; another only below the limit.
      return db.batch([
        {
          sql: `UPDATE totp_factors SET status = 'active', name = ?, last_counter = ?, confirmed_at = ?, session_id = NULL
                WHERE user_id = ? AND id = ? AND status = 'pending' AND last_counter < ?`,
          params: [a.name, a.counter, a.now, a.userId, a.factorId, a.counter],
          expectChanges: 1,
        },
        ...endSessions(a.userId, a.sessionId ?? null, a.now, true, {
          set: 'active_factors = active_factors + 1, ',
          ...(a.backupCodes
            ? { where: 'active_factors = 0' }
            : { where: 'active_factors BETWEEN 1 AND ?', whereParams: [a.maxActive - 1] }),
        }),
        ...(a.backupCodes ? newBackupCodes(a.userId, a.backupCodes, a.now) : []),
      ]);
    },
    async renameFactor(userId, factorId, name) {
      return (
        (await db.run("UPDATE totp_factors SET name = ? WHERE user_id = ? AND id = ? AND status = 'active'", [
          name,
          userId,
          factorId,
        ])) === 1
      );
    },
    async removeFactor(r) {
      return db.batch([
        {
          sql: "DELETE FROM totp_factors WHERE user_id = ? AND id = ? AND status = 'active'",
          params: [r.userId, r.factorId],
          expectChanges: 1,
        },
        // Another must stay: the user's row says how many are active, and a racing removal re-reads it.
        ...endSessions(r.userId, r.keep, r.now, false, {
          set: 'active_factors = active_factors - 1, ',
          where: 'active_factors > 1',
        }),
      ]);
    },
    async deleteFactors(userId, keep, now) {
      await db.batch([
        { sql: 'DELETE FROM backup_codes WHERE user_id = ?', params: [userId] },
        { sql: 'DELETE FROM totp_factors WHERE user_id = ?', params: [userId] },
        ...endSessions(userId, keep, now, false, { set: 'active_factors = 0, ' }),
      ]);
    },
  };
}

export { claimCounter, factors };
