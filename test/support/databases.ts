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

async function freshSqlite(): Promise<TestDb> {
  const dir = mkdtempSync(join(tmpdir(), 'otpkit-db-'));
  const file = join(dir, 'otpkit.sqlite');
  const db = openSqlite(file);
  await migrate(db, Date.now());
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

/** Each database the contract suites run against; PostgreSQL only where it answers. */
const DATABASES: [name: string, open: () => Promise<TestDb>][] = [
  ['SQLite', freshSqlite],
  ...(hasPostgres ? [['PostgreSQL', () => freshPostgres()] as [string, () => Promise<TestDb>]] : []),
];

export type { TestDb };
export { DATABASES, freshPostgres, freshSqlite, hasPostgres, POSTGRES_URL };
