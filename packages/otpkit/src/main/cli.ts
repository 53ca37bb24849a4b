// Composition root of the otpkit binary: the only place that reads the real
// clock, the environment, stdin and argv, opens files and sockets, and sets
// the exit status.

import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import pino from 'pino';
import { runCli } from '../cli/index.js';
import { DatabaseUnavailable } from '../store/db.js';
import { compose } from './compose.js';
import { readConfig, StartError } from './config.js';

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
      const address = await composed.app.listen({
        port: overrides.port ?? config.port,
        host: overrides.host ?? config.host,
      });
      const where = config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`;
      say(`data: ${where}; API docs at ${address}/docs`);
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.once(signal, () => {
          void composed.close().then(() => process.exit(0));
        });
      }
      return address;
    },
  }),
);
