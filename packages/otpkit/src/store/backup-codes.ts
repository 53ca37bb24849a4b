// Backup codes: a fresh set with each activation or rotation, each used once.

import type { Db, Statement } from './db.js';
import { endSessions } from './sessions.js';
import type { Store } from './types.js';

/** A fresh set of backup codes in place of the user's old ones: ids[i] is the id of hashes[i]. */
const newBackupCodes = (userId: string, codes: { hashes: string[]; ids: string[] }, now: number): Statement[] => [
  { sql: 'DELETE FROM backup_codes WHERE user_id = ?', params: [userId] },
  ...codes.hashes.map((hash, i) => ({
    sql: 'INSERT INTO backup_codes (id, user_id, code_hash, created_at) VALUES (?, ?, ?, ?)',
    params: [codes.ids[i]!, userId, hash, now],
  })),
];

/** Spends a backup code: only one racing caller changes the row (see acceptSecondFactor). */
const consumeBackupCode = (id: string, now: number): Statement => ({
  sql: 'UPDATE backup_codes SET used_at = ? WHERE id = ? AND used_at IS NULL',
  params: [now, id],
  expectChanges: 1,
});

function backupCodes(db: Db): Pick<Store, 'backupCodes' | 'replaceBackupCodes'> {
  return {
    async backupCodes(userId) {
      const rows = await db.all<{ id: string; code_hash: string; used_at: number | null }>(
        'SELECT id, code_hash, used_at FROM backup_codes WHERE user_id = ? ORDER BY id',
        [userId],
      );
      return rows.map((r) => ({
        id: r.id,
        codeHash: r.code_hash,
        usedAt: r.used_at === null ? null : Number(r.used_at),
      }));
    },
    async replaceBackupCodes(userId, codes, keep, now) {
      await db.batch([...endSessions(userId, keep, now), ...newBackupCodes(userId, codes, now)]);
    },
  };
}

export { backupCodes, consumeBackupCode, newBackupCodes };
