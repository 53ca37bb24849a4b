// npm run bench:server: the login's second step (challenge + valid TOTP code ->
// tokens) under load on loopback, on SQLite and on PostgreSQL, beside a bare
// Fastify route, with autocannon; replay protection and the attempt budget on.
// Every request has its own user and challenge, made before the timed run.
// Then the password flood (bench/flood.ts): /me and second steps while one
// address sends failed logins at the default rate limit and OWASP scrypt.
//
// Environment: BENCH_ONLY picks runs, comma-separated, of bare, sqlite,
// postgres (with pgbench's TPC-B beside it), scale (PostgreSQL with the shared
// throttle on, and two processes, each beside one plain process), admin (how
// long the admin API refuses each kind of wrong token, bench/admin.ts), flood,
// sweep (the background sweep over a grown token table, bench/sweep.ts)
// (default: all); BENCH_SECONDS, each timed run (and each of
// the flood's two phases), 10; BENCH_USERS, 40000; BENCH_SERVERS, 1;
// BENCH_NODE_ARGS, for the otpkit processes of sqlite and postgres;
// OTPKIT_TEST_POSTGRES_URL. E.g. BENCH_ONLY=flood npm run bench:server

import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID, scryptSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyRingEntry } from '@otpkit/core';
import autocannon from 'autocannon';
import pg from 'pg';
import { hashPassword } from '../packages/otpkit/src/service/passwords.js';
import type { Db } from '../packages/otpkit/src/store/db.js';
import { migrate } from '../packages/otpkit/src/store/migrate.js';
import { openPostgres } from '../packages/otpkit/src/store/postgres.js';
import { openSqlite } from '../packages/otpkit/src/store/sqlite.js';
import { adminTiming } from './admin.js';
import { passwordFlood } from './flood.js';
import { addUser, BIN, type Prepared, seed, start } from './harness.js';
import { sweepTiming } from './sweep.js';

const CONNECTIONS = 10;
const LOGINS = 21;
const PASSWORD = 'correct horse battery staple';
/**
 * scrypt at OWASP's N=2^17 swings by tens of ms between runs here, too much to
 * see 2 ms beside it. Its cost adds to otpkit's own, so otpkit's own is measured
 * on a user whose stored hash has N=16, a KDF run of microseconds
 * (verifyPassword follows the stored parameters; N=2^10 still swung by a
 * millisecond), minus that KDF alone and an HTTP round trip to /healthz.
 */
const CHEAP_KDF = { N: 16, r: 8, p: 1 };
const CHEAP_USER = 'bench-cheap-kdf';

/** scrypt alone, in ms. */
function kdfMs(params: typeof CHEAP_KDF): number {
  const start = performance.now();
  scryptSync(PASSWORD, 'saltsaltsaltsalt', 32, { ...params, maxmem: 256 * params.N * params.r });
  return performance.now() - start;
}
const DURATION_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const USERS = Number(process.env.BENCH_USERS ?? 40_000); // each signs in once: 16 s at 2,500 req/s
/** otpkit server processes sharing the load (and the database): more than one wants more cores than this machine's 2. */
const SERVERS = Number(process.env.BENCH_SERVERS ?? 1);
const POSTGRES_URL = process.env.OTPKIT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** User plus system CPU time of a process, all its threads, in seconds (Linux /proc). */
/** A process's CPU seconds; with `reaped`, also its children's that have exited (the postmaster's backends). */
function cpuSeconds(pid: number, reaped = false): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime, stime (and cutime, cstime) in clock ticks (USER_HZ = 100)
    const own = Number(fields[11]) + Number(fields[12]);
    return (reaped ? own + Number(fields[13]) + Number(fields[14]) : own) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of every PostgreSQL process here (the bench's database is local; nothing else uses it). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      // Backends that exited (pgbench's, at its end) count in the postmaster's reaped children.
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') total += cpuSeconds(Number(pid), true) || 0;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

interface Result {
  name: string;
  /**
   * CPU time per request of the server processes, the database server
   * (PostgreSQL; SQLite runs inside the server) and the load generator (this
   * process), in us: steadier than req/s on a shared machine, and together the
   * most this machine's cores can serve.
   */
  cpuUs: { server: number; database?: number; load: number };
  /** Sequential first-step logins at OWASP scrypt, ms; and otpkit's own part of each (see CHEAP_KDF), ms. */
  loginMs: number[];
  beyondKdfMs: number[];
  /** The database's CPU per request in each third of the run, in us (one burst of other work moves one third). */
  databaseThirdsUs?: number[];
  requests: number;
  ok: number;
  rps: number;
  p50: number;
  p99: number;
}

async function load(
  name: string,
  target: { urls: string[]; path: string; serverPids: number[]; databaseCpuSeconds?: () => number },
  bodies?: Prepared[],
): Promise<Result> {
  let next = 0;
  const serversCpu = () => target.serverPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const before = {
    server: serversCpu(),
    database: target.databaseCpuSeconds?.(),
    load: process.cpuUsage(),
  };
  // autocannon notices the last response only at its next once-a-second tick,
  // so its duration runs up to a second long: time the responses here.
  const started = performance.now();
  let lastResponse = started;
  let answered = 0;
  const marks: { answered: number; cpu: number }[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options: autocannon.Options = {
      // autocannon spreads its connections over several urls (its types say one).
      url: target.urls.map((url) => `${url}${target.path}`) as unknown as string,
      connections: CONNECTIONS,
      duration: DURATION_SECONDS,
      ...(bodies ? { amount: bodies.length } : {}),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"hello":"world"}',
      requests: [
        {
          setupRequest: (request) => {
            if (!bodies) return request;
            const user = bodies[next++]!;
            return {
              ...request,
              body: JSON.stringify({ challenge: user.challenge, code: user.code(Date.now() / 1000) }),
            };
          },
        },
      ],
    };
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result))).on('response', () => {
      lastResponse = performance.now();
      answered += 1;
      if (marks.length < 2 && bodies && answered === Math.round((bodies.length * (marks.length + 1)) / 3)) {
        marks.push({ answered, cpu: target.databaseCpuSeconds?.() ?? 0 });
      }
    });
  });
  /** The database's CPU per request between the marks (the start, a third, two thirds, the end), in us. */
  const thirds = (start: number) => {
    const points = [
      { answered: 0, cpu: start },
      ...marks,
      { answered: result.requests.total, cpu: target.databaseCpuSeconds!() },
    ];
    return points
      .slice(1)
      .map((point, i) => ((point.cpu - points[i]!.cpu) * 1e6) / Math.max(1, point.answered - points[i]!.answered));
  };
  const perRequest = (seconds: number) => (seconds * 1e6) / result.requests.total;
  const loadCpu = process.cpuUsage(before.load);
  return {
    name,
    cpuUs: {
      server: perRequest(serversCpu() - before.server),
      ...(before.database === undefined
        ? {}
        : { database: perRequest(target.databaseCpuSeconds!() - before.database) }),
      load: perRequest((loadCpu.user + loadCpu.system) / 1e6),
    },
    ...(before.database !== undefined && marks.length === 2 ? { databaseThirdsUs: thirds(before.database) } : {}),
    loginMs: [],
    beyondKdfMs: [],
    requests: result.requests.total,
    ok: result['2xx'],
    rps: result.requests.total / ((lastResponse - started) / 1000),
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

async function otpkitRun(
  name: string,
  db: Db,
  env: Record<string, string>,
  databaseCpuSeconds?: () => number,
  serverCount = SERVERS,
  settle?: () => Promise<void>,
): Promise<Result> {
  await migrate(db, Date.now());
  const keys = generateKeyRingEntry({ id: 'k1' });
  const bodies = await seed(db, keys, { count: USERS, prefix: 'bench' });
  await addUser(db, CHEAP_USER, await hashPassword(PASSWORD, CHEAP_KDF, randomBytes));
  await db.close();
  await settle?.();
  // BENCH_NODE_ARGS, e.g. --cpu-prof, go to the server processes.
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  const servers = await Promise.all(
    Array.from({ length: serverCount }, () =>
      start([...nodeArgs, BIN, 'serve', '--port', '0'], {
        OTPKIT_RATE_LIMIT: '0', // one client hammers from one IP: per-IP throttling would measure itself
        ...env,
        OTPKIT_KEYS: keys,
        OTPKIT_TOKEN_KEY: Buffer.alloc(32, 3).toString('base64url'),
      }),
    ),
  );
  const server = servers[0]!;
  try {
    // Sign-in's first step, one at a time on the idle server: the KDF (OWASP scrypt) plus otpkit's own work.
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const owasp = { username: `kdf-${randomUUID()}`, password: PASSWORD };
    await post('/api/auth/register', owasp);
    const login = async (credentials: object) => {
      const start = performance.now();
      await (await post('/api/auth/login', credentials)).json();
      return performance.now() - start;
    };
    const loginMs: number[] = [];
    const beyondKdfMs: number[] = [];
    for (let i = 0; i < LOGINS; i++) {
      if (i % 4 === 0) loginMs.push(await login(owasp));
      const roundTrip = performance.now();
      await (await fetch(`${server.url}/healthz`)).json();
      const http = performance.now() - roundTrip;
      beyondKdfMs.push((await login({ username: CHEAP_USER, password: PASSWORD })) - kdfMs(CHEAP_KDF) - http);
    }
    const target = {
      urls: servers.map((s) => s.url),
      path: '/api/auth/login/verify',
      serverPids: servers.map((s) => s.child.pid!),
      databaseCpuSeconds,
    };
    return { ...(await load(name, target, bodies)), loginMs, beyondKdfMs };
  } finally {
    for (const s of servers) s.child.kill('SIGINT'); // a clean exit, so --cpu-prof writes its profile
  }
}

const BARE = `
  const app = require('fastify')();
  app.post('/echo', async (request) => request.body);
  app.listen({ port: 0, host: '127.0.0.1' }).then((address) => console.error('listening on ' + address));
`;

const RUNS = ['bare', 'sqlite', 'postgres', 'scale', 'flood', 'admin', 'sweep'];
const ONLY = (process.env.BENCH_ONLY || RUNS.join(',')).split(',').map((run) => run.trim());
for (const run of ONLY) {
  if (!RUNS.includes(run)) throw new Error(`BENCH_ONLY: unknown run ${run}; pick from ${RUNS.join(', ')}`);
}
const results: Result[] = [];
if (ONLY.some((run) => run !== 'flood' && run !== 'admin')) {
  console.log(
    `bench:server: ${CONNECTIONS} connections; the bare route for ${DURATION_SECONDS} s, otpkit until each of ` +
      `${USERS} users prepared per database has signed in once; ${SERVERS} otpkit server process(es)`,
  );
}

if (ONLY.includes('bare')) {
  const bare = await start(['-e', BARE], {});
  results.push(
    await load('bare Fastify JSON echo', { urls: [bare.url], path: '/echo', serverPids: [bare.child.pid!] }),
  );
  bare.child.kill();
}

if (ONLY.includes('sqlite')) {
  const dir = mkdtempSync(join(tmpdir(), 'otpkit-bench-'));
  try {
    results.push(
      await otpkitRun('otpkit second step, SQLite', openSqlite(join(dir, 'otpkit.sqlite')), { OTPKIT_DATA_DIR: dir }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * PostgreSQL's own TPC-B-like benchmark, in its own scratch database, at the
 * same connection count: what one write transaction costs PostgreSQL's CPU on
 * this machine, to weigh a second step's cost against.
 */
async function pgbenchTpcB(): Promise<{ tps: number; cpuUsPerTransaction: number; runsUs: number[] }> {
  const name = `otpkit_pgbench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  try {
    execFileSync('pgbench', ['-i', '-q', '-s', '4', url.href], { stdio: 'ignore' });
    await admin.query('CHECKPOINT'); // as before otpkit's run
    // Three runs of a third of the time each, as otpkit's run is read in thirds: the median of each stands.
    const seconds = Math.max(3, Math.round(DURATION_SECONDS / 3));
    const runs: { tps: number; us: number }[] = [];
    for (let run = 0; run < 3; run++) {
      const before = postgresCpuSeconds();
      const out = execFileSync(
        'pgbench',
        ['-M', 'prepared', '-c', String(CONNECTIONS), '-j', '2', '-T', String(seconds), url.href],
        { encoding: 'utf8' },
      );
      const cpu = postgresCpuSeconds() - before;
      const transactions = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? 0);
      runs.push({ tps: transactions / seconds, us: (cpu * 1e6) / Math.max(1, transactions) });
    }
    const middle = [...runs].sort((a, b) => a.us - b.us)[1]!;
    return { tps: middle.tps, cpuUsPerTransaction: middle.us, runsUs: runs.map((r) => r.us) };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

/** One otpkit run over a PostgreSQL schema of its own, dropped afterwards. */
async function postgresRun(name: string, env: Record<string, string> = {}, serverCount = SERVERS): Promise<Result> {
  const schema = `otpkit_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const db = openPostgres(POSTGRES_URL, { schema });
    // As pgbench does before its run: the seeded tables vacuumed and analyzed,
    // so autovacuum's pass over them does not land in the timed run; and a
    // checkpoint, so the run starts with no dirty pages of the seeding to write.
    const settle = async () => {
      for (const table of ['users', 'totp_factors', 'login_challenges']) {
        await admin.query(`VACUUM ANALYZE ${schema}.${table}`);
      }
      await admin.query('CHECKPOINT');
    };
    return await otpkitRun(name, db, { OTPKIT_DATABASE_URL: url, ...env }, postgresCpuSeconds, serverCount, settle);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

let pgbenchRatio:
  | {
      otpkitUs: number;
      otpkitThirdsUs: number[];
      pgbench: { tps: number; cpuUsPerTransaction: number; runsUs: number[] };
    }
  | undefined;

if (ONLY.includes('postgres')) {
  try {
    const otpkit = await postgresRun('otpkit second step, PostgreSQL');
    results.push(otpkit);
    const thirds = otpkit.databaseThirdsUs ?? [otpkit.cpuUs.database ?? 0];
    pgbenchRatio = {
      otpkitUs: [...thirds].sort((a, b) => a - b)[Math.floor(thirds.length / 2)]!,
      otpkitThirdsUs: thirds,
      pgbench: await pgbenchTpcB(),
    };
  } catch (error) {
    console.log(`PostgreSQL skipped: ${(error as Error).message}`);
  }
}

// What scale-out costs and gives on PostgreSQL: the shared throttle on (a limit
// no run reaches, so every request is counted in PostgreSQL), then two server
// processes instead of one, each beside a plain one-process run.
let scale: { plain: Result; throttled: Result; two: Result } | undefined;
if (ONLY.includes('scale')) {
  const plain = await postgresRun('otpkit second step, PostgreSQL, 1 process', {}, 1);
  const throttled = await postgresRun(
    'otpkit second step, PostgreSQL, shared throttle on',
    { OTPKIT_RATE_LIMIT: '1000000' },
    1,
  );
  const two = await postgresRun('otpkit second step, PostgreSQL, 2 processes', {}, 2);
  results.push(plain, throttled, two);
  scale = { plain, throttled, two };
}

if (results.length > 0) {
  const CORES = availableParallelism();
  console.log(
    '\n| run | requests | 2xx | req/s | p50 ms | p99 ms | CPU per request: server | database | load generator | ' +
      `all, and the most ${CORES} cores can serve |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  );
  for (const r of results) {
    const us = (x: number | undefined) => (x === undefined ? '' : `${Math.round(x)} us`);
    const all = r.cpuUs.server + (r.cpuUs.database ?? 0) + r.cpuUs.load;
    console.log(
      `| ${r.name} | ${r.requests} | ${r.ok} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${us(r.cpuUs.server)} | ` +
        `${us(r.cpuUs.database)} | ${us(r.cpuUs.load)} | ${us(all)}: ${Math.round((CORES * 1e6) / all)} req/s |`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log('');
  for (const r of results.filter((r) => r.loginMs.length > 0)) {
    console.log(
      `${r.name}: sign-in step one ${median(r.loginMs).toFixed(1)} ms median at OWASP scrypt; otpkit's own part ` +
        `${median(r.beyondKdfMs).toFixed(2)} ms (login minus its KDF and an HTTP round trip, median of ${LOGINS}; target <= 2 ms)`,
    );
  }
  console.log('Target: >= 2,000 completed second steps per second with p99 <= 20 ms at 10 connections.');
}
if (scale) {
  const { plain, throttled, two } = scale;
  const added = (throttled.cpuUs.database ?? 0) - (plain.cpuUs.database ?? 0);
  console.log(
    `The shared throttle (PostgreSQL) adds ${Math.round(added)} us of PostgreSQL's CPU per request ` +
      `(${Math.round(throttled.cpuUs.database ?? 0)} against ${Math.round(plain.cpuUs.database ?? 0)} us). ` +
      `Two processes: ${Math.round(two.rps)} req/s against ${Math.round(plain.rps)} with one (2 cores shared by all).`,
  );
}
if (pgbenchRatio) {
  const { otpkitUs, otpkitThirdsUs, pgbench } = pgbenchRatio;
  const list = (values: number[]) => values.map((v) => Math.round(v)).join(', ');
  console.log(
    `PostgreSQL's CPU per second step ${Math.round(otpkitUs)} us (median of the run's thirds: ${list(otpkitThirdsUs)}); ` +
      `per pgbench TPC-B transaction (-M prepared, ${CONNECTIONS} clients, ${Math.round(pgbench.tps)} tps) ` +
      `${Math.round(pgbench.cpuUsPerTransaction)} us (median of three runs: ${list(pgbench.runsUs)}): ` +
      `ratio ${(otpkitUs / pgbench.cpuUsPerTransaction).toFixed(2)} (target <= 1.2)`,
  );
}

if (ONLY.includes('flood')) await passwordFlood(DURATION_SECONDS);
if (ONLY.includes('admin')) await adminTiming();
if (ONLY.includes('sweep')) await sweepTiming(POSTGRES_URL);
