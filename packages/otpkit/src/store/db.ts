// The database seen by the store: SQL with `?` placeholders, run the same way
// on SQLite and PostgreSQL. Every statement stands alone and is atomic; batch()
// and chain() run several in one transaction. What differs between the
// databases (driver error codes, locking, how statements are batched) lives in
// the adapters, sqlite*.ts and postgres*.ts, never in the store.

type Param = string | number | null;

/** SQL and its parameters. */
interface Query {
  sql: string;
  params?: readonly Param[];
}

/** A statement of batch(). */
interface Statement extends Query {
  /** Roll the whole batch back unless this statement changes exactly this many rows. */
  expectChanges?: number;
}

/** A statement of chain(): the rows it returns are a table named `name` to the statements after it. */
interface Step extends Query {
  name: string;
}

interface Db {
  /** For tests and tools outside the store (the store itself never branches on it). */
  readonly dialect: 'sqlite' | 'postgres';
  /** Rows of a query (or of an UPDATE/INSERT ... RETURNING). */
  all<T>(sql: string, params?: readonly Param[]): Promise<T[]>;
  /** How many rows a statement changed. */
  run(sql: string, params?: readonly Param[]): Promise<number>;
  /**
   * INSERT, UPDATE or DELETE statements (no RETURNING), all or nothing: false
   * (and nothing changed) when an expectChanges fails. Each sees the changes of
   * the ones before it only on SQLite: on PostgreSQL they are one statement.
   */
  batch(statements: readonly Statement[]): Promise<boolean>;
  /**
   * Statements that read the rows of the ones before them by their names (a
   * SELECT, or an INSERT, UPDATE or DELETE ... RETURNING), then `final` over
   * them, all or nothing; returns the rows of `final`. Read what a step
   * changed only through its rows: PostgreSQL runs the chain as one statement
   * on one snapshot (one round trip, data-modifying WITH queries), SQLite one
   * statement after another (it cannot update inside WITH; a call costs no
   * round trip there).
   */
  chain<T>(steps: readonly Step[], final: Query): Promise<T[]>;
  /** Runs fn in one transaction holding a lock that other processes wait on (for migrations). */
  exclusive<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Resolves once the database answers SELECT 1 (readiness); DatabaseUnavailable when it cannot. */
  ping(): Promise<void>;
  /** PostgreSQL's pool, for metrics: connections open, idle, and requests waiting for one. SQLite has none. */
  pool?(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

interface Tx {
  exec(sql: string): Promise<void>;
  all<T>(sql: string, params?: readonly Param[]): Promise<T[]>;
}

/** Thrown inside a batch when an expectChanges does not hold; caught by the adapters. */
class BatchAborted extends Error {}

/**
 * The database could not be reached, or did not answer in time: a fault of the
 * moment, not of the request (HTTP 503, exit status 1 at start). Both adapters
 * throw it in place of their drivers' connection, timeout and I/O errors; any
 * other error (a constraint, a bug) passes through unchanged. The message says
 * where and what happened from a fixed list, never a statement or its values.
 */
class DatabaseUnavailable extends Error {
  override name = 'DatabaseUnavailable';
}

export type { Db, Param, Query, Statement, Step, Tx };
export { BatchAborted, DatabaseUnavailable };
