// The embedded default: SQLite through better-sqlite3, in WAL mode.

import Database from 'better-sqlite3';
import { BatchAborted, type Db, type Param } from './db.js';

function openSqlite(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL'); // readers do not wait for the writer
  db.pragma('synchronous = NORMAL'); // durable at each checkpoint; WAL keeps it consistent
  db.pragma('busy_timeout = 5000'); // another process writing: wait up to 5 s, not fail
  db.pragma('foreign_keys = ON');
  const cache = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };
  const all = <T>(sql: string, params: readonly Param[] = []) => prepare(sql).all(...params) as T[];
  return {
    dialect: 'sqlite',
    all: async (sql, params) => all(sql, params),
    run: async (sql, params = []) => prepare(sql).run(...params).changes,
    async batch(statements) {
      try {
        db.transaction(() => {
          for (const { sql, params = [], expectChanges } of statements) {
            const changes = prepare(sql).run(...params).changes;
            if (expectChanges !== undefined && changes !== expectChanges) throw new BatchAborted();
          }
        })();
        return true;
      } catch (error) {
        if (error instanceof BatchAborted) return false;
        throw error;
      }
    },
    async exclusive(fn) {
      db.exec('BEGIN IMMEDIATE'); // takes the write lock now: a second process waits here
      try {
        const result = await fn({
          exec: async (sql) => void db.exec(sql),
          all: async (sql, params) => all(sql, params),
        });
        db.exec('COMMIT');
        return result;
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
    },
    close: async () => void db.close(),
  };
}

export { openSqlite };
