// The database seen by the store: SQL with `?` placeholders, run the same way
// on SQLite and PostgreSQL. Every statement stands alone and is atomic; batch()
// runs several in one transaction.

type Param = string | number | null;

interface Statement {
  sql: string;
  params?: readonly Param[];
  /** Roll the whole batch back unless this statement changes exactly this many rows. */
  expectChanges?: number;
}

interface Db {
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
  /** Runs fn in one transaction holding a lock that other processes wait on (for migrations). */
  exclusive<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
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

export type { Db, Param, Statement, Tx };
export { BatchAborted, DatabaseUnavailable };
