// npm run bench:rotation: `otpkit keys rotate` over a million sealed secrets,
// on SQLite and on PostgreSQL. Per database: seed the users and their sealed
// secrets straight into the database (sealing and inserting timed apart);
// rotate k1 -> k2 with the CLI as a child process, SIGKILL it partway and run
// it again, checking that the runs' resealed counts add up to the total and
// that every secret ends under k2; then time an uninterrupted rotation
// k2 -> k3 of them all (the figure the target is about), and check that
// sampled secrets still open to what was sealed.
//
// Environment: BENCH_ROTATION_COUNT, secrets per database (default 1,000,000);
// BENCH_ONLY, sqlite and/or postgres, comma-separated (default both);
// BENCH_ROTATION_KILL_AT, the percentage after which the first run is killed
// (default 40); OTPKIT_TEST_POSTGRES_URL.
// E.g. BENCH_ROTATION_COUNT=50000 BENCH_ONLY=sqlite npm run bench:rotation

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyRingEntry, type KeyRing, openSecret, parseKeyRing, sealSecret } from '@otpkit/core';
import pg from 'pg';
import { nodeAead } from '../packages/otpkit/src/service/node-aead.js';
import type { Db, Statement } from '../packages/otpkit/src/store/db.js';
import { migrate } from '../packages/otpkit/src/store/migrate.js';
import { openPostgres } from '../packages/otpkit/src/store/postgres.js';
import { openSqlite } from '../packages/otpkit/src/store/sqlite.js';
import { BIN } from './harness.js';

const COUNT = Number(process.env.BENCH_ROTATION_COUNT ?? 1_000_000);
const KILL_AT_PERCENT = Number(process.env.BENCH_ROTATION_KILL_AT ?? 40);
const POSTGRES_URL = process.env.OTPKIT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The SQLite target, in seconds, for a million secrets. */
const TARGET_SECONDS = 120;

/**
 * Users per seeding transaction. Their ids are random, as otpkit's are, so each
 * transaction rewrites index pages all over the file: on SQLite fewer, larger
 * ones write far fewer pages to the WAL (87 s for a million at 10,000, 61 s at
 * 100,000 here). PostgreSQL runs a batch as one statement: 6 bind parameters a
 * user (2 in users, 4 in totp_factors) make 60,000, under its 65,535.
 */
const SEED_CHUNK = { sqlite: 100_000, postgres: 10_000 };
/** Rows per INSERT: 4 parameters a row stays under SQLite's 32,766 per statement. */
const ROWS_PER_INSERT = 2_500;
/** Every this many-th secret is kept in memory, to check after the rotations that it opens to the same bytes. */
const SAMPLE_EVERY = 1_000;
/** A run of `keys rotate` that takes longer than this is ended and the bench fails: it stays bounded. */
const RUN_TIMEOUT_MS = 15 * 60_000;
/** How often the child's resident memory is sampled (Linux /proc), for its peak. */
const RSS_SAMPLE_MS = 200;

const TOKEN_KEY = Buffer.alloc(32, 7).toString('base64url');

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const thousands = (n: number) => n.toLocaleString('en-US');

interface Sample {
  userId: string;
  factorId: string;
  secret: Uint8Array;
}

/** `count` users with an active factor each, sealed under `ring`; sealing and inserting timed apart. */
async function seed(
  db: Db,
  ring: KeyRing,
  count: number,
): Promise<{ sealMs: number; insertMs: number; samples: Sample[] }> {
  const now = Date.now();
  const samples: Sample[] = [];
  let sealMs = 0;
  let insertMs = 0;
  const chunk = SEED_CHUNK[db.dialect];
  for (let at = 0; at < count; at += chunk) {
    const size = Math.min(chunk, count - at);
    const sealing = performance.now();
    const users: (string | number)[][] = [];
    const factors: (string | number)[][] = [];
    const secrets = randomBytes(20 * size); // 160-bit secrets, the RFC 4226 §4 recommendation
    for (let i = 0; i < size; i++) {
      const userId = randomUUID();
      const factorId = randomUUID();
      const secret = new Uint8Array(secrets.subarray(i * 20, (i + 1) * 20));
      const sealed = await sealSecret(ring, secret, { associatedData: `user:${userId}/factor:${factorId}` });
      if ((at + i) % SAMPLE_EVERY === 0) samples.push({ userId, factorId, secret });
      users.push([userId, `rotation-${at + i}`]);
      factors.push([userId, factorId, sealed, now]);
    }
    const inserting = performance.now();
    sealMs += inserting - sealing;
    // Only columns every schema version has: the rest take their defaults.
    const statements: Statement[] = [];
    const insert = (table: string, columns: string, row: string, rows: (string | number)[][]) => {
      for (let r = 0; r < rows.length; r += ROWS_PER_INSERT) {
        const part = rows.slice(r, r + ROWS_PER_INSERT);
        statements.push({
          sql: `INSERT INTO ${table} (${columns}) VALUES ${part.map(() => row).join(', ')}`,
          params: part.flat(),
        });
      }
    };
    insert('users', 'id, username, password_hash, created_at', `(?, ?, 'not-a-password-hash', ${now})`, users);
    insert(
      'totp_factors',
      'user_id, id, status, sealed_secret, algorithm, digits, period_seconds, created_at, confirmed_at',
      `(?, ?, 'active', ?, 'SHA-1', 6, 30, ?, ${now})`,
      factors,
    );
    await db.batch(statements); // one transaction: on SQLite one write, on PostgreSQL one statement
    insertMs += performance.now() - inserting;
  }
  return { sealMs, insertMs, samples };
}

interface Run {
  ms: number;
  /** "checked N secrets, resealed M" of its stdout; undefined when killed. */
  checked?: number;
  resealed?: number;
  /** Peak resident memory of the process, in MiB. */
  peakRssMiB: number;
  /** User plus system CPU time of the process, all its threads, as last sampled before it ended. */
  cpuMs: number;
  killedAfterMs?: number;
}

/** Resident memory of a process in MiB, or 0 once it has gone (Linux /proc). */
function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** User plus system CPU time of a process, all its threads, in ms; 0 once it has gone (Linux /proc). */
function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/**
 * `otpkit keys rotate` as a child process, its stderr (the 10% lines: it is no
 * terminal) relayed with `label`. With `killAtPercent`, SIGKILL it a moment
 * after it reports that much done.
 */
function rotate(env: Record<string, string>, label: string, killAtPercent?: number): Promise<Run> {
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [BIN, 'keys', 'rotate'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let peakRssMiB = 0;
  let cpuMs = 0;
  let killedAfterMs: number | undefined;
  const sampler = setInterval(() => {
    peakRssMiB = Math.max(peakRssMiB, rssMiB(child.pid!));
    cpuMs = Math.max(cpuMs, cpuMsOf(child.pid!));
  }, RSS_SAMPLE_MS);
  const timeout = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    const lines = stderr.split('\n');
    stderr = lines.pop()!;
    for (const line of lines) {
      console.log(`  ${label}: ${line}`);
      const percent = Number(/: (\d+)% \(/.exec(line)?.[1]);
      if (killAtPercent !== undefined && killedAfterMs === undefined && percent >= killAtPercent) {
        // A moment later, so the kill lands inside a batch rather than just after one.
        setTimeout(
          () => {
            killedAfterMs = performance.now() - started;
            child.kill('SIGKILL');
          },
          Math.floor(Math.random() * 200),
        );
      }
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      clearInterval(sampler);
      clearTimeout(timeout);
      const ms = performance.now() - started;
      if (signal === 'SIGKILL' && killedAfterMs !== undefined) {
        resolve({ ms, peakRssMiB, cpuMs, killedAfterMs });
        return;
      }
      const done = /checked (\d+) secrets, resealed (\d+) under the current key/.exec(stdout);
      if (status !== 0 || !done) {
        reject(new Error(`${label}: keys rotate ended with ${signal ?? status}: ${stdout}${stderr}`));
        return;
      }
      resolve({ ms, peakRssMiB, cpuMs, checked: Number(done[1]), resealed: Number(done[2]) });
    });
  });
}

/** Rows whose secret is sealed under `keyId`, and all rows. */
async function sealedUnder(db: Db, keyId: string): Promise<{ under: number; all: number }> {
  const prefix = `v1.${keyId}.`;
  const [row] = await db.all<{ under: number | string; total: number | string }>(
    'SELECT count(CASE WHEN substr(sealed_secret, 1, ?) = ? THEN 1 END) AS under, count(*) AS total FROM totp_factors',
    [prefix.length, prefix],
  );
  return { under: Number(row?.under ?? 0), all: Number(row?.total ?? 0) };
}

/** Every sampled secret opens, under `ring`, to the bytes first sealed. */
async function checkSamples(db: Db, ring: KeyRing, samples: Sample[]): Promise<void> {
  for (const s of samples) {
    const [row] = await db.all<{ sealed_secret: string }>('SELECT sealed_secret FROM totp_factors WHERE user_id = ?', [
      s.userId,
    ]);
    const opened = await openSecret(ring, row!.sealed_secret, {
      associatedData: `user:${s.userId}/factor:${s.factorId}`,
    });
    if (Buffer.compare(opened.secret, s.secret) !== 0) throw new Error('a resealed secret opens to other bytes');
  }
}

interface Result {
  name: string;
  seal: number;
  insert: number;
  killed: Run;
  firstResealed: number;
  resumed: Run;
  full: Run;
}

/**
 * One database: `open()` gives the bench its own connection, `env` is what the
 * CLI needs to reach the same one, and `settle()` waits for a killed client's
 * statement to end (PostgreSQL finishes or rolls it back on its own time).
 */
async function bench(
  name: string,
  target: { open(): Db; env: Record<string, string>; settle(): Promise<void> },
): Promise<Result> {
  const keys = {
    k1: generateKeyRingEntry({ id: 'k1' }),
    k2: generateKeyRingEntry({ id: 'k2' }),
    k3: generateKeyRingEntry({ id: 'k3' }),
  };
  let db = target.open();
  await migrate(db, Date.now());
  console.log(`${name}: seeding ${thousands(COUNT)} users, each with a secret sealed under k1 ...`);
  const seeded = await seed(db, await parseKeyRing(keys.k1, { aead: nodeAead }), COUNT);
  console.log(`${name}: sealed in ${seconds(seeded.sealMs)}, inserted in ${seconds(seeded.insertMs)}`);
  await db.close();

  const env = (ring: string) => ({ ...target.env, OTPKIT_KEYS: ring, OTPKIT_TOKEN_KEY: TOKEN_KEY });
  console.log(`${name}: keys rotate k1 -> k2, killed (SIGKILL) after ${KILL_AT_PERCENT}% ...`);
  const killed = await rotate(env(`${keys.k2},${keys.k1}`), 'first run', KILL_AT_PERCENT);
  if (killed.killedAfterMs === undefined) throw new Error(`${name}: the first run ended before it was killed`);
  await target.settle();
  db = target.open();
  const firstResealed = (await sealedUnder(db, 'k2')).under; // what the killed run committed
  console.log(
    `${name}: killed after ${seconds(killed.killedAfterMs)}; ${thousands(firstResealed)} secrets were under k2`,
  );
  const resumed = await rotate(env(`${keys.k2},${keys.k1}`), 'second run');
  const afterResume = await sealedUnder(db, 'k2');
  if (afterResume.all !== COUNT || afterResume.under !== COUNT) {
    throw new Error(`${name}: after the second run ${afterResume.under} of ${afterResume.all} secrets are under k2`);
  }
  if (firstResealed + resumed.resealed! !== COUNT) {
    throw new Error(`${name}: resealed ${firstResealed} + ${resumed.resealed} is not ${COUNT}`);
  }
  console.log(
    `${name}: second run resealed ${thousands(resumed.resealed!)} in ${seconds(resumed.ms)}: ` +
      `${thousands(firstResealed)} + ${thousands(resumed.resealed!)} = ${thousands(COUNT)}, all under k2`,
  );

  console.log(`${name}: keys rotate k2 -> k3, uninterrupted ...`);
  const full = await rotate(env(`${keys.k3},${keys.k2},${keys.k1}`), 'rotation');
  const afterFull = await sealedUnder(db, 'k3');
  if (full.resealed !== COUNT || afterFull.under !== COUNT) {
    throw new Error(`${name}: the rotation resealed ${full.resealed}; ${afterFull.under} of ${COUNT} under k3`);
  }
  await checkSamples(db, await parseKeyRing(`${keys.k3},${keys.k2},${keys.k1}`, { aead: nodeAead }), seeded.samples);
  await db.close();
  console.log(
    `${name}: rotated ${thousands(COUNT)} in ${seconds(full.ms)}; ${seeded.samples.length} sampled secrets open to their bytes`,
  );
  return { name, seal: seeded.sealMs, insert: seeded.insertMs, killed, firstResealed, resumed, full };
}

const RUNS = ['sqlite', 'postgres'];
const ONLY = (process.env.BENCH_ONLY || RUNS.join(',')).split(',').map((run) => run.trim());
for (const run of ONLY) {
  if (!RUNS.includes(run)) throw new Error(`BENCH_ONLY: unknown run ${run}; pick from ${RUNS.join(', ')}`);
}
if (!Number.isSafeInteger(COUNT) || COUNT < 1) throw new Error('BENCH_ROTATION_COUNT must be a positive integer');
console.log(`bench:rotation: ${thousands(COUNT)} sealed secrets per database; node ${process.version}`);
const results: Result[] = [];

if (ONLY.includes('sqlite')) {
  const dir = mkdtempSync(join(tmpdir(), 'otpkit-rotation-'));
  try {
    const file = join(dir, 'otpkit.sqlite');
    // SQLite drops a killed writer's uncommitted pages itself: nothing to settle.
    results.push(
      await bench('SQLite', { open: () => openSqlite(file), env: { OTPKIT_DATA_DIR: dir }, settle: async () => {} }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (ONLY.includes('postgres')) {
  const schema = `otpkit_rotation_${Date.now()}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  try {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    // The seeding's one-statement transactions may take seconds each: no 5 s statement timeout.
    const open = () => openPostgres(POSTGRES_URL, { schema, statementTimeoutMs: 120_000 });
    // A killed client's UPDATE holds its rows' lock until it commits or rolls back; SHARE waits for that.
    const settle = async () => {
      await admin.query('BEGIN');
      await admin.query(`LOCK TABLE ${schema}.totp_factors IN SHARE MODE`);
      await admin.query('COMMIT');
    };
    results.push(await bench('PostgreSQL', { open, env: { OTPKIT_DATABASE_URL: url }, settle }));
  } catch (error) {
    console.log(`PostgreSQL failed or skipped: ${(error as Error).message}`);
    process.exitCode = 1;
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

if (results.length > 0) {
  console.log(
    `\n| ${thousands(COUNT)} secrets | seeding: seal | insert | keys rotate, all resealed | per secret | its CPU | peak RSS | ` +
      'first run, killed after | resealed by it | resumed run | resealed by it |\n' +
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of results) {
    console.log(
      `| ${r.name} | ${seconds(r.seal)} | ${seconds(r.insert)} | **${seconds(r.full.ms)}** | ` +
        `${((r.full.ms * 1000) / COUNT).toFixed(1)} us | ${seconds(r.full.cpuMs)} | ${Math.round(r.full.peakRssMiB)} MiB | ` +
        `${seconds(r.killed.killedAfterMs!)} | ${thousands(r.firstResealed)} | ${seconds(r.resumed.ms)} | ` +
        `${thousands(r.resumed.resealed!)} |`,
    );
  }
  // Other work on the machine slows every figure above; its CPU column moves less.
  console.log(
    `\nLoad average over the last 15 minutes: ${loadavg()[2]!.toFixed(1)} on ${availableParallelism()} cores.`,
  );
  const sqlite = results.find((r) => r.name === 'SQLite');
  if (sqlite) {
    // The target is for a million; a smaller run is scaled to one.
    const perMillion = (sqlite.full.ms / COUNT) * 1_000_000;
    const verdict = perMillion < TARGET_SECONDS * 1000 ? 'met' : 'MISSED';
    console.log(
      `\nTarget: under ${TARGET_SECONDS / 60} minutes for 1,000,000 on SQLite: ${verdict} ` +
        `(${seconds(perMillion)} per million${COUNT === 1_000_000 ? '' : `, from ${thousands(COUNT)}`}).`,
    );
  }
}
