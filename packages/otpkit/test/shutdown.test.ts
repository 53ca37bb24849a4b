// Stopping `otpkit serve` (SIGTERM, SIGINT) as an orchestrator does, in the
// middle of a burst: every request is answered or its connection refused,
// never reset half-way; every 2xx had its effect; the process exits 0 within
// the timeout, and past it cuts what still runs and exits 1.

import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startListening } from '../../../test/support/listening.js';
import { PASSWORD } from './api.js';

const BIN = fileURLToPath(new URL('../bin/otpkit.js', import.meta.url));

/** How one request ended: an answer (any status), a refused connection, or a failure after it was sent. */
type Outcome =
  | { kind: 'answered'; status: number; connection: string | undefined; body: string; afterSignal: boolean }
  | { kind: 'refused' }
  | { kind: 'failed'; code: string; sent: boolean };

interface Client {
  agent: Agent;
  /** Set once the signal is sent: answers after it are told apart. */
  signalled: boolean;
}

/** A request on its way: its outcome, and when it has been written whole (it is then in flight). */
function sending(
  client: Client,
  base: string,
  path: string,
  body?: unknown,
): { outcome: Promise<Outcome>; written: Promise<void> } {
  let written!: () => void;
  const writtenPromise = new Promise<void>((resolve) => {
    written = resolve;
  });
  const url = new URL(path, base);
  const text = body === undefined ? undefined : JSON.stringify(body);
  const outcome = new Promise<Outcome>((resolve) => {
    let sent = false;
    const req = request(
      url,
      {
        agent: client.agent,
        method: text === undefined ? 'GET' : 'POST',
        headers: text === undefined ? {} : { 'content-type': 'application/json' },
      },
      (response) => {
        let data = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          data += chunk;
        });
        response.on('end', () =>
          resolve({
            kind: 'answered',
            status: response.statusCode ?? 0,
            connection: response.headers.connection,
            body: data,
            afterSignal: client.signalled,
          }),
        );
        response.on('error', (error: NodeJS.ErrnoException) =>
          resolve({ kind: 'failed', code: error.code ?? error.message, sent }),
        );
      },
    );
    req.on('finish', () => {
      sent = true;
      written();
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      written();
      resolve(
        error.code === 'ECONNREFUSED'
          ? { kind: 'refused' }
          : { kind: 'failed', code: error.code ?? error.message, sent },
      );
    });
    req.end(text);
  });
  return { outcome, written: writtenPromise };
}

const send = (client: Client, base: string, path: string, body?: unknown) => sending(client, base, path, body).outcome;

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

/** Resolves once a TCP connection to the port is refused: the listener is closed. */
async function listenerClosed(port: number): Promise<void> {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function environment(cwd: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    LOG_LEVEL: 'warn',
    OTPKIT_DATA_DIR: join(cwd, 'data'),
    OTPKIT_RATE_LIMIT: '0',
    OTPKIT_SCRYPT_LOG2N: '12', // a few ms a hash: enough to be in flight when the signal lands
    OTPKIT_PASSWORD_HASH_CONCURRENCY: '8', // 8 at once and 32 waiting: the burst is queued, not refused
    ...more,
  };
}

describe('otpkit serve stops cleanly', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s mid-burst: every request answered or refused, never reset; every 2xx stored; exit 0 within the timeout',
    async (signal) => {
      const cwd = mkdtempSync(join(tmpdir(), 'otpkit-stop-'));
      const client: Client = { agent: new Agent({ keepAlive: true }), signalled: false };
      try {
        const { child, base } = await startListening(BIN, ['serve', '--port', '0'], { env: environment(cwd), cwd });
        const port = Number(new URL(base).port);
        const post = (path: string, body: unknown) => send(client, base, path, body);

        // Before the burst: users who sign in during it.
        const existing = Array.from({ length: 10 }, (_, i) => `existing${i}`);
        for (const username of existing)
          expect((await post('/api/auth/register', { username, password: PASSWORD })).kind).toBe('answered');

        // The burst: 30 sign-ups and 10 sign-ins (a password hash each, queued behind 8 slots) and 10 health checks.
        const signUps = Array.from({ length: 30 }, (_, i) => `burst${i}`);
        const requests = [
          ...signUps.map((username) => sending(client, base, '/api/auth/register', { username, password: PASSWORD })),
          ...existing.map((username) => sending(client, base, '/api/auth/login', { username, password: PASSWORD })),
          ...Array.from({ length: 10 }, () => sending(client, base, '/healthz')),
        ];
        const burst = requests.map((r) => r.outcome);
        // The signal lands once every request of the burst is sent, and the server is busy with them.
        await Promise.all(requests.map((r) => r.written));
        await Promise.race(burst);
        const exited = exitOf(child);
        const signalledAt = Date.now();
        client.signalled = true;
        child.kill(signal);

        // New connections are refused once the listener is closed, and a request on one gets ECONNREFUSED.
        await listenerClosed(port);
        // (On new connections: a keep-alive socket the server has just closed is the client's race to retry.)
        const fresh: Client = { agent: new Agent({ keepAlive: false }), signalled: true };
        const late = await Promise.all(Array.from({ length: 5 }, () => send(fresh, base, '/healthz')));
        const outcomes = await Promise.all(burst);

        expect(await exited).toBe(0);
        expect(Date.now() - signalledAt).toBeLessThan(10_000);

        const failures = [...outcomes, ...late].filter((o) => o.kind === 'failed');
        expect(failures).toEqual([]);
        for (const o of late) expect(o.kind).toBe('refused');
        const answered = outcomes.filter((o) => o.kind === 'answered');
        // The burst was still running at the signal, and what ran finished: answered, on a connection then closed.
        const afterSignal = answered.filter((o) => o.afterSignal);
        expect(afterSignal.length).toBeGreaterThan(0);

        // Every 2xx had its effect: each 201 sign-up is a user, each 200 sign-in a session.
        const db = new Database(join(cwd, 'data', 'otpkit.sqlite'), { readonly: true });
        try {
          const stored = new Set(
            (db.prepare('SELECT username FROM users').all() as { username: string }[]).map((r) => r.username),
          );
          signUps.forEach((username, i) => {
            const o = outcomes[i]!;
            if (o.kind === 'answered' && o.status === 201) expect(stored.has(username), username).toBe(true);
          });
          const signIns = outcomes
            .slice(signUps.length, signUps.length + existing.length)
            .filter((o) => o.kind === 'answered' && o.status === 200).length;
          const sessions = db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number };
          expect(sessions.n).toBe(signIns);
        } finally {
          db.close();
        }
      } finally {
        client.agent.destroy();
        rmSync(cwd, { recursive: true, force: true });
      }
    },
  );

  it('closes idle keep-alive connections with a FIN, not a reset', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'otpkit-stop-'));
    const agent = new Agent({ keepAlive: true });
    try {
      const { child, base } = await startListening(BIN, ['serve', '--port', '0'], { env: environment(cwd), cwd });
      const answered = await send({ agent, signalled: false }, base, '/healthz');
      expect(answered).toMatchObject({ kind: 'answered', status: 200, connection: 'keep-alive' });
      const idle = Object.values(agent.freeSockets).flat();
      expect(idle).toHaveLength(1);
      const ended = new Promise<string>((resolve) => {
        idle[0]!.once('end', () => resolve('end'));
        idle[0]!.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      const exited = exitOf(child);
      child.kill('SIGTERM');
      expect(await ended).toBe('end');
      expect(await exited).toBe(0);
    } finally {
      agent.destroy();
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('past OTPKIT_SHUTDOWN_TIMEOUT_MS, cuts the requests still running and exits 1', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'otpkit-stop-'));
    try {
      const { child, base } = await startListening(BIN, ['serve', '--port', '0'], {
        env: environment(cwd, { OTPKIT_SHUTDOWN_TIMEOUT_MS: '300' }),
        cwd,
      });
      // A request whose body never comes: in flight until the 30 s request timeout.
      const stalled = connect(Number(new URL(base).port), '127.0.0.1');
      await new Promise((resolve) => stalled.once('connect', resolve));
      stalled.write(
        'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closed = new Promise((resolve) => stalled.once('close', resolve));
      stalled.on('error', () => undefined);
      const exited = exitOf(child);
      const started = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
      await closed;
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('the timeout is checked at start', () => {
    const result = spawnSync(process.execPath, [BIN, 'serve', '--port', '0'], {
      env: { PATH: process.env.PATH ?? '', OTPKIT_SHUTDOWN_TIMEOUT_MS: 'soon' },
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('OTPKIT_SHUTDOWN_TIMEOUT_MS must be a whole number from 0 to 600000');
  });
});
