// PostgreSQL through node-postgres: for any number of server processes over one database.

import pg from 'pg';
import { DatabaseUnavailable, type Db, type Param, type Tx } from './db.js';
import { chainStatement, isAborted, numbered, oneStatement } from './postgres-batch.js';
import { describe, type Timeouts, unavailability } from './postgres-faults.js';

const INT8_OID = 20;
/** Arbitrary, fixed: the advisory lock every otpkit process takes to migrate. */
const MIGRATION_LOCK = 0x6f74706b; // "otpk"

/** The defaults of OTPKIT_DB_CONNECT_TIMEOUT_MS and OTPKIT_DB_STATEMENT_TIMEOUT_MS. */
const DEFAULT_TIMEOUT_MS = 5_000;
/**
 * The client gives up on a statement this long after the server's
 * statement_timeout would have: on a live link the server cancels first and
 * the connection survives; on a frozen one (the server never saw the
 * statement, or its answer never comes) the client ends it and drops the socket.
 */
const QUERY_TIMEOUT_MARGIN_MS = 1_000;
/** An idle pooled connection is closed after this; the next request opens a fresh one. */
const IDLE_TIMEOUT_MS = 30_000;
/** TCP keepalive probes start after this much silence, so a dead peer is noticed on an idle socket. */
const KEEPALIVE_DELAY_MS = 10_000;
/**
 * A migration (or the wait for another process's) may take minutes on a large
 * table; it runs under this server-side and client-side limit instead of the
 * statement timeout.
 */
const MIGRATION_TIMEOUT_MS = 10 * 60_000;
/** The server ends a session left idle inside a transaction this long (its client vanished): its locks go too. */
const IDLE_IN_TRANSACTION_MS = 60_000;

/** node-postgres reads query_timeout from a query's config too (lib/client.js); @types/pg does not declare it. */
type TimedQuery = pg.QueryConfig<Param[]> & { query_timeout?: number };

interface PostgresOptions {
  /** A schema to use instead of public (the tests give each run its own). */
  schema?: string;
  /** Connections in the pool. */
  max?: number;
  /** How long to wait for a new connection, or for a pooled one when all are busy (default 5000). */
  connectTimeoutMs?: number;
  /** The server cancels a statement after this (statement_timeout); the client gives up a second later (default 5000). */
  statementTimeoutMs?: number;
}

/** A pool and what its Db methods share. */
interface Connection {
  pool: pg.Pool;
  timeouts: Timeouts;
  /** The error to throw: DatabaseUnavailable for an unreachable database, any other unchanged. */
  fault(error: unknown, limits?: Timeouts): unknown;
  /** Runs a statement, prepared once per connection. */
  query(
    client: pg.PoolClient,
    sql: string,
    params?: readonly Param[],
    queryTimeoutMs?: number,
  ): Promise<pg.QueryResult>;
}

/**
 * A Db over a pool of PostgreSQL connections. Lost connections never reach
 * the process as an 'error' event: the pool drops them and opens new ones on
 * demand, so requests succeed again as soon as the server is back. Until then
 * every call fails with DatabaseUnavailable within the timeouts.
 */
function openPostgres(url: string, options: PostgresOptions = {}): Db {
  const connectMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const statementMs = options.statementTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeouts: Timeouts = { connectMs, queryMs: statementMs + QUERY_TIMEOUT_MARGIN_MS };
  const where = describe(url);
  const fault = (error: unknown, limits = timeouts): unknown => {
    const reason = unavailability(error, limits);
    return reason === undefined ? error : new DatabaseUnavailable(`database unavailable (${where}): ${reason}`);
  };
  const pool = createPool(url, { schema: options.schema, max: options.max ?? 10, statementMs, ...timeouts });
  return postgresDb({ pool, timeouts, fault, query: preparedQueries() });
}

function createPool(
  url: string,
  settings: Timeouts & { schema: string | undefined; max: number; statementMs: number },
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: settings.max,
    ...(settings.schema ? { options: `-c search_path=${settings.schema}` } : {}),
    application_name: 'otpkit', // pg_stat_activity shows whose backends these are
    connectionTimeoutMillis: settings.connectMs, // a new connection, and the wait for a pooled one
    statement_timeout: settings.statementMs, // server side: a slow statement is canceled (57014)
    query_timeout: settings.queryMs, // client side: also ends a statement lost on a frozen link
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    // BIGINT columns hold times and counters, all below 2^53: read them as numbers.
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection that dies (the server restarted, pg_terminate_backend,
  // a network cut) is an 'error' event on the pool, and one checked out is one
  // on its client: unheard, either would end the process. The pool has
  // already dropped the connection; the query that was using it, if any, gets
  // the error itself.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

// Named statements: each connection parses and plans a statement once, then
// reuses it (unnamed ones are planned again on every call).
function preparedQueries(): Connection['query'] {
  const prepared = new Map<string, { name: string; text: string }>();
  return async (client, sql, params = [], queryTimeoutMs) => {
    let statement = prepared.get(sql);
    if (statement === undefined) {
      statement = { name: `otpkit_${prepared.size}`, text: numbered(sql) };
      prepared.set(sql, statement);
    }
    const config: TimedQuery = {
      ...statement,
      values: params as Param[],
      ...(queryTimeoutMs === undefined ? {} : { query_timeout: queryTimeoutMs }),
    };
    return client.query(config);
  };
}

/**
 * Errors about the statement's data, after which its connection is as good
 * as before: SQLSTATE classes 22 (a bad value; also how a batch that lost a
 * race fails, see postgres-batch.ts), 23 (a constraint) and 40 (a
 * serialization failure or deadlock, rolled back). Any other error may be
 * about the connection (a statement prepared on it before a schema change
 * fails there every time; a FATAL one ends it), so the connection goes.
 */
const statementOnly = (error: unknown) =>
  error instanceof pg.DatabaseError && error.severity === 'ERROR' && /^(22|23|40)/.test(error.code ?? '');

/**
 * Runs one statement on a pooled connection. pg's Pool.query drops the
 * connection on any error; here one the server refused for its data stays,
 * so a burst of lost races costs no new connections.
 */
async function pooled(c: Connection, sql: string, params?: readonly Param[]): Promise<pg.QueryResult> {
  const client = await c.pool.connect();
  let broken: Error | undefined;
  try {
    return await c.query(client, sql, params);
  } catch (error) {
    if (!statementOnly(error)) broken = error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
}

function postgresDb(c: Connection): Db {
  const { pool, fault } = c;
  const query = (sql: string, params?: readonly Param[]) => pooled(c, sql, params);
  const all = async <T>(sql: string, params?: readonly Param[]) => {
    try {
      return (await query(sql, params)).rows as T[];
    } catch (error) {
      throw fault(error);
    }
  };
  return {
    dialect: 'postgres',
    all,
    async run(sql, params) {
      try {
        return (await query(sql, params)).rowCount ?? 0;
      } catch (error) {
        throw fault(error);
      }
    },
    async batch(statements) {
      const { sql, params } = oneStatement(statements);
      try {
        await query(sql, params);
        return true;
      } catch (error) {
        if (isAborted(error)) return false;
        throw fault(error);
      }
    },
    chain(steps, final) {
      const { sql, params } = chainStatement(steps, final);
      return all(sql, params);
    },
    exclusive: (fn) => exclusive(c, fn),
    ping: async () => void (await all('SELECT 1')),
    pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

async function exclusive<T>(c: Connection, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await c.pool.connect().catch((error: unknown) => {
    throw c.fault(error);
  });
  // Migrations are not held to the statement timeout (see MIGRATION_TIMEOUT_MS).
  const limits: Timeouts = { connectMs: c.timeouts.connectMs, queryMs: MIGRATION_TIMEOUT_MS + QUERY_TIMEOUT_MARGIN_MS };
  const run = (text: string) => {
    const config: TimedQuery = { text, query_timeout: limits.queryMs };
    return client.query(config);
  };
  let broken: Error | undefined;
  try {
    await run('BEGIN');
    await run(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
    await run(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    const result = await fn({
      exec: async (sql) => void (await run(sql)),
      all: async <R>(sql: string, params?: readonly Param[]) =>
        (await c.query(client, sql, params, limits.queryMs)).rows as R[],
    });
    await run('COMMIT');
    return result;
  } catch (error) {
    // A connection that failed, or cannot roll back, leaves the pool.
    if (unavailability(error, limits) !== undefined) broken = error as Error;
    else {
      try {
        await run('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
    }
    throw c.fault(error, limits);
  } finally {
    client.release(broken);
  }
}

export type { PostgresOptions };
export { openPostgres };
