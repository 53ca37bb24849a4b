// The per-client throttle on otpkit's routes: one count per client address
// across every throttled route, in fixed windows that start at a client's
// first request. Three stores keep the counts: this process's memory (one
// process), PostgreSQL (every process on one database) and Redis (every
// process on one Redis). The last two are given their connection: nothing
// here opens a socket.

import type { Db } from '../store/db.js';

interface Verdict {
  allowed: boolean;
  /** When the window ends, for Retry-After. */
  retryAfterSeconds: number;
}

interface Throttle {
  /** Counts one request of this client; refuses it past the limit. */
  hit(client: string): Promise<Verdict>;
}

/** What every store of counts is told: `limit` requests per client per `windowMs`. */
interface ThrottleLimit {
  limit: number;
  windowMs: number;
}

/** Above this many clients tracked, expired windows are swept on the next hit (bounds memory under a spray of addresses). */
const SWEEP_ABOVE_CLIENTS = 10_000;

/** The verdict on a client's `count`th request in a window with `remainingMs` to go. */
function verdict(count: number, limit: number, remainingMs: number): Verdict {
  return { allowed: count <= limit, retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)) };
}

/**
 * `limit` requests per client per `windowMs`, counted in this process.
 *
 * @example const throttle = memoryThrottle({ limit: 120, windowMs: 60_000, now: clock }); // clock: () => Unix ms
 */
function memoryThrottle(options: ThrottleLimit & { now: () => number }): Throttle {
  const { limit, windowMs, now } = options;
  const windows = new Map<string, { count: number; endsAt: number }>();
  return {
    async hit(client) {
      const at = now();
      if (windows.size > SWEEP_ABOVE_CLIENTS) {
        for (const [key, window] of windows) if (window.endsAt <= at) windows.delete(key);
      }
      let window = windows.get(client);
      if (!window || window.endsAt <= at) {
        window = { count: 0, endsAt: at + windowMs };
        windows.set(client, window);
      }
      window.count++;
      return verdict(window.count, limit, window.endsAt - at);
    },
  };
}

// PostgreSQL. The counts are a cache of the last minute, not records: an
// UNLOGGED table writes no WAL (no flush per request) and is emptied after a
// crash, which only forgives the clients of that minute. SQLite has no
// UNLOGGED and needs no shared table (one process), so the table is made
// here, on PostgreSQL only, rather than by a portable migration.
const POSTGRES_TABLE = `
CREATE UNLOGGED TABLE IF NOT EXISTS throttle_windows (
  client TEXT PRIMARY KEY,           -- the client's address
  count INTEGER NOT NULL,            -- requests in the window
  ends_at BIGINT NOT NULL            -- Unix ms
) WITH (fillfactor = 70);            -- room on the page: a count + 1 is a HOT update, no index write
CREATE INDEX IF NOT EXISTS throttle_windows_expiry ON throttle_windows (ends_at);
`;

// One statement per request: a new client, the next request of a window, or
// the first of a new window. SET reads the row as it was, so both CASEs see
// the old ends_at. Times are the caller's clock (deterministic in tests).
const POSTGRES_HIT = `
INSERT INTO throttle_windows AS w (client, count, ends_at) VALUES (?, 1, ?)
ON CONFLICT (client) DO UPDATE SET
  count = CASE WHEN w.ends_at <= ? THEN 1 ELSE w.count + 1 END,
  ends_at = CASE WHEN w.ends_at <= ? THEN EXCLUDED.ends_at ELSE w.ends_at END
RETURNING count, ends_at`;

// Oldest expired windows first, a bounded number; ends_at is checked again on
// the row itself, so a window a racing request has just renewed stays.
const POSTGRES_SWEEP = `
DELETE FROM throttle_windows
WHERE client IN (SELECT client FROM throttle_windows WHERE ends_at <= ? ORDER BY ends_at LIMIT ?) AND ends_at <= ?`;

/** Each process sweeps expired windows at most this often (Unix ms apart), started by a request, off its path. */
const POSTGRES_SWEEP_EVERY_MS = 60_000;
/** Rows one sweep deletes at most (one short statement); a sweep that deletes this many lets the next one start at once. */
const POSTGRES_SWEEP_LIMIT = 10_000;

interface PostgresThrottle extends Throttle {
  /** Deletes up to `limit` windows that have ended; returns how many. Requests start it themselves once a minute. */
  sweep(limit?: number): Promise<number>;
}

/**
 * `limit` requests per client per `windowMs`, counted in PostgreSQL for every
 * process on the database. Makes its table if missing (under the migration
 * lock). A database out of reach rejects hit() with DatabaseUnavailable: the
 * request that asked needs the database anyway, and answers 503.
 *
 * @example const throttle = await postgresThrottle(db, { limit: 120, windowMs: 60_000, now: clock }); // clock: () => Unix ms
 */
async function postgresThrottle(
  db: Db,
  options: ThrottleLimit & { now: () => number; onSweepError?: (error: unknown) => void },
): Promise<PostgresThrottle> {
  if (db.dialect !== 'postgres') throw new Error('postgresThrottle needs a PostgreSQL Db');
  const { limit, windowMs, now } = options;
  await db.exclusive((tx) => tx.exec(POSTGRES_TABLE));
  let nextSweepAt = now() + POSTGRES_SWEEP_EVERY_MS;
  let sweeping = false;
  const sweep = async (most = POSTGRES_SWEEP_LIMIT) => {
    const at = now();
    return db.run(POSTGRES_SWEEP, [at, most, at]);
  };
  const sweepInBackground = (at: number) => {
    sweeping = true;
    nextSweepAt = at + POSTGRES_SWEEP_EVERY_MS;
    sweep()
      .then((deleted) => {
        if (deleted >= POSTGRES_SWEEP_LIMIT) nextSweepAt = at; // more are waiting
      })
      .catch((error: unknown) => options.onSweepError?.(error))
      .finally(() => {
        sweeping = false;
      });
  };
  return {
    sweep,
    async hit(client) {
      const at = now();
      if (at >= nextSweepAt && !sweeping) sweepInBackground(at);
      const rows = await db.all<{ count: number; ends_at: number }>(POSTGRES_HIT, [client, at + windowMs, at, at]);
      const row = rows[0];
      if (!row) throw new Error('the throttle statement returned no row');
      return verdict(row.count, limit, Number(row.ends_at) - at);
    },
  };
}

// Redis: INCR, and the window's expiry set by the request that finds none
// (the first of a window, or a key that lost its expiry), in one script: one
// round trip, atomic. Redis's clock ends the window.
const REDIS_HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local remaining = redis.call('PTTL', KEYS[1])
if remaining < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  remaining = tonumber(ARGV[1])
end
return {count, remaining}`;

/** Runs a Lua script on one key and returns Redis's reply: what the Redis throttle needs of a client. */
type RedisScript = (script: string, key: string, args: readonly string[]) => Promise<unknown>;

/**
 * `limit` requests per client per `windowMs`, counted in Redis under
 * `keyPrefix` + the client's address, for every process on that Redis. A
 * failing `run` rejects hit(): what an outage then means (let the request
 * through, or 503) is the caller's choice.
 *
 * @example const throttle = redisThrottle({ run, keyPrefix: 'otpkit:throttle:', limit: 120, windowMs: 60_000 });
 */
function redisThrottle(options: ThrottleLimit & { run: RedisScript; keyPrefix: string }): Throttle {
  const { limit, windowMs, run, keyPrefix } = options;
  const args = [String(windowMs)];
  return {
    async hit(client) {
      const reply = await run(REDIS_HIT_SCRIPT, `${keyPrefix}${client}`, args);
      if (!Array.isArray(reply) || typeof reply[0] !== 'number' || typeof reply[1] !== 'number')
        throw new Error('the throttle script returned an unexpected reply');
      return verdict(reply[0], limit, reply[1]);
    },
  };
}

export type { PostgresThrottle, RedisScript, Throttle, ThrottleLimit, Verdict };
export { memoryThrottle, POSTGRES_SWEEP_EVERY_MS, postgresThrottle, REDIS_HIT_SCRIPT, redisThrottle };
