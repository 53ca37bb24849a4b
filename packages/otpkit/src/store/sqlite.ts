// The embedded default: SQLite through better-sqlite3, in WAL mode.

import { chmodSync, closeSync, fchmodSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { BatchAborted, DatabaseUnavailable, type Db, type Param, type Tx } from './db.js';
import {
  type Checkpointer,
  type GroupCommit,
  groupCommit,
  type Prepare,
  runChain,
  startCheckpointer,
} from './sqlite-writes.js';

/** Another process writing: wait this long for its lock, then answer DatabaseUnavailable (503). */
const BUSY_TIMEOUT_MS = 5_000;
/** The database and its companions hold password hashes and sealed secrets: readable by their owner only. */
const PRIVATE_MODE = 0o600;

// Result codes (https://sqlite.org/rescode.html), extended ones included,
// that mean the file cannot be used now rather than that a statement is wrong.
const UNAVAILABLE_CODES: readonly [prefix: string, reason: string][] = [
  ['SQLITE_BUSY', `still locked by another connection after ${BUSY_TIMEOUT_MS} ms`],
  ['SQLITE_IOERR', 'input/output error'],
  ['SQLITE_FULL', 'the disk is full'],
  ['SQLITE_CANTOPEN', 'the file cannot be opened'],
  ['SQLITE_NOMEM', 'out of memory'],
];

// What making the file private (below) can meet: a directory otpkit may not write, or a full disk.
const FILE_ERRORS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOENT', 'ENOTDIR', 'EISDIR']);

/** DatabaseUnavailable for an error in the lists above; any other error unchanged. */
function fault(error: unknown, path: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error;
  const known = UNAVAILABLE_CODES.find(([prefix]) => code === prefix || code.startsWith(`${prefix}_`));
  const reason = known?.[1] ?? (FILE_ERRORS.has(code) ? 'the file cannot be opened' : undefined);
  return reason ? new DatabaseUnavailable(`database unavailable (SQLite at ${path}): ${reason} (${code})`) : error;
}

/**
 * Makes the database file (creating it empty, which SQLite takes as a new
 * database) and any journal left beside it readable by their owner only,
 * whatever the umask and whoever made the directory. SQLite's unix VFS
 * creates the -wal and -shm files later with the database file's mode.
 * A file another user owns (EPERM) keeps the mode that user chose.
 */
function makePrivate(path: string): void {
  if (path === '' || path === ':memory:' || path.startsWith('file:')) return;
  const narrow = (chmod: () => void) => {
    try {
      chmod();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EPERM') throw error;
    }
  };
  const fd = openSync(path, 'a', PRIVATE_MODE);
  try {
    narrow(() => fchmodSync(fd, PRIVATE_MODE));
  } finally {
    closeSync(fd);
  }
  for (const suffix of ['-wal', '-shm', '-journal']) narrow(() => chmodSync(`${path}${suffix}`, PRIVATE_MODE));
}

function openSqlite(path: string): Db {
  try {
    return open(path);
  } catch (error) {
    throw fault(error, path);
  }
}

/** One open database and what its Db methods share. */
interface Connection {
  db: Database.Database;
  path: string;
  /** Prepared statements are cached by their SQL. */
  prepare: Prepare;
  commits: GroupCommit;
  checkpointer: Checkpointer;
}

function open(path: string): Db {
  makePrivate(path);
  const db = new Database(path);
  db.pragma('journal_mode = WAL'); // readers do not wait for the writer
  db.pragma('synchronous = NORMAL'); // durable at each checkpoint; WAL keeps it consistent
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`); // another process writing: wait, not fail
  db.pragma('foreign_keys = ON');
  const checkpointer = startCheckpointer(db, path, BUSY_TIMEOUT_MS);
  const cache = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };
  const commits = groupCommit(db, prepare, checkpointer.wrote);
  return sqliteDb({ db, path, prepare, commits, checkpointer });
}

function sqliteDb(c: Connection): Db {
  const { path, prepare, commits } = c;
  /** A write in the group commit, with a driver's fault as DatabaseUnavailable. */
  const write = async <T>(work: () => T): Promise<T> => {
    try {
      return await commits.write(work);
    } catch (error) {
      throw fault(error, path);
    }
  };
  return {
    dialect: 'sqlite',
    async all<T>(sql: string, params: readonly Param[] = []) {
      try {
        const statement = prepare(sql);
        if (statement.readonly) return statement.all(...params) as T[];
        return await commits.write(() => statement.all(...params) as T[]); // UPDATE ... RETURNING
      } catch (error) {
        throw fault(error, path);
      }
    },
    run: (sql, params = []) => write(() => prepare(sql).run(...params).changes),
    async batch(statements) {
      try {
        return await write(() => {
          for (const { sql, params = [], expectChanges } of statements) {
            const changes = prepare(sql).run(...params).changes;
            if (expectChanges !== undefined && changes !== expectChanges) throw new BatchAborted();
          }
          return true;
        });
      } catch (error) {
        if (error instanceof BatchAborted) return false;
        throw error;
      }
    },
    chain: (steps, final) => write(() => runChain(prepare, steps, final)),
    exclusive: (fn) => exclusive(c, fn),
    async ping() {
      if (!c.db.open) throw new DatabaseUnavailable(`database unavailable (SQLite at ${path}): the database is closed`);
      try {
        prepare('SELECT 1').get();
      } catch (error) {
        throw fault(error, path);
      }
    },
    async close() {
      await commits.idle();
      await c.checkpointer.stop();
      c.db.close();
    },
  };
}

async function exclusive<T>(c: Connection, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const { db, path, prepare } = c;
  await c.commits.idle();
  try {
    db.exec('BEGIN IMMEDIATE'); // takes the write lock now: a second process waits here
  } catch (error) {
    throw fault(error, path);
  }
  try {
    const result = await fn({
      exec: async (sql) => void db.exec(sql),
      all: async <R>(sql: string, params: readonly Param[] = []) => prepare(sql).all(...params) as R[],
    });
    db.exec('COMMIT');
    c.checkpointer.wrote();
    return result;
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw fault(error, path);
  }
}

export { openSqlite };
