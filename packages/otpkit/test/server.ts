// A real otpkit server for tests: the real composition (compose) over a fresh
// SQLite file or PostgreSQL schema, with an injected clock and captured logs.

import { randomBytes } from 'node:crypto';
import { generateKeyRingEntry } from '@otpkit/core';
import pino from 'pino';
import type { TestDb } from '../../../test/support/databases.js';
import { compose } from '../src/main/compose.js';
import { readConfig } from '../src/main/config.js';

const START = 1_750_000_000_000; // 2025-06-15, Unix ms

/** The environment a second server process needs to join the same database. */
function envFor(t: TestDb, keys: string, tokenKey: string): Record<string, string> {
  const database: Record<string, string> =
    t.db.dialect === 'postgres'
      ? { OTPKIT_DATABASE_URL: `${t.url}?options=${encodeURIComponent(`-c search_path=${t.schema}`)}` }
      : { OTPKIT_DATA_DIR: t.url.replace(/\/otpkit\.sqlite$/, '') };
  return {
    ...database,
    OTPKIT_KEYS: keys,
    OTPKIT_TOKEN_KEY: tokenKey,
    OTPKIT_SCRYPT_LOG2N: '10',
    OTPKIT_RATE_LIMIT: '0',
  };
}

async function startServer(t: TestDb, env: Record<string, string> = {}) {
  let now = START;
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const keys = generateKeyRingEntry({ id: 'k1' });
  const tokenKey = randomBytes(32).toString('base64url');
  const processEnv = { ...envFor(t, keys, tokenKey), ...env };
  const composed = await compose(readConfig(processEnv, process.cwd()), {
    say: () => undefined,
    logger,
    now: () => now,
  });
  return {
    ...composed,
    env: processEnv,
    logs,
    clock: {
      now: () => now,
      advance(ms: number) {
        now += ms;
      },
    },
  };
}

type TestServer = Awaited<ReturnType<typeof startServer>>;

export type { TestServer };
export { envFor, START, startServer };
