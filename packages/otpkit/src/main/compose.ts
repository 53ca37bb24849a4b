// Composition: from a Config to an opened database, key ring, token signer,
// service and app. The only place that picks adapters and touches key files.

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyRingEntry, type KeyRing, parseKeyRing } from '@otpkit/core';
import type { FastifyBaseLogger } from 'fastify';
import { type App, buildApp, type ReadinessCheck } from '../http/app.js';
import { buildMetricsApp, createMetrics, type Metrics } from '../http/metrics.js';
import type { Throttle } from '../http/throttle.js';
import { ServiceError } from '../service/errors.js';
import { createService, type Service } from '../service/index.js';
import { nodeAead } from '../service/node-aead.js';
import { checkPolicy, type Policy, PolicyError } from '../service/policy.js';
import { createTokenSigner, SIGNING_KEY_BYTES } from '../service/tokens.js';
import type { Db } from '../store/db.js';
import { migrate } from '../store/migrate.js';
import { openPostgres } from '../store/postgres.js';
import { openSqlite } from '../store/sqlite.js';
import { type AuditEvent, createStore, type Store } from '../store/store.js';
import { type Config, ConfigError, StartError } from './config.js';
import { openThrottle } from './throttle.js';

/** OTPKIT_RATE_LIMIT counts requests per client in windows of a minute. */
const RATE_LIMIT_WINDOW_MS = 60_000;
/** The sweep of expired rows: once a minute, at most this many rows of each kind per run. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_LIMIT = 1_000;

type Say = (message: string) => void;

/** A secret from the environment, or from a file in the data directory made on first start (never in production). */
function keyMaterial(
  config: Config,
  value: string | undefined,
  file: string,
  variable: string,
  make: () => string,
  say: Say,
): string {
  if (value) return value;
  if (config.production) throw new ConfigError(`${variable} must be set when NODE_ENV=production`);
  const path = join(config.dataDir, file);
  if (!existsSync(path)) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(path, `${make()}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
    say(`created ${path} (mode 0600); set ${variable} to use your own`);
  }
  return readFileSync(path, 'utf8').trim();
}

function openDb(config: Config): Db {
  if (config.databaseUrl) {
    return openPostgres(config.databaseUrl, {
      connectTimeoutMs: config.databaseTimeouts.connectMs,
      statementTimeoutMs: config.databaseTimeouts.statementMs,
    });
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  return openSqlite(join(config.dataDir, 'otpkit.sqlite'));
}

interface ComposeOptions {
  /** Where start-up says what it did (created keys, applied migrations). */
  say: Say;
  logger?: FastifyBaseLogger;
  /** Unix ms; the real clock unless a test injects one. */
  now?: () => number;
  /** Every audit event, once stored (mail the user, feed your SIEM); see ServiceDeps.onEvent. */
  onEvent?: (event: AuditEvent) => void | Promise<void>;
}

/** What compose opens: close() it when done (it stops the sweep, drains the app, closes the database). */
interface Composed {
  db: Db;
  ring: KeyRing;
  store: Store;
  service: Service;
  /** The per-client throttle (undefined when OTPKIT_RATE_LIMIT=0), for the embedding hosts. */
  throttle: Throttle | undefined;
  /** The standalone server (routes, web UI, docs); never listening until you call listen(). */
  app: App;
  /** The Prometheus registry and counters; undefined unless OTPKIT_METRICS=1 or OTPKIT_METRICS_PORT is set. */
  metrics: Metrics | undefined;
  /** GET /metrics alone, for OTPKIT_METRICS_PORT (main/cli.ts listens on it); undefined otherwise. */
  metricsApp: Awaited<ReturnType<typeof buildMetricsApp>> | undefined;
  /** Migrations this start applied. */
  applied: string[];
  close(): Promise<void>;
}

async function compose(config: Config, options: ComposeOptions): Promise<Composed> {
  const now = options.now ?? Date.now;
  let policy: Policy;
  try {
    policy = checkPolicy(config.policy); // an embedding app may have changed it since readConfig
  } catch (error) {
    if (error instanceof PolicyError) throw new ConfigError(error.message);
    throw error;
  }
  const ring = await parseKeyRing(
    keyMaterial(config, config.keys, 'keys', 'OTPKIT_KEYS', () => generateKeyRingEntry({ id: 'k1' }), options.say),
    { aead: nodeAead },
  );
  const tokenKeyText = keyMaterial(
    config,
    config.tokenKey,
    'token-key',
    'OTPKIT_TOKEN_KEY',
    () => randomBytes(SIGNING_KEY_BYTES).toString('base64url'),
    options.say,
  );
  // Buffer.from skips characters it cannot read: check the text first, or a typo would shorten the key unseen.
  const tokenKey = Buffer.from(tokenKeyText, 'base64url');
  if (!/^[A-Za-z0-9_-]+$/.test(tokenKeyText) || tokenKey.length < SIGNING_KEY_BYTES)
    throw new ConfigError(`OTPKIT_TOKEN_KEY must be base64url of at least ${SIGNING_KEY_BYTES} bytes`);
  const db = openDb(config);
  const applied = await migrate(db, now());
  if (applied.length > 0) options.say(`applied migrations: ${applied.join(', ')}`);
  const store = createStore(
    db,
    {
      attemptsPerLock: policy.lockoutAttempts,
      firstLockMs: policy.lockoutFirstMinutes * 60_000,
      maxLockMs: policy.lockoutMaxHours * 3_600_000,
      permanentAfter: policy.lockoutPermanentAfter,
    },
    config.passwordFailures,
  );
  const metrics =
    config.metrics === false
      ? undefined
      : createMetrics({
          nowSeconds: () => performance.now() / 1000,
          ...(db.pool ? { pool: db.pool } : {}),
        });
  const tokens = createTokenSigner(tokenKey, {
    issuer: config.issuer,
    audience: 'otpkit',
    ttlSeconds: policy.accessTokenTtlSeconds,
  });
  const service = createService({
    store,
    ring,
    tokens,
    now,
    random: (length) => new Uint8Array(randomBytes(length)), // a copy: node's small buffers share one pool
    config: {
      issuer: config.issuer,
      enrollment: config.enrollment,
      windowSteps: policy.totpWindowSteps,
      backupCodes: policy.backupCodes,
      maxAuthenticators: policy.maxAuthenticators,
      trustedDeviceDays: policy.trustedDeviceDays,
      requireTwoFactor: policy.requireTwoFactor,
      challengeTtlMs: policy.challengeTtlSeconds * 1000,
      challengeMaxAttempts: policy.challengeAttempts,
      accessTokenTtlSeconds: policy.accessTokenTtlSeconds,
      refreshTokenTtlMs: policy.refreshTokenTtlHours * 3_600_000,
      sessionMaxAgeMs: policy.sessionMaxAgeHours * 3_600_000,
      scrypt: config.scrypt,
      passwordHashConcurrency: config.passwordHashConcurrency,
    },
    onEvent: async (event) => {
      metrics?.observeEvent(event);
      options.logger?.info({ audit: { type: event.type, userId: event.userId } }, 'audit');
      await options.onEvent?.(event);
    },
    onEventError: (error, event) =>
      options.logger?.warn({ err: error, audit: { type: event.type } }, 'an onEvent listener failed'),
  });
  try {
    await service.checkKeys();
  } catch (error) {
    metrics?.close();
    await db.close();
    if (error instanceof ServiceError) throw new StartError(`OTPKIT_KEYS: ${error.message}`);
    throw error;
  }
  const throttle = await openThrottle(config, { db, now, windowMs: RATE_LIMIT_WINDOW_MS, logger: options.logger });
  // What GET /readyz waits on: the database (and Redis, when the throttle counts there).
  const readiness: ReadinessCheck[] = [() => db.ping(), ...(throttle?.ready ? [throttle.ready] : [])];
  const app = await buildApp({
    service,
    ...(throttle ? { throttle } : {}),
    trustProxy: config.trustProxy,
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    readiness,
    ...(metrics ? { metrics, metricsRoute: config.metrics === 'api' } : {}),
  });
  const metricsApp = metrics && typeof config.metrics === 'object' ? await buildMetricsApp(metrics) : undefined;
  // Expired challenges, refresh tokens and sessions; every process sweeps, which is harmless.
  const sweep = setInterval(() => {
    service.prune(PRUNE_LIMIT).catch((error: unknown) => options.logger?.warn({ err: error }, 'prune failed'));
  }, PRUNE_EVERY_MS);
  sweep.unref();
  return {
    db,
    ring,
    store,
    service,
    throttle,
    app,
    metrics,
    metricsApp,
    applied,
    close: async () => {
      clearInterval(sweep);
      await app.close(); // stops accepting, lets the requests in flight finish
      await throttle?.close();
      await metricsApp?.close();
      metrics?.close();
      await db.close();
    },
  };
}

export type { Composed, ComposeOptions };
export { compose };
