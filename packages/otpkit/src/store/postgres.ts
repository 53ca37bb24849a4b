// PostgreSQL through node-postgres: for any number of server processes over one database.

import pg from 'pg';
import { DatabaseUnavailable, type Db, type Param, type Statement } from './db.js';

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

// Our SQL is written with `?`; PostgreSQL numbers its parameters. No statement
// here has a literal '?' in it.
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const ABORTED = 'otpkit: batch aborted';
const INVALID_TEXT = '22P02'; // invalid_text_representation

/**
 * A batch as one statement: one round trip, and one implicit transaction.
 * Each part is a data-modifying WITH query (they all run, on one snapshot;
 * each conditional UPDATE still re-checks a row another transaction changed).
 * An unmet expectChanges makes the statement fail (a cast of the ABORTED text
 * to an integer, built at run time so the planner cannot fold it), and the
 * failure rolls every part back.
 */
function oneStatement(statements: readonly Statement[]): string {
  const parts = statements.map((s, i) => `s${i} AS (${s.sql} RETURNING 1)`);
  const checks = statements.flatMap((s, i) =>
    s.expectChanges === undefined ? [] : [`(SELECT count(*) FROM s${i}) = ${s.expectChanges}`],
  );
  const ok = checks.length === 0 ? 'TRUE' : checks.join(' AND ');
  return `WITH ${parts.join(', ')} SELECT CAST(CASE WHEN ${ok} THEN '1' ELSE '${ABORTED}' END AS INTEGER) AS ok`;
}

// Socket errors that mean the server is out of reach, in words of our own.
const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection lost',
  ECONNABORTED: 'connection lost',
  EPIPE: 'connection lost',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

// SQLSTATEs (PostgreSQL's Appendix A) that mean the server cannot serve us
// now; class 08 (connection exception) is matched whole.
const UNAVAILABLE_STATES: Readonly<Record<string, string>> = {
  '57P01': 'the server ended the connection (admin_shutdown)',
  '57P02': 'the server ended the connection (crash_shutdown)',
  '57P03': 'the server is not accepting connections yet (cannot_connect_now)',
  '57014': 'the statement was canceled (statement_timeout)',
  '53300': 'the server has no connection slot left (too_many_connections)',
  '28000': 'the server refused the credentials (invalid_authorization_specification)',
  '28P01': 'the server refused the credentials (invalid_password)',
  '3D000': 'the database does not exist (invalid_catalog_name)',
};

interface Timeouts {
  connectMs: number;
  queryMs: number;
}

/** node-postgres reads query_timeout from a query's config too (lib/client.js); @types/pg does not declare it. */
type TimedQuery = pg.QueryConfig<Param[]> & { query_timeout?: number };

/**
 * What went wrong, from the lists above, when an error means the database is
 * out of reach or did not answer in time; undefined for any other error.
 * node-postgres reports its own timeouts and lost connections as plain
 * Errors, told apart only by their (fixed) messages.
 */
function unavailability(error: unknown, timeouts: Timeouts): string | undefined {
  if (!(error instanceof Error)) return undefined;
  // Node's connect to a name with several addresses fails with all their errors.
  if (error instanceof AggregateError && error.errors.length > 0) return unavailability(error.errors[0], timeouts);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    const reason = SOCKET_ERRORS[code] ?? UNAVAILABLE_STATES[code];
    if (reason !== undefined) return reason;
    if (code.startsWith('08')) return `connection failure (SQLSTATE ${code})`;
  }
  const { message } = error;
  if (
    message === 'timeout expired' ||
    message === 'timeout exceeded when trying to connect' ||
    message.startsWith('Connection terminated due to connection timeout')
  )
    return `no connection within ${timeouts.connectMs} ms`;
  if (message === 'Query read timeout') return `no answer within ${timeouts.queryMs} ms`;
  if (message.startsWith('Connection terminated') || message.startsWith('Client has encountered a connection error'))
    return 'connection lost';
  if (message === 'Client was closed and is not queryable' || message.startsWith('Cannot use a pool after calling end'))
    return 'the connection pool is closed';
  return undefined;
}

/** Where the database is, for messages: host, port and database name; never the user or password. */
function describe(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.searchParams.get('host') || parsed.hostname || 'localhost';
    const database = decodeURIComponent(parsed.pathname.slice(1));
    return `PostgreSQL at ${host}:${parsed.port || '5432'}${database ? `/${database}` : ''}`;
  } catch {
    return 'PostgreSQL';
  }
}

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
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    application_name: 'otpkit', // pg_stat_activity shows whose backends these are
    connectionTimeoutMillis: connectMs, // a new connection, and the wait for a pooled one
    statement_timeout: statementMs, // server side: a slow statement is canceled (57014)
    query_timeout: timeouts.queryMs, // client side: also ends a statement lost on a frozen link
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

  /** The error to throw: DatabaseUnavailable for an unreachable database, any other unchanged. */
  const fault = (error: unknown, limits = timeouts): unknown => {
    const reason = unavailability(error, limits);
    return reason === undefined ? error : new DatabaseUnavailable(`database unavailable (${where}): ${reason}`);
  };

  // Named statements: each connection parses and plans a statement once, then
  // reuses it (unnamed ones are planned again on every call).
  const prepared = new Map<string, { name: string; text: string }>();
  const query = async (
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params: readonly Param[] = [],
    queryTimeoutMs?: number,
  ) => {
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
  return {
    dialect: 'postgres',
    async all<T>(sql: string, params?: readonly Param[]) {
      try {
        return (await query(pool, sql, params)).rows as T[];
      } catch (error) {
        throw fault(error);
      }
    },
    async run(sql, params) {
      try {
        return (await query(pool, sql, params)).rowCount ?? 0;
      } catch (error) {
        throw fault(error);
      }
    },
    async batch(statements) {
      try {
        await query(
          pool,
          oneStatement(statements),
          statements.flatMap((s) => s.params ?? []),
        );
        return true;
      } catch (error) {
        const { code, message } = error as { code?: string; message?: string };
        if (code === INVALID_TEXT && message?.includes(ABORTED)) return false;
        throw fault(error);
      }
    },
    async exclusive(fn) {
      const client = await pool.connect().catch((error: unknown) => {
        throw fault(error);
      });
      // Migrations are not held to the statement timeout (see MIGRATION_TIMEOUT_MS).
      const limits: Timeouts = { connectMs, queryMs: MIGRATION_TIMEOUT_MS + QUERY_TIMEOUT_MARGIN_MS };
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
          all: async <T>(sql: string, params?: readonly Param[]) =>
            (await query(client, sql, params, limits.queryMs)).rows as T[],
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
        throw fault(error, limits);
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

export type { PostgresOptions };
export { openPostgres };
