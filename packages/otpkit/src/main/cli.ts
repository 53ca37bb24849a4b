// Composition root of the otpkit binary: the only place that reads the real
// clock, the environment, stdin and argv, opens files and sockets, and sets
// the exit status.

import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import pino from 'pino';
import { runCli } from '../cli/index.js';
import { DatabaseUnavailable } from '../store/db.js';
import { type Composed, compose } from './compose.js';
import { readConfig, StartError } from './config.js';

/** Past the shutdown timeout, the connections are cut; if closing still hangs this much later, exit anyway. */
const HARD_STOP_GRACE_MS = 5_000;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const say = (message: string) => process.stderr.write(`otpkit: ${message}\n`);

/**
 * Start-up failures an operator fixes outside otpkit (a database out of
 * reach, a key missing from the ring): one line and exit status 1, not a
 * stack. Their messages name what and where, never a secret or a password.
 */
async function orStop<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (error instanceof DatabaseUnavailable || error instanceof StartError) {
      say(error.message);
      process.exit(1); // a half-opened pool or server must not keep the process alive
    }
    throw error;
  }
}

/**
 * SIGTERM or SIGINT: stop accepting, let the requests in flight finish (up to
 * the timeout; then cut their connections), close the pools, exit 0 (1 if
 * anything was cut). A second signal cuts at once.
 */
function stopOnSignals(composed: Composed, timeoutMs: number): void {
  let stopping = false;
  let cut = false;
  const cutConnections = () => {
    cut = true;
    composed.app.server.closeAllConnections();
    composed.metricsApp?.server.closeAllConnections();
  };
  const stop = (signal: string) => {
    if (stopping) {
      say(`${signal} again: closing every connection now`);
      cutConnections();
      return;
    }
    stopping = true;
    say(`${signal}: finishing the requests in flight (at most ${timeoutMs} ms), then stopping`);
    const deadline = setTimeout(() => {
      say(`requests still running after ${timeoutMs} ms (OTPKIT_SHUTDOWN_TIMEOUT_MS): closing their connections`);
      cutConnections();
    }, timeoutMs);
    setTimeout(() => {
      say('could not close in time: exiting');
      process.exit(1);
    }, timeoutMs + HARD_STOP_GRACE_MS).unref();
    composed.close().then(
      () => {
        clearTimeout(deadline);
        process.exit(cut ? 1 : 0);
      },
      (error: unknown) => {
        say(`stopping failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

// Around the whole command: serve's and openService's start-up, and an admin
// command that loses the database half-way.
process.exitCode = await orStop(() =>
  runCli(process.argv.slice(2), {
    stdout: (data) => process.stdout.write(data),
    stderr: (text) => process.stderr.write(text),
    stdoutIsTerminal: process.stdout.isTTY === true,
    async writePrivateFile(path, data) {
      await chmod(path, 0o600).catch(() => undefined); // an existing file: narrow it before writing
      await writeFile(path, data, { mode: 0o600 });
    },
    nowSeconds: () => Date.now() / 1000,
    randomBytes: (length) => new Uint8Array(randomBytes(length)),
    readStdin,
    async openService() {
      const composed = await compose(readConfig(process.env, process.cwd()), { say });
      return { service: composed.service, applied: composed.applied, close: composed.close };
    },
    async serve(overrides) {
      const config = readConfig(process.env, process.cwd());
      const logger = pino({
        level: config.logLevel,
        // Belt and braces: otpkit never logs bodies, and these headers carry tokens.
        redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      });
      const composed = await compose(config, { say, logger });
      stopOnSignals(composed, config.shutdownTimeoutMs);
      const host = overrides.host ?? config.host;
      const address = await composed.app.listen({ port: overrides.port ?? config.port, host });
      const where = config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`;
      say(`data: ${where}; API docs at ${address}/docs`);
      if (composed.metricsApp && typeof config.metrics === 'object') {
        // Its own port, on the API's host (127.0.0.1 unless HOST or --host says otherwise).
        const metricsAddress = await composed.metricsApp.listen({ port: config.metrics.port, host });
        say(`metrics at ${metricsAddress}/metrics`);
      } else if (composed.metrics) say(`metrics at ${address}/metrics`);
      return address;
    },
  }),
);
