// Configuration from the environment: the one table in the README, read here
// and nowhere else.

import { isAbsolute, resolve } from 'node:path';
import { type Algorithm, MAX_DIGITS, MIN_DIGITS } from '@otpkit/core';
import { OWASP_SCRYPT, type ScryptParams } from '../service/passwords.js';

interface Config {
  port: number;
  host: string;
  /** postgres://... for PostgreSQL; undefined for the embedded SQLite. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** OTPKIT_KEYS: the key ring; undefined to use (or create) dataDir/keys outside production. */
  keys: string | undefined;
  /** OTPKIT_TOKEN_KEY: base64 HS256 key; undefined to use (or create) dataDir/token-key outside production. */
  tokenKey: string | undefined;
  production: boolean;
  issuer: string;
  enrollment: { algorithm: Algorithm; digits: number; periodSeconds: number };
  rateLimitPerMinute: number | false;
  trustProxy: boolean;
  logLevel: string;
  scrypt: ScryptParams;
}

class ConfigError extends Error {
  override name = 'ConfigError';
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

const ALGORITHMS: Record<string, Algorithm> = { SHA1: 'SHA-1', SHA256: 'SHA-256', SHA512: 'SHA-512' };

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
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(cwd, dataDir),
    keys: env.OTPKIT_KEYS || undefined,
    tokenKey: env.OTPKIT_TOKEN_KEY || undefined,
    production: env.NODE_ENV === 'production',
    issuer: env.OTPKIT_ISSUER || 'otpkit',
    enrollment: {
      algorithm,
      digits: integer(env, 'OTPKIT_TOTP_DIGITS', 6, MIN_DIGITS, MAX_DIGITS),
      periodSeconds: integer(env, 'OTPKIT_TOTP_PERIOD', 30, 1, 3600),
    },
    rateLimitPerMinute: rateLimit === 0 ? false : rateLimit,
    trustProxy: env.OTPKIT_TRUST_PROXY === '1' || env.OTPKIT_TRUST_PROXY === 'true',
    logLevel: env.LOG_LEVEL || 'info',
    // Only tests lower this: OWASP's 2^17 costs about 0.3 s and 128 MiB per password check.
    scrypt: { ...OWASP_SCRYPT, N: 2 ** integer(env, 'OTPKIT_SCRYPT_LOG2N', 17, 10, 20) },
  };
}

export type { Config, Env };
export { ConfigError, readConfig };
