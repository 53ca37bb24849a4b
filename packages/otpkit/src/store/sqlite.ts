// The embedded default: SQLite through better-sqlite3, in WAL mode.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { BatchAborted, type Db, type Param } from './db.js';

function openSqlite(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL'); // readers do not wait for the writer
  db.pragma('synchronous = NORMAL'); // durable at each checkpoint; WAL keeps it consistent
  db.pragma('busy_timeout = 5000'); // another process writing: wait up to 5 s, not fail
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
    all: async <T>(sql: string, params: readonly Param[] = []) => {
      const statement = prepare(sql);
      if (statement.readonly) return statement.all(...params) as T[];
      return commits.write(() => statement.all(...params) as T[]); // UPDATE ... RETURNING
    },
    run: async (sql, params = []) => commits.write(() => prepare(sql).run(...params).changes),
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
        throw error;
      }
    },
    async exclusive(fn) {
      await commits.idle();
      db.exec('BEGIN IMMEDIATE'); // takes the write lock now: a second process waits here
      try {
        const result = await fn({
          exec: async (sql) => void db.exec(sql),
          all: async <T>(sql: string, params: readonly Param[] = []) => prepare(sql).all(...params) as T[],
        });
        db.exec('COMMIT');
        checkpointer.wrote();
        return result;
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
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
  db.pragma('busy_timeout = 5000');
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
    workerData: { path, writes: writes.buffer, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
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
