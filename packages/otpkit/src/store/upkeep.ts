// Upkeep: deleting what has expired, and what key rotation reads and rewrites
// (which key ids stored values depend on; factors in resumable batches).

import type { Db } from './db.js';
import { FACTOR_COLUMNS, type FactorRow, first, toFactor } from './rows.js';
import type { Reseal, Store } from './types.js';

/**
 * resealFactors binds 3 parameters a change: 30,000 stays under SQLite's
 * 32,766 (SQLITE_MAX_VARIABLE_NUMBER) and PostgreSQL's 65,535 bind parameters.
 */
const MAX_RESEALS_PER_CALL = 10_000;

/** Bounds the search for key ids outside the ring (a ring holds at most 16). */
const MAX_UNKNOWN_KEY_IDS = 32;

/** Values sealed or hashed under a key id start 'v1.<id>.'; substr compares case-sensitively on both databases. */
const keyPrefix = (keyId: string) => `v1.${keyId}.`;

/** How many of a column's values are under each key id, `known` or found (see Store.keyUsage). */
async function usageByKey(
  db: Db,
  known: readonly string[],
  where: { table: string; column: string; counted: string; filter?: string },
): Promise<Map<string, number>> {
  const { table, column, counted, filter = 'TRUE' } = where;
  const prefixes = new Map(known.map((id) => [id, keyPrefix(id)]));
  // Ids outside the ring: one value under none of the prefixes seen so far names the next.
  for (let found = 0; found < MAX_UNKNOWN_KEY_IDS; found++) {
    const outside = [...prefixes.values()].map(() => `substr(${column}, 1, ?) <> ?`);
    const row = await first<{ v: string }>(
      db,
      `SELECT ${column} AS v FROM ${table} WHERE ${[filter, ...outside].join(' AND ')} LIMIT 1`,
      [...prefixes.values()].flatMap((p) => [p.length, p]),
    );
    if (!row) break;
    const id = /^v1\.([A-Za-z0-9_-]{1,32})\./.exec(row.v)?.[1];
    prefixes.set(id ?? `(unreadable)${found}`, id === undefined ? row.v : keyPrefix(id));
  }
  const counts = new Map<string, number>();
  for (const [id, prefix] of prefixes) {
    const row = await first<{ n: number }>(
      db,
      `SELECT count(${counted}) AS n FROM ${table} WHERE ${filter} AND substr(${column}, 1, ?) = ?`,
      [prefix.length, prefix],
    );
    const label = id.startsWith('(unreadable)') ? '(unreadable)' : id;
    counts.set(label, (counts.get(label) ?? 0) + Number(row?.n ?? 0));
  }
  return counts;
}

/**
 * Store.resealFactors: one UPDATE joined to the changes as a table of VALUES
 * (SQLite 3.33+ and PostgreSQL both read UPDATE ... FROM), so a batch is one
 * statement and one transaction, and each row is still replaced only if it
 * holds the value read. On PostgreSQL a row another transaction changed
 * meanwhile is re-checked against that condition after its commit (READ
 * COMMITTED), so a concurrent enrollment or rotation is never overwritten.
 */
async function resealFactors(db: Db, changes: readonly Reseal[]): Promise<number> {
  if (changes.length > MAX_RESEALS_PER_CALL) {
    throw new RangeError(`resealFactors takes at most ${MAX_RESEALS_PER_CALL} changes, got ${changes.length}`);
  }
  if (changes.length === 0) return 0;
  return db.run(
    `WITH resealed (id, old_sealed, new_sealed) AS (VALUES ${changes.map(() => '(?, ?, ?)').join(', ')}) ` +
      'UPDATE totp_factors SET sealed_secret = resealed.new_sealed FROM resealed ' +
      'WHERE totp_factors.id = resealed.id AND totp_factors.sealed_secret = resealed.old_sealed',
    changes.flatMap((c) => [c.factorId, c.before, c.after]),
  );
}

/** Store.prune, one table at a time. */
async function prune(db: Db, now: number, limit: number): Promise<number> {
  let removed = 0;
  for (const [table, key] of [
    ['login_challenges', 'token_hash'],
    ['refresh_tokens', 'token_hash'],
    ['sessions', 'id'],
    ['trusted_devices', 'id'],
  ] as const) {
    removed += await db.run(
      `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
      [now, limit],
    );
  }
  return removed;
}

type UpkeepMethods = Pick<
  Store,
  'prune' | 'keyUsage' | 'factorSealedBy' | 'countFactors' | 'factorsAfter' | 'resealFactor' | 'resealFactors'
>;

function upkeep(db: Db): UpkeepMethods {
  return {
    prune: (now, limit) => prune(db, now, limit),
    async keyUsage(known) {
      return {
        secrets: await usageByKey(db, known, { table: 'totp_factors', column: 'sealed_secret', counted: '*' }),
        backupCodeUsers: await usageByKey(db, known, {
          table: 'backup_codes',
          column: 'code_hash',
          counted: 'DISTINCT user_id',
          filter: 'used_at IS NULL',
        }),
      };
    },
    async factorSealedBy(keyId) {
      const prefix = keyPrefix(keyId);
      const row = await first<FactorRow>(
        db,
        `SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE substr(sealed_secret, 1, ?) = ? LIMIT 1`,
        [prefix.length, prefix],
      );
      return row && toFactor(row);
    },
    async countFactors() {
      return Number((await first<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM totp_factors', []))?.n ?? 0);
    },
    async factorsAfter(afterId, limit) {
      const rows = await db.all<FactorRow>(
        `SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE id > ? ORDER BY id LIMIT ?`,
        [afterId, limit],
      );
      return rows.map(toFactor);
    },
    async resealFactor(factorId, before, after) {
      return (
        (await db.run('UPDATE totp_factors SET sealed_secret = ? WHERE id = ? AND sealed_secret = ?', [
          after,
          factorId,
          before,
        ])) === 1
      );
    },
    resealFactors: (changes) => resealFactors(db, changes),
  };
}

export { upkeep };
