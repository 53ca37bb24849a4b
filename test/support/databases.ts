// Real databases for tests: a fresh SQLite file, or a fresh schema in the
// PostgreSQL running on this machine. CI sets OTPKIT_REQUIRE_SERVICES=1, and
// then a missing PostgreSQL fails the run instead of skipping.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Db } from '../../packages/otpkit/src/store/db.js';
import { migrate } from '../../packages/otpkit/src/store/migrate.js';
import { openPostgres } from '../../packages/otpkit/src/store/postgres.js';
import { openSqlite } from '../../packages/otpkit/src/store/sqlite.js';

const POSTGRES_URL = process.env.OTPKIT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function probe(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const hasPostgres = await probe();
if (!hasPostgres) {
  if (process.env.OTPKIT_REQUIRE_SERVICES === '1') {
    throw new Error(`PostgreSQL is required (OTPKIT_REQUIRE_SERVICES=1) but not reachable at ${POSTGRES_URL}`);
  }
  console.warn(`\n!!! SKIPPING PostgreSQL tests: nothing answers at ${POSTGRES_URL} !!!\n`);
}

interface TestDb {
  db: Db;
  /** Opens a second, independent connection to the same database (another "process"). */
  reopen(): Db;
  /** What a second process needs to reach the same database. */
  url: string;
  schema?: string;
  drop(): Promise<void>;
}

async function freshSqlite(options: { migrated?: boolean } = {}): Promise<TestDb> {
  const dir = mkdtempSync(join(tmpdir(), 'otpkit-db-'));
  const file = join(dir, 'otpkit.sqlite');
  const db = openSqlite(file);
  if (options.migrated !== false) await migrate(db, Date.now());
  const opened = [db];
  return {
    db,
    url: file,
    reopen: () => {
      const another = openSqlite(file);
      opened.push(another);
      return another;
    },
    drop: async () => {
      for (const d of opened) await d.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function freshPostgres(options: { migrated?: boolean } = {}): Promise<TestDb> {
  const schema = `otpkit_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const db = openPostgres(POSTGRES_URL, { schema });
  if (options.migrated !== false) await migrate(db, Date.now());
  const opened = [db];
  return {
    db,
    url: POSTGRES_URL,
    schema,
    reopen: () => {
      const another = openPostgres(POSTGRES_URL, { schema });
      opened.push(another);
      return another;
    },
    drop: async () => {
      for (const d of opened) await d.close();
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    },
  };
}

/** A database of its own, for a test that cuts connections to it; url reaches it directly. */
interface OwnDatabase {
  name: string;
  url: string;
  /** Ends every connection to it but the caller's: what a DB restart or pg_terminate_backend does. Returns how many. */
  terminateBackends(): Promise<number>;
  drop(): Promise<void>;
}

/** In the server at POSTGRES_URL, a fresh database (otpkit_fault_<random>), dropped with every connection to it. */
async function freshPostgresDatabase(): Promise<OwnDatabase> {
  const name = `otpkit_fault_${randomBytes(6).toString('hex')}`;
  const admin = async <T>(sql: string, params: string[] = []) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.href,
    terminateBackends: async () =>
      (
        await admin<{ ended: boolean }>(
          'SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [name],
        )
      ).filter((row) => row.ended).length,
    drop: async () => void (await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

/** Each database the contract suites run against; PostgreSQL only where it answers. */
type Open = (options?: { migrated?: boolean }) => Promise<TestDb>;
const DATABASES: [name: string, open: Open][] = [
  ['SQLite', freshSqlite],
  ...(hasPostgres ? [['PostgreSQL', freshPostgres] as [string, Open]] : []),
];

export type { OwnDatabase, TestDb };
export { DATABASES, freshPostgres, freshPostgresDatabase, freshSqlite, hasPostgres, POSTGRES_URL };
