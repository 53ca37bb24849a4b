// A real otpkit server for tests: the real composition (compose) over a fresh
// SQLite file or PostgreSQL schema, with an injected clock and captured logs.

import { randomBytes } from 'node:crypto';
import { generateKeyRingEntry } from '@otpkit/core';
import express from 'express';
import inject from 'light-my-request';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { DATABASES, type TestDb } from '../../../test/support/databases.js';
import { otpkitExpress } from '../src/http/express.js';
import { otpkitFetch } from '../src/http/fetch.js';
import { type ComposeOptions, compose } from '../src/main/compose.js';
import { type Config, readConfig } from '../src/main/config.js';

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

/** The hosts the HTTP suites run on: the standalone Fastify app, Express middleware, the Fetch handler. */
type Host = 'Fastify' | 'Express' | 'Fetch';

/** What the suites send: light-my-request's shape (app.inject), for every host. */
interface Injected {
  method?: 'GET' | 'POST';
  url: string;
  payload?: object | string;
  headers?: Record<string, string>;
  remoteAddress?: string;
}
interface Answered {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read the fields they expect
  json(): any;
}

type Composed = Awaited<ReturnType<typeof compose>>;

/** How a test reaches a host: Fastify's and Express's through light-my-request, the Fetch handler by calling it. */
async function transport(
  host: Host,
  composed: Composed,
  config: Config,
): Promise<(request: Injected) => Promise<Answered>> {
  const options = {
    service: composed.service,
    ...(composed.throttle ? { throttle: composed.throttle } : {}),
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
  };
  if (host === 'Fastify') return (request) => composed.app.inject(request) as Promise<Answered>;
  if (host === 'Express') {
    const app = express();
    // The app's own proxy rules; otpkit reads req.ip and req.secure as Express works them out.
    if (config.trustProxy !== false) app.set('trust proxy', config.trustProxy);
    app.use(otpkitExpress(options));
    app.use((_request: unknown, response: { status(n: number): { json(body: unknown): void } }) => {
      response.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such route' } });
    });
    return (request) => inject(app, request) as Promise<Answered>;
  }
  // A Request carries no client address: the test hands it over as an app would (Bun's requestIP, say).
  const addresses = new WeakMap<Request, string>();
  const handler = otpkitFetch({ ...options, clientIp: (request) => addresses.get(request) });
  return async ({ method = 'GET', url, payload, headers = {}, remoteAddress = '127.0.0.1' }) => {
    const body = payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload);
    const sent = {
      ...(body !== undefined && !headers['content-type'] ? { 'content-type': 'application/json' } : {}),
      ...headers,
    };
    const request = new Request(`http://localhost${url}`, {
      method,
      headers: sent,
      ...(body === undefined ? {} : { body }),
    });
    addresses.set(request, remoteAddress);
    const response = await handler(request);
    const answered: Record<string, string | string[]> = {};
    response.headers.forEach((value, name) => {
      answered[name] = name === 'set-cookie' ? response.headers.getSetCookie().join(', ') : value;
    });
    const text = await response.text();
    return { statusCode: response.status, headers: answered, body: text, json: () => JSON.parse(text) };
  };
}

async function startServer(
  t: TestDb,
  env: Record<string, string> = {},
  host: Host = 'Fastify',
  more: Pick<ComposeOptions, 'onEvent'> = {},
) {
  let now = START;
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const keys = generateKeyRingEntry({ id: 'k1' });
  const tokenKey = randomBytes(32).toString('base64url');
  const processEnv = { ...envFor(t, keys, tokenKey), ...env };
  const config = readConfig(processEnv, process.cwd());
  const composed = await compose(config, { say: () => undefined, logger, now: () => now, ...more });
  return {
    ...composed,
    host,
    /** A request to the host under test (app.inject's shape and answer). */
    inject: await transport(host, composed, config),
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

/** Where the HTTP suites run: every host on SQLite, and Fastify on PostgreSQL too. */
const HOSTS: [host: Host, database: string, open: () => Promise<TestDb>][] = DATABASES.flatMap(([name, open]) =>
  (name === 'SQLite' ? (['Fastify', 'Express', 'Fetch'] as const) : (['Fastify'] as const)).map(
    (host) => [host, name, open] as [Host, string, () => Promise<TestDb>],
  ),
);

export type { Host, Injected, TestServer };

/** An object that forwards every read and write to what `current` returns at that moment. */
function live<T extends object>(current: () => T | undefined): T {
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(current()!, key),
    set: (_, key, value) => Reflect.set(current()!, key, value),
  });
}

/**
 * A database and a server for a describe block: opened and started before its
 * tests, stopped and dropped after them. `s` and `t` stand for them meanwhile.
 */
function serverPerSuite(open: () => Promise<TestDb>, env: Record<string, string> = {}, host: Host = 'Fastify') {
  let db: TestDb | undefined;
  let server: TestServer | undefined;
  beforeAll(async () => {
    db = await open();
    server = await startServer(db, env, host);
  });
  afterAll(async () => {
    await server?.close();
    await db?.drop();
  });
  return { s: live(() => server), t: live(() => db) };
}

export { envFor, HOSTS, START, serverPerSuite, startServer };
