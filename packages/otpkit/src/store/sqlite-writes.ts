// SQLite's writes: group commit on the event loop, checkpoints on a worker
// thread, and chains of statements that read the rows of the ones before.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { Param, Query, Step } from './db.js';

type Prepare = (sql: string) => Database.Statement;

/**
 * Group commit: the writes that arrive while the event loop is busy run
 * together at its next turn, in one transaction, each in its own savepoint,
 * so each is still all or nothing and sees the ones before it. One COMMIT,
 * one set of file locks and one write of each shared page serve them all;
 * on this machine the per-transaction system calls were a third of a login.
 * A write's promise settles only after the COMMIT.
 */
function groupCommit(db: Database.Database, prepare: Prepare, committed: () => void) {
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

/**
 * Db.chain on SQLite, inside one write: SQLite cannot update inside WITH, so
 * the steps run one after another, and each one's rows reach the statements
 * after it as a WITH table of VALUES under its name.
 */
function runChain<T>(prepare: Prepare, steps: readonly Step[], final: Query): T[] {
  const tables: string[] = [];
  const tableParams: Param[] = [];
  const run = (query: Query) => {
    const statement = prepare(`${tables.length === 0 ? '' : `WITH ${tables.join(', ')} `}${query.sql}`);
    return { statement, rows: statement.all(...tableParams, ...(query.params ?? [])) as Record<string, Param>[] };
  };
  for (const step of steps) {
    const { statement, rows } = run(step);
    const columns = statement.columns().map((column) => column.name);
    const names = columns.map((column) => `"${column}"`).join(', ');
    const values =
      rows.length === 0
        ? `SELECT ${columns.map(() => 'NULL').join(', ')} WHERE FALSE`
        : `VALUES ${rows.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ')}`;
    tables.push(`${step.name}(${names}) AS (${values})`);
    tableParams.push(...rows.flatMap((row) => columns.map((column) => row[column] ?? null)));
  }
  return run(final).rows as T[];
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
function startCheckpointer(db: Database.Database, path: string, busyTimeoutMs: number) {
  if (db.memory) return { wrote: () => {}, stop: async () => {} };
  const writes = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(CHECKPOINTER, {
    eval: true,
    workerData: {
      path,
      busyTimeoutMs,
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

type GroupCommit = ReturnType<typeof groupCommit>;
type Checkpointer = ReturnType<typeof startCheckpointer>;

export type { Checkpointer, GroupCommit, Prepare };
export { groupCommit, runChain, startCheckpointer };
