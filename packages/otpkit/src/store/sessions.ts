// Sessions and their refresh tokens: opened after a sign-in, rotated once per
// use (a reused token ends its session), and ended together when 2FA changes.

import { auditStatement } from './audit.js';
import { passwordRefund } from './budgets.js';
import type { Db, Param, Statement } from './db.js';
import { revokeDevices, rotateDevice } from './devices.js';
import { amrOf, first } from './rows.js';
import type { Store } from './types.js';
import type { NewSession, RefreshUse } from './values.js';

/**
 * Ends the user's sessions but `keep` (null: all of them), and their trusted
 * devices (each needs a second factor again), as of `now`: the sessions
 * are marked revoked, and the user's epoch moves on, so a session being made
 * at this moment is dead too; `keep` moves with it (and, with `passed`,
 * now counts as having passed a second factor). `user.set` ("column = ?, ")
 * changes the user's row in the same update, which happens only `user.where`
 * holds (else the batch fails: a condition racers re-check on PostgreSQL).
 */
const endSessions = (
  userId: string,
  keep: string | null,
  now: number,
  passed = false,
  user: { set: string; params?: Param[]; where?: string; whereParams?: Param[] } = { set: '' },
): Statement[] => [
  revokeDevices(userId, now),
  {
    sql: 'UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL',
    params: [now, userId, keep ?? ''],
  },
  // The one update of the user's row in the batch (PostgreSQL applies only one update of a row per statement).
  {
    sql: `UPDATE users SET ${user.set}session_epoch = session_epoch + 1 WHERE id = ?${user.where ? ` AND ${user.where}` : ''}`,
    params: [...(user.params ?? []), userId, ...(user.whereParams ?? [])],
    expectChanges: 1,
  },
  ...(keep === null
    ? []
    : [
        {
          sql: `UPDATE sessions SET epoch = epoch + 1${passed ? ", amr = 'pwd otp'" : ''} WHERE id = ? AND user_id = ?`,
          params: [keep, userId],
        },
      ]),
];

/**
 * A session and its first refresh token. With `current`, only while the
 * user's epoch is still the one read (no 2FA change in between).
 */
const newSession = (n: NewSession, current = false): Statement[] => [
  {
    sql: `INSERT INTO sessions (id, user_id, amr, created_at, expires_at, epoch) SELECT ?, ?, ?, ?, ?, ?
          ${current ? 'WHERE EXISTS (SELECT 1 FROM users WHERE id = ? AND session_epoch = ?)' : ''}`,
    params: [
      n.id,
      n.userId,
      n.amr.join(' '),
      n.now,
      n.sessionExpiresAt,
      n.epoch,
      ...(current ? [n.userId, n.epoch] : []),
    ],
    ...(current ? { expectChanges: 1 } : {}),
  },
  {
    sql: 'INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
    params: [n.tokenHash, n.id, n.now, n.expiresAt],
  },
];

const revokeSession = async (db: Db, sessionId: string, now: number): Promise<void> => {
  await db.run('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, sessionId]);
};

/**
 * Store.useRefreshToken: reads the token's session, then rotates it in one
 * batch that only one racing caller wins; a loser finds out why.
 */
async function useRefreshToken(
  db: Db,
  tokenHash: string,
  next: { tokenHash: string; now: number; expiresAt: number },
): Promise<RefreshUse> {
  const row = await first<{
    session_id: string;
    user_id: string;
    amr: string;
    expires_at: number;
    revoked_at: number | null;
  }>(
    db,
    `SELECT t.session_id, s.user_id, s.amr, s.expires_at,
            CASE WHEN s.epoch = u.session_epoch THEN s.revoked_at ELSE 0 END AS revoked_at
     FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
     WHERE t.token_hash = ?`,
    [tokenHash],
  );
  if (!row || row.revoked_at !== null || Number(row.expires_at) <= next.now) return { status: 'invalid' };
  const sessionEnds = Number(row.expires_at);
  const rotated = await db.batch([
    {
      sql: 'UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?',
      params: [next.now, tokenHash, next.now],
      expectChanges: 1,
    },
    {
      sql: 'INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) SELECT ?, id, ?, ? FROM sessions WHERE id = ? AND revoked_at IS NULL',
      params: [next.tokenHash, next.now, Math.min(next.expiresAt, sessionEnds), row.session_id],
      expectChanges: 1,
    },
  ]);
  if (rotated) {
    return {
      status: 'ok',
      sessionId: row.session_id,
      userId: row.user_id,
      amr: amrOf(row.amr),
      expiresAt: sessionEnds,
    };
  }
  const used = await first<{ used_at: number | null }>(db, 'SELECT used_at FROM refresh_tokens WHERE token_hash = ?', [
    tokenHash,
  ]);
  if (used?.used_at === null) return { status: 'invalid' }; // expired, not reused
  await revokeSession(db, row.session_id, next.now);
  return { status: 'reused', sessionId: row.session_id, userId: row.user_id };
}

type SessionMethods = Pick<
  Store,
  'createSession' | 'useRefreshToken' | 'liveSession' | 'revokeSessions' | 'revokeSession' | 'stepUpSession'
>;

function sessions(db: Db): SessionMethods {
  return {
    async createSession(session, audit = [], device) {
      return db.batch([
        ...newSession(session, true),
        ...(device ? [rotateDevice(device)] : []),
        ...audit.map(auditStatement),
        passwordRefund(session.userId),
      ]);
    },
    useRefreshToken: (tokenHash, next) => useRefreshToken(db, tokenHash, next),
    async liveSession(sessionId, now) {
      const row = await first<{ user_id: string; amr: string; expires_at: number }>(
        db,
        `SELECT s.user_id, s.amr, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.epoch = u.session_epoch`,
        [sessionId, now],
      );
      return row && { userId: row.user_id, amr: amrOf(row.amr), expiresAt: Number(row.expires_at) };
    },
    async revokeSessions(userId, keep, now) {
      await db.batch(endSessions(userId, keep, now));
    },
    revokeSession: (sessionId, now) => revokeSession(db, sessionId, now),
    async stepUpSession(sessionId, amr) {
      await db.run('UPDATE sessions SET amr = ? WHERE id = ? AND revoked_at IS NULL', [amr.join(' '), sessionId]);
    },
  };
}

export { endSessions, newSession, sessions };
