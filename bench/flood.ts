// The password flood (issue 10): one client address sends failed logins as fast
// as the default per-IP rate limit lets it, each an OWASP scrypt run, while other
// users' GET /api/auth/me and second steps arrive at a steady rate from other
// loopback addresses; their p50 and p99 without the flood and under it.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKeyRingEntry } from '@otpkit/core';
import { hashPassword, OWASP_SCRYPT } from '../packages/otpkit/src/service/passwords.js';
import { migrate } from '../packages/otpkit/src/store/migrate.js';
import { openSqlite } from '../packages/otpkit/src/store/sqlite.js';
import { addUser, BIN, type Prepared, seed, start } from './harness.js';

const PASSWORD = 'correct horse battery staple';
/** Per victim route, open loop (sent on schedule, answered or not): light next to the ~2,000/s a second step serves. */
const VICTIM_RATE_PER_SECOND = 50;
/** Keep-alive connections per victim route and source address: a few clients, not a crowd. */
const VICTIM_SOCKETS = 4;
/**
 * Requests a victim source address sends before the next one takes over:
 * half of the default per-IP limit (120 a minute on /api/auth), so the victims
 * never meet the limiter the attacker meets. The second step counts there.
 */
const ADDRESS_REQUESTS = 60;
/** Failed logins the attacker keeps in flight, at most: the issue's 40, inside the default 120 a minute. */
const ATTACK_IN_FLIGHT = 40;
/** How often an attacker's idle sender looks whether its window has room again. */
const ATTACK_POLL_MS = 20;
/** The attacker's one address. */
const ATTACK_ADDRESS = '127.0.0.1';
/** Where the /me users sign in from, before any timed run, so the attacker's per-IP count starts at 0. */
const SIGN_IN_ADDRESS = '127.0.0.2';
/** On 429 an attacker waits what Retry-After says, up to this: it probes on, as attackers do. */
const ATTACK_MAX_WAIT_MS = 1_000;
/** The flood fills the thread pool this long before the first victim's request. */
const ATTACK_LEAD_MS = 1_000;
/**
 * Existing accounts the attacker sprays (between them, unknown usernames): a
 * few guesses each in a phase, so a per-account throttle (about 10 failures)
 * hardly cuts the flood short; the victims meet the most password hashing the
 * per-IP limit and the server's cap on hashes let through.
 */
const ATTACK_ACCOUNTS = 16;
/** Users that read /me. */
const ME_USERS = 4;
/** An answer later than this is no answer: it counts at this latency, so a run always ends. */
const REQUEST_TIMEOUT_MS = 60_000;
const WARMUP_SECONDS = 2;

interface Answer {
  /** 0: no answer (timed out, or the connection failed). */
  status: number;
  retryAfterSeconds?: number;
  body: string;
}

/** One HTTP request to the server from `localAddress`, any 127.x address (all of 127/8 is loopback on Linux). */
function send(
  agent: Agent,
  target: URL,
  options: { method: string; path: string; localAddress: string; headers?: Record<string, string>; body?: string },
  timeoutMs: number,
): Promise<Answer> {
  return new Promise((resolve) => {
    const body = options.body ?? '';
    const req = request({
      agent,
      host: target.hostname,
      port: target.port,
      method: options.method,
      path: options.path,
      localAddress: options.localAddress,
      headers: {
        ...options.headers,
        ...(options.body === undefined
          ? {}
          : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
      },
    });
    let settled = false;
    const finish = (answer: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const timer = setTimeout(() => req.destroy(new Error('timed out')), Math.max(timeoutMs, 0));
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      // 'close' comes after 'end', or alone when the answer broke off (timed out) halfway.
      res.on('close', () => {
        const retryAfter = Number(res.headers['retry-after']);
        finish(
          res.complete
            ? {
                status: res.statusCode ?? 0,
                ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
                body: text,
              }
            : { status: 0, body: '' },
        );
      });
    });
    req.on('error', () => finish({ status: 0, body: '' }));
    req.end(body);
  });
}

/** Victims' source addresses, 127.1.0.1 up, each taking ADDRESS_REQUESTS requests; none is used twice. */
function victimAddresses(): () => string {
  let sent = 0;
  return () => {
    const n = Math.floor(sent++ / ADDRESS_REQUESTS);
    return `127.1.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  };
}

interface Sample {
  /** From when the request was due, so a stalled server cannot hide its stall by delaying the sending. */
  ms: number;
  status: number;
}

/** Requests per victim route in a phase of `seconds`. */
const phaseRequests = (seconds: number) => Math.round(VICTIM_RATE_PER_SECOND * seconds);

/** VICTIM_RATE_PER_SECOND requests a second for `seconds`, each sent on schedule, however the earlier ones fare. */
async function steady(
  seconds: number,
  sendOne: (index: number, timeoutMs: number) => Promise<Answer>,
): Promise<Sample[]> {
  const started = performance.now();
  const samples: Promise<Sample>[] = [];
  for (let i = 0; i < phaseRequests(seconds); i++) {
    const due = started + (i * 1000) / VICTIM_RATE_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    samples.push(
      sendOne(i, REQUEST_TIMEOUT_MS - (performance.now() - due)).then((answer) => ({
        ms: performance.now() - due,
        status: answer.status,
      })),
    );
  }
  return Promise.all(samples);
}

interface Victims {
  target: URL;
  accessTokens: string[];
  challenges: Iterator<Prepared>;
  nextAddress: () => string;
}

/** GET /me and the second step, side by side at the victims' rate. */
async function victimLoad(victims: Victims, seconds: number): Promise<{ me: Sample[]; verify: Sample[] }> {
  const meAgent = new Agent({ keepAlive: true, maxSockets: VICTIM_SOCKETS });
  const verifyAgent = new Agent({ keepAlive: true, maxSockets: VICTIM_SOCKETS });
  try {
    const [me, verify] = await Promise.all([
      steady(seconds, (i, timeoutMs) =>
        send(
          meAgent,
          victims.target,
          {
            method: 'GET',
            path: '/api/auth/me',
            localAddress: victims.nextAddress(),
            headers: { authorization: `Bearer ${victims.accessTokens[i % victims.accessTokens.length]}` },
          },
          timeoutMs,
        ),
      ),
      steady(seconds, (_i, timeoutMs) => {
        const next = victims.challenges.next();
        if (next.done) throw new Error('the flood bench ran out of seeded challenges');
        const user = next.value;
        return send(
          verifyAgent,
          victims.target,
          {
            method: 'POST',
            path: '/api/auth/login/verify',
            localAddress: victims.nextAddress(),
            body: JSON.stringify({ challenge: user.challenge, code: user.code(Date.now() / 1000) }),
          },
          timeoutMs,
        );
      }),
    ]);
    return { me, verify };
  } finally {
    meAgent.destroy();
    verifyAgent.destroy();
  }
}

/**
 * Failed logins from one address until `stop`: wrong passwords for existing
 * accounts and unknown usernames in turn. Up to ATTACK_IN_FLIGHT at a time,
 * in a window like TCP's: each refusal (503) takes one off, each password
 * checked (401) adds 1/window. So it settles at what the server takes at once
 * and spends its per-IP budget on password hashes, not on refusals: the worst
 * flood the limits allow. Statuses answered (0 for none).
 */
async function attack(target: URL, stop: { now: boolean }): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: ATTACK_IN_FLIGHT });
  const answers: number[] = [];
  let attempt = 0;
  let inFlight = 0;
  let window = ATTACK_IN_FLIGHT;
  const worker = async () => {
    while (!stop.now) {
      if (inFlight >= Math.floor(window)) {
        await sleep(ATTACK_POLL_MS);
        continue;
      }
      const n = attempt++;
      const username = n % 2 === 0 ? `target-${(n / 2) % ATTACK_ACCOUNTS}` : `nobody-${n}`;
      inFlight++;
      const answer = await send(
        agent,
        target,
        {
          method: 'POST',
          path: '/api/auth/login',
          localAddress: ATTACK_ADDRESS,
          body: JSON.stringify({ username, password: `wrong password ${n}` }),
        },
        REQUEST_TIMEOUT_MS,
      );
      inFlight--;
      answers.push(answer.status);
      if (answer.status === 503) window = Math.max(window - 1, 1);
      if (answer.status === 401) window = Math.min(window + 1 / window, ATTACK_IN_FLIGHT);
      if (answer.status === 429 && !stop.now) {
        await sleep(Math.min((answer.retryAfterSeconds ?? 1) * 1000, ATTACK_MAX_WAIT_MS));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: ATTACK_IN_FLIGHT }, worker));
    return answers;
  } finally {
    agent.destroy();
  }
}

/** Nearest rank, in ms. */
function percentile(samples: Sample[], p: number): number {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  return sorted[Math.max(Math.ceil(p * sorted.length) - 1, 0)] ?? Number.NaN;
}

const ms = (x: number) => (x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));

/** `ok/sent`, and the other answers by status. */
function answered(samples: Sample[]): string {
  const others = samples.map((s) => s.status).filter((status) => status < 200 || status >= 300);
  const ok = samples.length - others.length;
  return `${ok}/${samples.length}${others.length > 0 ? ` (${byStatus(others)})` : ''}`;
}

/** `401 x 120, 429 x 3`; 0 is 'no answer'. */
function byStatus(statuses: number[]): string {
  const counts = new Map<number, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status === 0 ? 'no answer' : status} x ${n}`)
    .join(', ');
}

/** Runs the flood on a fresh SQLite database and prints its table. */
async function passwordFlood(seconds: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'otpkit-flood-'));
  try {
    const db = openSqlite(join(dir, 'otpkit.sqlite'));
    await migrate(db, Date.now());
    const keys = generateKeyRingEntry({ id: 'k1' });
    const count = phaseRequests(WARMUP_SECONDS) + 2 * phaseRequests(seconds);
    const challenges = (await seed(db, keys, { count, prefix: 'victim' }))[Symbol.iterator]();
    // A real OWASP-cost hash, so a wrong password costs the attacked account what it costs in production.
    const owaspHash = await hashPassword(PASSWORD, OWASP_SCRYPT, randomBytes);
    for (let i = 0; i < ME_USERS; i++) await addUser(db, `reader-${i}`, owaspHash);
    for (let i = 0; i < ATTACK_ACCOUNTS; i++) await addUser(db, `target-${i}`, owaspHash);
    await db.close();

    // The defaults under test: no OTPKIT_RATE_LIMIT, no OTPKIT_SCRYPT_LOG2N.
    const server = await start([BIN, 'serve', '--port', '0'], {
      OTPKIT_DATA_DIR: dir,
      OTPKIT_KEYS: keys,
      OTPKIT_TOKEN_KEY: Buffer.alloc(32, 3).toString('base64url'),
    });
    try {
      const target = new URL(server.url);
      const signIn = new Agent({ keepAlive: false });
      const accessTokens: string[] = [];
      for (let i = 0; i < ME_USERS; i++) {
        const answer = await send(
          signIn,
          target,
          {
            method: 'POST',
            path: '/api/auth/login',
            localAddress: SIGN_IN_ADDRESS,
            body: JSON.stringify({ username: `reader-${i}`, password: PASSWORD }),
          },
          REQUEST_TIMEOUT_MS,
        );
        const token = answer.status === 200 ? JSON.parse(answer.body)?.tokens?.accessToken : undefined;
        if (typeof token !== 'string') {
          throw new Error(
            `signing reader-${i} in from ${SIGN_IN_ADDRESS} answered ${answer.status || 'nothing'} ` +
              '(the flood needs to send from all of 127.0.0.0/8, as Linux allows)',
          );
        }
        accessTokens.push(token);
      }
      signIn.destroy();
      const victims = { target, accessTokens, challenges, nextAddress: victimAddresses() };

      await victimLoad(victims, WARMUP_SECONDS);
      const quiet = await victimLoad(victims, seconds);

      // The attacker stops sending when the victims do; what it has in flight then still lands on their answers.
      const stop = { now: false };
      const attacker = attack(target, stop);
      await sleep(ATTACK_LEAD_MS);
      const flooded = victimLoad(victims, seconds);
      await sleep(seconds * 1000);
      stop.now = true;
      const [underFlood, answers] = await Promise.all([flooded, attacker]);

      console.log(
        `\nPassword flood on SQLite, one otpkit process with the default per-IP rate limit and OWASP scrypt: ` +
          `victims at ${VICTIM_RATE_PER_SECOND} req/s per route (open loop) for ${seconds} s without the flood, ` +
          `then ${seconds} s under it, from 127.1.x.x (${ADDRESS_REQUESTS} requests an address); ` +
          `the attacker keeps up to ${ATTACK_IN_FLIGHT} failed logins in flight from ${ATTACK_ADDRESS}, ` +
          `from ${ATTACK_LEAD_MS / 1000} s before the victims until they stop.`,
      );
      console.log(
        '\n| victim route | p50 ms | p99 ms | p50 ms, flood | p99 ms, flood | p99 flood / p99 | 2xx | 2xx, flood |' +
          '\n|---|---:|---:|---:|---:|---:|---:|---:|',
      );
      const rows: [string, Sample[], Sample[]][] = [
        ['GET /api/auth/me', quiet.me, underFlood.me],
        ['POST /api/auth/login/verify', quiet.verify, underFlood.verify],
      ];
      for (const [route, before, during] of rows) {
        const ratio = percentile(during, 0.99) / percentile(before, 0.99);
        console.log(
          `| ${route} | ${ms(percentile(before, 0.5))} | ${ms(percentile(before, 0.99))} | ` +
            `${ms(percentile(during, 0.5))} | ${ms(percentile(during, 0.99))} | ${ratio.toFixed(1)}x | ` +
            `${answered(before)} | ${answered(during)} |`,
        );
      }
      const attackSeconds = ATTACK_LEAD_MS / 1000 + seconds;
      console.log(
        `\nAttacker: ${answers.length} logins with wrong passwords sent in ${attackSeconds} s, ` +
          `answered ${byStatus(answers)}.\nTarget: p99 under the flood <= 2x p99 without it, on both routes.`,
      );
    } finally {
      // Nothing of it is kept, and a clean exit would wait for every queued password hash first.
      server.child.kill('SIGKILL');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export { passwordFlood };
