// Users: sign-up, look-ups by id or name (with their authenticators), the operator's list and unlock.

import type { Db } from './db.js';
import {
  FACTORS_IN_ORDER,
  first,
  toUser,
  toUserWithFactors,
  USER_COLUMNS,
  USER_WITH_FACTOR,
  type UserRow,
  type UserWithFactorRow,
} from './rows.js';
import { endSessions } from './sessions.js';
import type { Store } from './types.js';
import type { Factor } from './values.js';

type UserMethods = Pick<
  Store,
  | 'createUser'
  | 'userByName'
  | 'userById'
  | 'userWithFactors'
  | 'listUsers'
  | 'unlock'
  | 'changePassword'
  | 'setDeactivated'
>;

function users(db: Db): UserMethods {
  return {
    async createUser(user) {
      // A taken id or name is a result, not an error: without a conflict
      // target, ON CONFLICT DO NOTHING covers every unique index on both databases.
      const inserted = await db.run(
        'INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [user.id, user.username, user.passwordHash, user.now],
      );
      return inserted === 1;
    },
    async userByName(username) {
      const row = await first<UserRow>(db, `SELECT ${USER_COLUMNS} FROM users WHERE username = ?`, [username]);
      return row && toUser(row);
    },
    async userById(id) {
      const row = await first<UserRow>(db, `SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, [id]);
      return row && toUser(row);
    },
    async userWithFactors(by) {
      const rows = await db.all<UserWithFactorRow>(
        `SELECT ${USER_WITH_FACTOR} WHERE ${'id' in by ? 'u.id' : 'u.username'} = ? ${FACTORS_IN_ORDER}`,
        ['id' in by ? by.id : by.username],
      );
      return toUserWithFactors(rows);
    },
    async listUsers(page = {}) {
      // A name holds no % or _ in practice, but a search for one means the character itself.
      const like = page.search === undefined ? undefined : `%${page.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const where = [
        ...(like === undefined ? [] : ["username LIKE ? ESCAPE '\\'"]),
        ...(page.after === undefined ? [] : ['username > ?']),
      ];
      // 'active' sorts before 'pending': a user's best status.
      const rows = await db.all<UserRow & { factor: Factor['status'] | null }>(
        `SELECT ${USER_COLUMNS}, (SELECT MIN(status) FROM totp_factors f WHERE f.user_id = users.id) AS factor
         FROM users ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY username
         ${page.limit === undefined ? '' : `LIMIT ${Math.trunc(page.limit)}`}`,
        [...(like === undefined ? [] : [like]), ...(page.after === undefined ? [] : [page.after])],
      );
      return rows.map((row) => ({ ...toUser(row), factor: row.factor }));
    },
    async changePassword(userId, passwordHash, keep, now) {
      return db.batch(endSessions(userId, keep, now, false, { set: 'password_hash = ?, ', params: [passwordHash] }));
    },
    async setDeactivated(userId, deactivated, now) {
      if (!deactivated) return (await db.run('UPDATE users SET deactivated_at = NULL WHERE id = ?', [userId])) === 1;
      return db.batch([
        { sql: 'DELETE FROM login_challenges WHERE user_id = ?', params: [userId] },
        ...endSessions(userId, null, now, false, { set: 'deactivated_at = ?, ', params: [now] }),
      ]);
    },
    async unlock(userId) {
      return (
        (await db.run(
          `UPDATE users SET failed_attempts = 0, locked_until = 0, locked_permanently = 0, password_failures = 0
           WHERE id = ?`,
          [userId],
        )) === 1
      );
    },
  };
}

export { users };
