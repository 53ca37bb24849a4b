// Versioned migrations: the plain SQL files in migrations/, applied in order,
// each once, under a lock so that processes starting together do not race.
// NNN_name.sql runs on both databases; NNN_name.postgres.sql (or .sqlite.sql)
// only on that one, for what one dialect alone has (storage parameters).

import { readdirSync, readFileSync } from 'node:fs';
import type { Db } from './db.js';

const MIGRATIONS = new URL('../../migrations/', import.meta.url);

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations for `dialect` (all of them when not given). */
function migrations(dialect?: Db['dialect']): Migration[] {
  return readdirSync(MIGRATIONS)
    .filter((file) => {
      const only = /^\d{3}_[a-z0-9_]+(?:\.(postgres|sqlite))?\.sql$/.exec(file);
      return only !== null && (dialect === undefined || only[1] === undefined || only[1] === dialect);
    })
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file,
      sql: readFileSync(new URL(file, MIGRATIONS), 'utf8'),
    }));
}

/**
 * Applies what is missing (up to version `through`, for tests that build an
 * older schema); returns the names of the migrations it applied.
 */
async function migrate(db: Db, now: number, options: { through?: number } = {}): Promise<string[]> {
  return db.exclusive(async (tx) => {
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS otpkit_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const done = new Set(
      (await tx.all<{ version: number }>('SELECT version FROM otpkit_migrations')).map((r) => Number(r.version)),
    );
    const applied: string[] = [];
    for (const migration of migrations(db.dialect)) {
      if (done.has(migration.version) || migration.version > (options.through ?? Number.POSITIVE_INFINITY)) continue;
      await tx.exec(migration.sql);
      await tx.all('INSERT INTO otpkit_migrations (version, name, applied_at) VALUES (?, ?, ?) RETURNING version', [
        migration.version,
        migration.name,
        now,
      ]);
      applied.push(migration.name);
    }
    return applied;
  });
}

export { migrate, migrations };
