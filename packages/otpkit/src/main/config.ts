// Configuration from the environment: the one table in the README, read here
// and nowhere else.

import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { type Algorithm, MAX_DIGITS, MIN_DIGITS } from '@otpkit/core';
import { OWASP_SCRYPT, type ScryptParams } from '../service/passwords.js';
import { checkPolicy, DEFAULT_POLICY, type Policy, PolicyError } from '../service/policy.js';

/** How long otpkit waits on PostgreSQL before answering 503 DATABASE_UNAVAILABLE. */
interface DatabaseTimeouts {
  connectMs: number;
  statementMs: number;
}

/** Which peers may tell the client's address in X-Forwarded-For: a hop count or proxy addresses (CIDR too). */
type TrustProxy = false | number | string[];

interface Config {
  port: number;
  host: string;
  /** postgres://... for PostgreSQL; undefined for the embedded SQLite. */
  databaseUrl: string | undefined;
  databaseTimeouts: DatabaseTimeouts;
  dataDir: string;
  /** OTPKIT_KEYS: the key ring; undefined to use (or create) dataDir/keys outside production. */
  keys: string | undefined;
  /** OTPKIT_TOKEN_KEY: base64 HS256 key; undefined to use (or create) dataDir/token-key outside production. */
  tokenKey: string | undefined;
  /** OTPKIT_ADMIN_TOKEN: the operator token of /api/admin/* (base64url, 32+ bytes); undefined: no admin API. */
  adminToken: string | undefined;
  production: boolean;
  issuer: string;
  enrollment: { algorithm: Algorithm; digits: number; periodSeconds: number };
  rateLimitPerMinute: number | false;
  /**
   * OTPKIT_REDIS_URL: the per-client throttle counts in this Redis (undefined:
   * in PostgreSQL, or in memory on SQLite); OTPKIT_REDIS_FAIL what the throttled
   * routes do while it is out of reach (open: let requests through uncounted;
   * closed: 503); OTPKIT_REDIS_KEY_PREFIX what otpkit's keys start with.
   */
  redis: { url: string; failClosed: boolean; keyPrefix: string } | undefined;
  trustProxy: TrustProxy;
  /** Lifetimes, tries and locks (service/policy.ts), from OTPKIT_* variables over the defaults. */
  policy: Policy;
  /** Password hashes (scrypt) computed at once; more wait in a short queue, beyond it 503. */
  passwordHashConcurrency: number;
  /** Failed passwords per account per window before the password step answers 429. */
  passwordFailures: { limit: number; windowMs: number };
  logLevel: string;
  scrypt: ScryptParams;
  /**
   * Where GET /metrics is served: nowhere (the default: never public by
   * accident), on the API's port (OTPKIT_METRICS=1), or on a listener of its
   * own at HOST (OTPKIT_METRICS_PORT; then not on the API's port).
   */
  metrics: false | 'api' | { port: number };
  /** SIGTERM or SIGINT: how long requests in flight may finish before their connections are cut. */
  shutdownTimeoutMs: number;
}

class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Start-up found something it must not run with (a key missing from the ring, a database it cannot reach): one line, exit 1. */
class StartError extends Error {
  override name = 'StartError';
}

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}`);
  return value;
}

/** OTPKIT_TRUST_PROXY: unset or 0 (trust nobody), a number of hops, or a comma-separated list of proxy addresses. */
function trustProxy(text: string | undefined): TrustProxy {
  if (text === undefined || text === '' || text === '0') return false;
  if (/^\d{1,2}$/.test(text)) return Number(text);
  const addresses = text.split(',').map((a) => a.trim());
  if (addresses.every((a) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(a) && a !== '')) return addresses;
  throw new ConfigError(
    'OTPKIT_TRUST_PROXY must be a number of proxy hops (1 for one nginx in front) or a comma-separated list of proxy addresses',
  );
}

const ALGORITHMS: Record<string, Algorithm> = { SHA1: 'SHA-1', SHA256: 'SHA-256', SHA512: 'SHA-512' };

/** The environment variable of each policy setting. */
const POLICY_VARIABLES: Readonly<Record<keyof Policy, string>> = {
  backupCodes: 'OTPKIT_BACKUP_CODES',
  maxAuthenticators: 'OTPKIT_MAX_AUTHENTICATORS',
  trustedDeviceDays: 'OTPKIT_TRUSTED_DEVICE_DAYS',
  requireTwoFactor: 'OTPKIT_REQUIRE_TWO_FACTOR',
  totpWindowSteps: 'OTPKIT_TOTP_WINDOW',
  challengeTtlSeconds: 'OTPKIT_CHALLENGE_TTL_SECONDS',
  challengeAttempts: 'OTPKIT_CHALLENGE_ATTEMPTS',
  accessTokenTtlSeconds: 'OTPKIT_ACCESS_TOKEN_TTL_SECONDS',
  refreshTokenTtlHours: 'OTPKIT_REFRESH_TOKEN_TTL_HOURS',
  sessionMaxAgeHours: 'OTPKIT_SESSION_MAX_AGE_HOURS',
  lockoutAttempts: 'OTPKIT_LOCKOUT_ATTEMPTS',
  lockoutFirstMinutes: 'OTPKIT_LOCKOUT_FIRST_MINUTES',
  lockoutMaxHours: 'OTPKIT_LOCKOUT_MAX_HOURS',
  lockoutPermanentAfter: 'OTPKIT_LOCKOUT_PERMANENT_AFTER',
};

/** The policy from the environment; one line naming the variable for a value out of range or in conflict. */
function policyFrom(env: Env): Policy {
  const given: Record<string, number | boolean> = {};
  for (const [name, variable] of Object.entries(POLICY_VARIABLES) as [keyof Policy, string][]) {
    const text = env[variable];
    if (text === undefined || text === '') continue;
    if (typeof DEFAULT_POLICY[name] === 'boolean') {
      if (!/^(1|0|true|false)$/.test(text)) throw new ConfigError(`${variable} must be 1 or 0`);
      given[name] = text === '1' || text === 'true';
      continue;
    }
    if (!/^\d{1,9}$/.test(text)) throw new ConfigError(`${variable} must be a whole number`);
    given[name] = Number(text);
  }
  try {
    return checkPolicy(given as Partial<Policy>);
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    // "lockoutAttempts must be ..." -> "OTPKIT_LOCKOUT_ATTEMPTS must be ...", each setting named by its variable.
    const named = error.message.replace(/\b[a-z][A-Za-z]+\b/g, (word) =>
      Object.hasOwn(POLICY_VARIABLES, word) ? POLICY_VARIABLES[word as keyof Policy] : word,
    );
    throw new ConfigError(named);
  }
}

/** 256 bits: an operator token no one guesses (generate one: openssl rand -base64 32 | tr '+/' '-_' | tr -d =). */
const ADMIN_TOKEN_BYTES = 32;

function adminTokenFrom(text: string | undefined): string | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(text) || Buffer.from(text, 'base64url').length < ADMIN_TOKEN_BYTES) {
    throw new ConfigError(`OTPKIT_ADMIN_TOKEN must be base64url of at least ${ADMIN_TOKEN_BYTES} random bytes`);
  }
  return text;
}

/** One core is kept for the event loop: a scrypt run keeps a core busy for a third of a second. */
function defaultHashConcurrency(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** OTPKIT_REDIS_URL, OTPKIT_REDIS_FAIL and OTPKIT_REDIS_KEY_PREFIX; undefined without a URL. */
function redisFrom(env: Env): Config['redis'] {
  const url = env.OTPKIT_REDIS_URL || undefined;
  if (url === undefined) return undefined;
  if (!/^rediss?:\/\//.test(url)) throw new ConfigError('OTPKIT_REDIS_URL must be a redis:// or rediss:// URL');
  const fail = (env.OTPKIT_REDIS_FAIL || 'open').toLowerCase();
  if (fail !== 'open' && fail !== 'closed') throw new ConfigError('OTPKIT_REDIS_FAIL must be open or closed');
  const keyPrefix = env.OTPKIT_REDIS_KEY_PREFIX ?? 'otpkit:';
  if (keyPrefix.length > 64) throw new ConfigError('OTPKIT_REDIS_KEY_PREFIX must be at most 64 characters');
  return { url, failClosed: fail === 'closed', keyPrefix };
}

/** OTPKIT_METRICS (unset, 0 or 1) and OTPKIT_METRICS_PORT (a port of its own, which wins). */
function metricsFrom(env: Env): Config['metrics'] {
  const on = env.OTPKIT_METRICS ?? '';
  if (on !== '' && on !== '0' && on !== '1') throw new ConfigError('OTPKIT_METRICS must be 0 or 1');
  if (env.OTPKIT_METRICS_PORT) return { port: integer(env, 'OTPKIT_METRICS_PORT', 0, 1, 65_535) };
  return on === '1' ? 'api' : false;
}

function readConfig(env: Env, cwd: string): Config {
  const algorithmText = (env.OTPKIT_TOTP_ALGORITHM ?? 'SHA1').toUpperCase().replace('-', '');
  const algorithm = ALGORITHMS[algorithmText];
  if (!algorithm) throw new ConfigError('OTPKIT_TOTP_ALGORITHM must be SHA1, SHA256 or SHA512');
  const dataDir = env.OTPKIT_DATA_DIR ?? 'data';
  const databaseUrl = env.OTPKIT_DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('OTPKIT_DATABASE_URL must be a postgres:// URL (leave it unset for SQLite)');
  }
  const rateLimit = integer(env, 'OTPKIT_RATE_LIMIT', 120, 0, 1_000_000);
  return {
    port: integer(env, 'PORT', 3000, 0, 65_535),
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    databaseTimeouts: {
      connectMs: integer(env, 'OTPKIT_DB_CONNECT_TIMEOUT_MS', 5_000, 100, 600_000),
      statementMs: integer(env, 'OTPKIT_DB_STATEMENT_TIMEOUT_MS', 5_000, 100, 600_000),
    },
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(cwd, dataDir),
    keys: env.OTPKIT_KEYS || undefined,
    tokenKey: env.OTPKIT_TOKEN_KEY || undefined,
    adminToken: adminTokenFrom(env.OTPKIT_ADMIN_TOKEN),
    production: env.NODE_ENV?.trim().toLowerCase() === 'production',
    issuer: env.OTPKIT_ISSUER || 'otpkit',
    enrollment: {
      algorithm,
      digits: integer(env, 'OTPKIT_TOTP_DIGITS', 6, MIN_DIGITS, MAX_DIGITS),
      periodSeconds: integer(env, 'OTPKIT_TOTP_PERIOD', 30, 1, 3600),
    },
    rateLimitPerMinute: rateLimit === 0 ? false : rateLimit,
    redis: redisFrom(env),
    trustProxy: trustProxy(env.OTPKIT_TRUST_PROXY),
    policy: policyFrom(env),
    passwordHashConcurrency: integer(env, 'OTPKIT_PASSWORD_HASH_CONCURRENCY', defaultHashConcurrency(), 1, 64),
    passwordFailures: {
      limit: integer(env, 'OTPKIT_PASSWORD_FAILURES', 10, 1, 1_000),
      windowMs: integer(env, 'OTPKIT_PASSWORD_FAILURE_WINDOW_MINUTES', 15, 1, 24 * 60) * 60_000,
    },
    logLevel: env.LOG_LEVEL || 'info',
    // Only tests lower this: OWASP's 2^17 costs about 0.3 s and 128 MiB per password check.
    scrypt: { ...OWASP_SCRYPT, N: 2 ** integer(env, 'OTPKIT_SCRYPT_LOG2N', 17, 10, 20) },
    metrics: metricsFrom(env),
    shutdownTimeoutMs: integer(env, 'OTPKIT_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
  };
}

export type { Config, DatabaseTimeouts, Env, TrustProxy };
export { ConfigError, readConfig, StartError };
