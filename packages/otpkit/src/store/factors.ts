// The TOTP factor: a pending one while enrolling, then active with the last
// counter it accepted; turning it on or off ends the user's other sessions.

import { newBackupCodes } from './backup-codes.js';
import type { Db, Statement } from './db.js';
import { FACTOR_COLUMNS, type FactorRow, first, toFactor } from './rows.js';
import { endSessions } from './sessions.js';
import type { Store } from './types.js';

// RFC 6238 §5.2: a verifier MUST NOT accept the second attempt of an OTP
// after a successful validation; a counter is spent by moving last_counter
// past it, in one conditional UPDATE, so only one racing caller wins it.
const claimCounter = (userId: string, factorId: string, counter: number): Statement => ({
  sql: `UPDATE totp_factors SET last_counter = ? WHERE user_id = ? AND id = ? AND status = 'active' AND last_counter < ?`,
  params: [counter, userId, factorId, counter],
  expectChanges: 1,
});

type FactorMethods = Pick<Store, 'factor' | 'putPendingFactor' | 'activateFactor' | 'deleteFactor'>;

function factors(db: Db): FactorMethods {
  const factor = async (userId: string) => {
    const row = await first<FactorRow>(db, `SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE user_id = ?`, [userId]);
    return row && toFactor(row);
  };
  return {
    factor,
    async putPendingFactor(f, replacing) {
      if (replacing !== undefined) {
        await db.run("DELETE FROM totp_factors WHERE user_id = ? AND id = ? AND status = 'pending'", [
          f.userId,
          replacing,
        ]);
      }
      await db.run(
        `INSERT INTO totp_factors (user_id, id, status, session_id, sealed_secret, algorithm, digits, period_seconds, created_at)
         VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING`,
        [f.userId, f.id, f.sessionId, f.sealedSecret, f.algorithm, f.digits, f.periodSeconds, f.now],
      );
      return (await factor(f.userId))!;
    },
    async activateFactor(a) {
      return db.batch([
        {
          sql: `UPDATE totp_factors SET status = 'active', last_counter = ?, confirmed_at = ?, session_id = NULL
                WHERE user_id = ? AND id = ? AND status = 'pending' AND last_counter < ?`,
          params: [a.counter, a.now, a.userId, a.factorId, a.counter],
          expectChanges: 1,
        },
        ...endSessions(a.userId, a.sessionId ?? null, a.now, true),
        ...newBackupCodes(a.userId, { hashes: a.codeHashes, ids: a.ids }, a.now),
      ]);
    },
    async deleteFactor(userId, keep, now) {
      await db.batch([
        { sql: 'DELETE FROM backup_codes WHERE user_id = ?', params: [userId] },
        { sql: 'DELETE FROM totp_factors WHERE user_id = ?', params: [userId] },
        ...endSessions(userId, keep, now),
      ]);
    },
  };
}

export { claimCounter, factors };
