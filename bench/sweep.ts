// BENCH_ONLY=sweep: the periodic sweep (Store.prune, what `otpkit serve` runs
// in the background) over a table of refresh tokens that has grown: 50,000
// sessions with two tokens each, 2,000 of them expired, on SQLite and on
// PostgreSQL; prints how long sweeping the expired ones takes. (Until schema
// 8, each deleted session made a foreign key scan the whole token table: 13 s
// on SQLite and 10 s on PostgreSQL here.)

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Db } from '../packages/otpkit/src/store/db.js';
import { migrate } from '../packages/otpkit/src/store/migrate.js';
import { openPostgres } from '../packages/otpkit/src/store/postgres.js';
import { openSqlite } from '../packages/otpkit/src/store/sqlite.js';
import { createStore } from '../packages/otpkit/src/store/store.js';

const SESSIONS = 50_000;
const EXPIRED = 2_000;
const CHUNK = 500;

async function sweepOnce(name: string, db: Db): Promise<void> {
  const now = Date.now();
  await migrate(db, now);
  const userId = randomUUID();
  await db.run('INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)', [
    userId,
    'sweep',
    'not-a-password-hash',
    now,
  ]);
  for (let at = 0; at < SESSIONS; at += CHUNK) {
    const sessions: (string | number)[] = [];
    const tokens: (string | number)[] = [];
    for (let i = at; i < at + CHUNK; i++) {
      const id = randomUUID();
      const ends = i < EXPIRED ? now - 1000 : now + 86_400_000;
      sessions.push(id, userId, 'pwd', now - 5000, ends, 0);
      for (let k = 0; k < 2; k++) tokens.push(randomUUID(), id, now - 5000, ends);
    }
    await db.run(
      `INSERT INTO sessions (id, user_id, amr, created_at, expires_at, epoch) VALUES ${Array(CHUNK).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`,
      sessions,
    );
    await db.run(
      `INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ${Array(2 * CHUNK)
        .fill('(?, ?, ?, ?)')
        .join(', ')}`,
      tokens,
    );
  }
  const store = createStore(
    db,
    { attemptsPerLock: 5, firstLockMs: 60_000, maxLockMs: 3_600_000, permanentAfter: 50 },
    { limit: 10, windowMs: 900_000 },
  );
  const started = performance.now();
  let removed = 0;
  for (let n = -1; n !== 0; removed += n) n = await store.prune(now, 1000);
  console.log(
    `sweep, ${name}: ${removed} rows (${EXPIRED} expired sessions and their tokens, among ${SESSIONS} sessions ` +
      `and ${2 * SESSIONS} tokens) in ${Math.round(performance.now() - started)} ms`,
  );
}

async function sweepTiming(postgresUrl: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'otpkit-sweep-'));
  const sqlite = openSqlite(join(dir, 'otpkit.sqlite'));
  try {
    await sweepOnce('SQLite', sqlite);
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const schema = `otpkit_sweep_${Date.now()}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const db = openPostgres(postgresUrl, { schema });
  try {
    await sweepOnce('PostgreSQL', db);
  } finally {
    await db.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

export { sweepTiming };
