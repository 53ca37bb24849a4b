// PostgreSQL through node-postgres: for any number of server processes over one database.

import pg from 'pg';
import type { Db, Param, Statement } from './db.js';

const INT8_OID = 20;
/** Arbitrary, fixed: the advisory lock every otpkit process takes to migrate. */
const MIGRATION_LOCK = 0x6f74706b; // "otpk"

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

interface PostgresOptions {
  /** A schema to use instead of public (the tests give each run its own). */
  schema?: string;
  /** Connections in the pool. */
  max?: number;
}

function openPostgres(url: string, options: PostgresOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    // BIGINT columns hold times and counters, all below 2^53: read them as numbers.
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // Named statements: each connection parses and plans a statement once, then
  // reuses it (unnamed ones are planned again on every call).
  const prepared = new Map<string, { name: string; text: string }>();
  const query = async (client: pg.Pool | pg.PoolClient, sql: string, params: readonly Param[] = []) => {
    let statement = prepared.get(sql);
    if (statement === undefined) {
      statement = { name: `otpkit_${prepared.size}`, text: numbered(sql) };
      prepared.set(sql, statement);
    }
    return client.query({ ...statement, values: params as Param[] });
  };
  return {
    dialect: 'postgres',
    all: async <T>(sql: string, params?: readonly Param[]) => (await query(pool, sql, params)).rows as T[],
    run: async (sql, params) => (await query(pool, sql, params)).rowCount ?? 0,
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
        throw error;
      }
    },
    async exclusive(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        const result = await fn({
          exec: async (sql) => void (await client.query(sql)),
          all: async <T>(sql: string, params?: readonly Param[]) => (await query(client, sql, params)).rows as T[],
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

export type { PostgresOptions };
export { openPostgres };
