// Composition of the per-client throttle from a Config: counts in Redis with
// OTPKIT_REDIS_URL, else in PostgreSQL on PostgreSQL, else in memory (SQLite
// is one process). The only place that opens the Redis connection.

import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import { HttpError } from '../http/errors.js';
import {
  memoryThrottle,
  postgresThrottle,
  type RedisScript,
  redisThrottle,
  type Throttle,
  type Verdict,
} from '../http/throttle.js';
import type { Db } from '../store/db.js';
import type { Config } from './config.js';

/** A new Redis connection gives up after this; so does start-up's wait for the first one. */
const REDIS_CONNECT_TIMEOUT_MS = 2_000;
/**
 * A throttle command Redis has not answered in this long fails (then the
 * outage rule decides). Redis answers in well under a millisecond; this only
 * bounds what a stalled link adds to each throttled request.
 */
const REDIS_COMMAND_TIMEOUT_MS = 1_000;
/** Between attempts to reconnect: doubling from 50 ms up to this. */
const REDIS_RECONNECT_MAX_MS = 2_000;
/** Retry-After of the 503 a throttle failing closed answers while Redis is out of reach. */
const REDIS_RETRY_AFTER_SECONDS = 5;

/** Where the throttle says what happened: pino's shape (the server's logger). */
interface ThrottleLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

interface ThrottleDeps {
  /** The opened database: the counts live there on PostgreSQL without Redis. */
  db: Db;
  /** Unix ms. */
  now: () => number;
  /** The length of a window (OTPKIT_RATE_LIMIT counts per minute). */
  windowMs: number;
  logger?: ThrottleLog;
}

/** A throttle, and what it holds open: close() it after the app. */
interface OpenedThrottle extends Throttle {
  /**
   * For GET /readyz: rejects while the throttle cannot count and refuses
   * requests for it (Redis out of reach with OTPKIT_REDIS_FAIL=closed).
   * Undefined when it never refuses for that (failing open, memory) or its
   * store is the database, which readiness checks anyway.
   */
  ready?: () => Promise<void>;
  close(): Promise<void>;
}

/**
 * The throttle the config asks for, or undefined when OTPKIT_RATE_LIMIT=0.
 *
 * @example const throttle = await openThrottle(config, { db, now: Date.now, windowMs: 60_000, logger });
 */
async function openThrottle(config: Config, deps: ThrottleDeps): Promise<OpenedThrottle | undefined> {
  if (config.rateLimitPerMinute === false) return undefined;
  const limit = { limit: config.rateLimitPerMinute, windowMs: deps.windowMs };
  if (config.redis) return openRedisThrottle(config.redis, limit, deps.logger);
  if (deps.db.dialect === 'postgres') {
    const throttle = await postgresThrottle(deps.db, {
      ...limit,
      now: deps.now,
      onSweepError: (error) => deps.logger?.warn({ reason: reasonOf(error) }, 'throttle sweep failed'),
    });
    return { hit: throttle.hit, close: async () => undefined }; // the database is compose's to close
  }
  const throttle = memoryThrottle({ ...limit, now: deps.now });
  return { hit: throttle.hit, close: async () => undefined };
}

/** What a Redis error says, without the URL (it may hold a password). */
function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The Redis throttle behind one connection, reconnecting on its own. While
 * Redis is out of reach, hit() lets requests through uncounted (fail open: the
 * per-account password throttle and second-factor budget still hold, in the
 * database), or with failClosed refuses them with 503 SERVER_BUSY. Either way
 * one warning says so when the outage begins and one line when it ends.
 */
async function openRedisThrottle(
  redis: NonNullable<Config['redis']>,
  limit: { limit: number; windowMs: number },
  logger: ThrottleLog | undefined,
): Promise<OpenedThrottle> {
  const where = { redis: new URL(redis.url).host, failClosed: redis.failClosed };
  const client = createClient({
    url: redis.url,
    // No queue while disconnected: a command then fails at once instead of waiting for a connection.
    disableOfflineQueue: true,
    commandOptions: { timeout: REDIS_COMMAND_TIMEOUT_MS },
    socket: {
      connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, REDIS_RECONNECT_MAX_MS),
    },
  });
  let out = false;
  let closed = false;
  const outage = (error: unknown) => {
    if (out || closed) return;
    out = true;
    logger?.warn(
      { ...where, reason: reasonOf(error) },
      redis.failClosed
        ? 'redis unavailable: throttled routes answer 503 until it is back'
        : 'redis unavailable: throttled requests pass uncounted until it is back',
    );
  };
  const back = () => {
    if (!out) return;
    out = false;
    logger?.info(where, 'redis reachable again: the throttle counts again');
  };
  // Unheard, an 'error' event (a refused or dropped connection) would end the process; the client reconnects itself.
  client.on('error', outage);
  client.on('ready', back);
  await firstConnection(client.connect(), outage);

  const shas = new Map<string, string>();
  const run: RedisScript = async (script, key, args) => {
    let digest = shas.get(script);
    if (digest === undefined) {
      digest = createHash('sha1').update(script).digest('hex'); // EVALSHA's name for it
      shas.set(script, digest);
    }
    const options = { keys: [key], arguments: [...args] };
    try {
      return await client.evalSha(digest, options);
    } catch (error) {
      // Redis forgets scripts on a restart or SCRIPT FLUSH: send it whole once, and it is cached again.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(script, options);
    }
  };
  const throttle = redisThrottle({ ...limit, run, keyPrefix: `${redis.keyPrefix}throttle:` });
  const unavailable = () =>
    new HttpError('SERVER_BUSY', 'the rate limiter is unavailable; try again shortly', REDIS_RETRY_AFTER_SECONDS);
  return {
    async hit(address): Promise<Verdict> {
      let verdict: Verdict;
      try {
        verdict = await throttle.hit(address);
      } catch (error) {
        outage(error);
        if (redis.failClosed) throw unavailable();
        return { allowed: true, retryAfterSeconds: 0 };
      }
      back();
      return verdict;
    },
    ...(redis.failClosed
      ? {
          async ready() {
            try {
              await client.ping();
            } catch (error) {
              outage(error);
              throw unavailable();
            }
          },
        }
      : {}),
    async close() {
      closed = true;
      client.destroy();
    },
  };
}

/**
 * Waits for the first connection at most REDIS_CONNECT_TIMEOUT_MS: start-up
 * does not stop for a Redis out of reach (the outage rule holds meanwhile,
 * and the client keeps trying), it says so.
 */
async function firstConnection(connecting: Promise<unknown>, outage: (error: unknown) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      outage(new Error(`no connection within ${REDIS_CONNECT_TIMEOUT_MS} ms`));
      resolve();
    }, REDIS_CONNECT_TIMEOUT_MS);
  });
  // connect() settles only once connected, or rejects when the client is destroyed before.
  await Promise.race([connecting.then(() => undefined, outage), late]);
  clearTimeout(timer);
}

export type { OpenedThrottle, ThrottleDeps, ThrottleLog };
export { openThrottle };
