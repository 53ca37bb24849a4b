// Access tokens: JWTs signed with HS256 (RFC 7519, RFC 9068 "at+jwt"), with the
// algorithm, issuer, audience, expiry and type all checked (jose, in the tests,
// checks that they are what any JWT library expects). Refresh tokens and
// login challenges are opaque random strings stored only as SHA-256 hashes.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { RandomBytes } from '@otpkit/core';
import type { Amr } from '../store/store.js';
import { ServiceError } from './errors.js';

const ALGORITHM = 'HS256';
const TYPE = 'at+jwt';
/** 256 bits, as HS256 wants (RFC 7518 §3.2). */
const SIGNING_KEY_BYTES = 32;
/** Opaque tokens: 256 random bits. */
const TOKEN_BYTES = 32;

/** A random UUID (RFC 9562 §5.4, version 4) from the given CSPRNG. */
function randomId(random: RandomBytes): string {
  const bytes = random(16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  return uuidText(bytes);
}

/**
 * A UUIDv7 (RFC 9562 §5.7): the time in milliseconds, then 74 random bits.
 * For rows written on every login (sessions, audit events): ids that grow with
 * time land on the index's last page instead of a random one, which is fewer
 * pages for the database to write back.
 */
function timeOrderedId(nowMs: number, random: RandomBytes): string {
  const bytes = random(16);
  for (let i = 5, t = nowMs; i >= 0; i--, t = Math.floor(t / 256)) bytes[i] = t % 256;
  bytes[6] = (bytes[6]! & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  return uuidText(bytes);
}

function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

interface AccessClaims {
  userId: string;
  sessionId: string;
  /** How the session was authenticated (RFC 8176): 'pwd', then 'otp' or 'backup' for a second factor, or 'device' for a trusted device. */
  amr: Amr[];
}

/**
 * Signs and checks access tokens with node:crypto's HMAC, synchronously: a
 * token check costs microseconds on the event loop and never waits behind
 * password hashing on libuv's thread pool (where WebCrypto would put it).
 */
interface TokenSigner {
  sign(claims: AccessClaims, nowSeconds: number): string;
  /** The claims of a token we signed that is live at nowSeconds; TOKEN_INVALID otherwise. */
  verify(token: string, nowSeconds: number): AccessClaims;
}

/** Ours are about 400 characters; anything much longer is not ours, unread. */
const MAX_TOKEN_LENGTH = 4096;
const AMR_VALUES: readonly string[] = ['pwd', 'otp', 'backup', 'device'] satisfies Amr[];

function createTokenSigner(
  key: Uint8Array,
  options: { issuer: string; audience: string; ttlSeconds: number },
): TokenSigner {
  if (key.length < SIGNING_KEY_BYTES) {
    throw new Error(`the token signing key must be at least ${SIGNING_KEY_BYTES} bytes`);
  }
  const mac = (input: string) => createHmac('sha256', key).update(input).digest();
  const header = base64url({ alg: ALGORITHM, typ: TYPE });

  /** RFC 7519 §7.2 and RFC 8725: signature first (constant time), then every claim; undefined if anything is off. */
  function read(token: string, nowSeconds: number): AccessClaims | undefined {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return undefined;
    const [head, body, signature, ...rest] = token.split('.');
    if (head === undefined || body === undefined || signature === undefined || rest.length > 0) return undefined;
    const expected = mac(`${head}.${body}`);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    if (given.toString('base64url') !== signature) return undefined; // one spelling per token: no padding, no stray characters
    const h = parseJson(head);
    const p = parseJson(body);
    if (h?.alg !== ALGORITHM || h.typ !== TYPE || 'crit' in h || !p) return undefined;
    const now = Math.floor(nowSeconds);
    const audience = Array.isArray(p.aud) ? p.aud : [p.aud];
    const amr = p.amr;
    if (
      p.iss !== options.issuer ||
      !audience.includes(options.audience) ||
      typeof p.exp !== 'number' ||
      p.exp <= now ||
      typeof p.iat !== 'number' ||
      typeof p.sub !== 'string' ||
      typeof p.sid !== 'string' ||
      !Array.isArray(amr) ||
      !amr.every((m) => AMR_VALUES.includes(m))
    ) {
      return undefined;
    }
    return { userId: p.sub, sessionId: p.sid, amr: amr as Amr[] };
  }

  return {
    sign(claims, nowSeconds) {
      const iat = Math.floor(nowSeconds);
      const payload = base64url({
        sid: claims.sessionId,
        amr: claims.amr,
        sub: claims.userId,
        iss: options.issuer,
        aud: options.audience,
        iat,
        exp: iat + options.ttlSeconds,
      });
      return `${header}.${payload}.${mac(`${header}.${payload}`).toString('base64url')}`;
    },
    verify(token, nowSeconds) {
      const claims = read(token, nowSeconds);
      if (!claims) throw new ServiceError('TOKEN_INVALID', 'the access token is missing, expired or invalid');
      return claims;
    },
  };
}

function parseJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const base64url = (json: object) => Buffer.from(JSON.stringify(json)).toString('base64url');

/** A new opaque token and the hash that is stored for it. */
function opaqueToken(random: RandomBytes): { token: string; hash: string } {
  const token = Buffer.from(random(TOKEN_BYTES)).toString('base64url');
  return { token, hash: hashToken(token) };
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export type { AccessClaims, TokenSigner };
export { createTokenSigner, hashToken, opaqueToken, randomId, SIGNING_KEY_BYTES, timeOrderedId };
