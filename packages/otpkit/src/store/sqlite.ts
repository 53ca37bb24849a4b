// The embedded default: SQLite through better-sqlite3, in WAL mode.

import { chmodSync, closeSync, fchmodSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { BatchAborted, DatabaseUnavailable, type Db, type Param } from './db.js';

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

function open(path: string): Db {
  makePrivate(path);
  const db = new Database(path);
  db.pragma('journal_mode = WAL'); // readers do not wait for the writer
  db.pragma('synchronous = NORMAL'); // durable at each checkpoint; WAL keeps it consistent
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`); // another process writing: wait, not fail
  db.pragma('foreign_keys = ON');
  const checkpointer = startCheckpointer(db, path);
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
    async run(sql, params = []) {
      try {
        return await commits.write(() => prepare(sql).run(...params).changes);
      } catch (error) {
        throw fault(error, path);
      }
    },
    async batch(statements) {
      try {
        return await commits.write(() => {
          for (const { sql, params = [], expectChanges } of statements) {
            const changes = prepare(sql).run(...params).changes;
            if (expectChanges !== undefined && changes !== expectChanges) throw new BatchAborted();
          }
          return true;
        });
      } catch (error) {
        if (error instanceof BatchAborted) return false;
        throw fault(error, path);
      }
    },
    async exclusive(fn) {
      await commits.idle();
      try {
        db.exec('BEGIN IMMEDIATE'); // takes the write lock now: a second process waits here
      } catch (error) {
        throw fault(error, path);
      }
      try {
        const result = await fn({
          exec: async (sql) => void db.exec(sql),
          all: async <T>(sql: string, params: readonly Param[] = []) => prepare(sql).all(...params) as T[],
        });
        db.exec('COMMIT');
        checkpointer.wrote();
        return result;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw fault(error, path);
      }
    },
    async close() {
      await commits.idle();
      await checkpointer.stop();
      db.close();
    },
  };
}

/**
 * Group commit: the writes that arrive while the event loop is busy run
 * together at its next turn, in one transaction, each in its own savepoint,
 * so each is still all or nothing and sees the ones before it. One COMMIT,
 * one set of file locks and one write of each shared page serve them all;
 * on this machine the per-transaction system calls were a third of a login.
 * A write's promise settles only after the COMMIT.
 */
function groupCommit(db: Database.Database, prepare: (sql: string) => Database.Statement, committed: () => void) {
  type Pending = { work: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void };
  let queue: Pending[] = [];

  function flush() {
    const group = queue;
    queue = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      prepare('BEGIN IMMEDIATE').run();
      for (const { work } of group) {
        prepare('SAVEPOINT one').run();
        try {
          outcomes.push({ ok: true, value: work() });
        } catch (error) {
          prepare('ROLLBACK TO one').run();
          outcomes.push({ ok: false, error });
        }
        prepare('RELEASE one').run();
      }
      prepare('COMMIT').run();
      committed();
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      for (const pending of group) pending.reject(error);
      return;
    }
    group.forEach((pending, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }

  return {
    write<T>(work: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (queue.length === 0) setImmediate(flush);
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      });
    },
    /** Settles once the waiting writes are committed (immediates run in order, after the flush). */
    idle: () => (queue.length === 0 ? Promise.resolve() : new Promise<void>((done) => setImmediate(done))),
  };
}

// A WAL checkpoint copies pages back into the database file and waits for the
// disk (fsync) twice. SQLite runs it in the committing thread, which here is the
// event loop: every thousand pages it would stall every request in flight for
// milliseconds. A worker thread checkpoints instead, woken by writes: it lets a
// few commits gather, copies them, and sleeps again while nothing is written.
const CHECKPOINTER = `
  const { workerData } = require('node:worker_threads');
  const Database = require(workerData.driver);
  const db = new Database(workerData.path);
  db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
  const writes = new Int32Array(workerData.writes);
  for (let seen = 0; ; ) {
    Atomics.wait(writes, 0, seen);
    Atomics.wait(writes, 1, 0, 20); // never notified: a 20 ms pause
    seen = Atomics.load(writes, 0);
    db.pragma('wal_checkpoint(PASSIVE)');
  }
`;

/** Returns the function to call after each write, and a stop for close(). */
function startCheckpointer(db: Database.Database, path: string) {
  if (db.memory) return { wrote: () => {}, stop: async () => {} };
  const writes = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(CHECKPOINTER, {
    eval: true,
    workerData: {
      path,
      busyTimeoutMs: BUSY_TIMEOUT_MS,
      writes: writes.buffer,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
    },
  });
  worker.unref();
  let running = true;
  worker.on('error', () => {
    running = false;
    db.pragma('wal_autocheckpoint = 1000'); // SQLite's own, in this thread
  });
  db.pragma('wal_autocheckpoint = 0');
  return {
    wrote() {
      Atomics.add(writes, 0, 1);
      Atomics.notify(writes, 0);
    },
    async stop() {
      if (running) await worker.terminate();
    },
  };
}

export { openSqlite };
