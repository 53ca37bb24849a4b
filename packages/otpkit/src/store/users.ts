// Users: sign-up, look-ups by id or name (with their factor), the operator's list and unlock.

import type { Db } from './db.js';
import {
  first,
  toUser,
  toUserWithFactor,
  USER_COLUMNS,
  USER_WITH_FACTOR,
  type UserRow,
  type UserWithFactorRow,
} from './rows.js';
import type { Store } from './types.js';

type UserMethods = Pick<Store, 'createUser' | 'userByName' | 'userById' | 'userWithFactor' | 'listUsers' | 'unlock'>;

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
    async userWithFactor(by) {
      const row = await first<UserWithFactorRow>(
        db,
        `SELECT ${USER_WITH_FACTOR} WHERE ${'id' in by ? 'u.id' : 'u.username'} = ?`,
        ['id' in by ? by.id : by.username],
      );
      return row && toUserWithFactor(row);
    },
    async listUsers() {
      const rows = await db.all<UserWithFactorRow>(`SELECT ${USER_WITH_FACTOR} ORDER BY u.username`);
      return rows.map((row) => ({ ...toUser(row), factor: row.f_status }));
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
