// Access tokens: JWTs signed with HS256 (RFC 7519, RFC 9068 "at+jwt"), with the
// algorithm, issuer, audience, expiry and type all checked. Refresh tokens and
// login challenges are opaque random strings stored only as SHA-256 hashes.

import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { jwtVerify } from 'jose';
import { ServiceError } from './errors.js';

const ALGORITHM = 'HS256';
const TYPE = 'at+jwt';
/** 256 bits, as HS256 wants (RFC 7518 §3.2). */
const SIGNING_KEY_BYTES = 32;
/** Opaque tokens: 256 random bits. */
const TOKEN_BYTES = 32;

/**
 * A UUIDv7 (RFC 9562 §5.7): the time in milliseconds, then 74 random bits.
 * For rows written on every login (sessions, audit events): ids that grow with
 * time land on the index's last page instead of a random one, which is fewer
 * pages for the database to write back.
 */
function timeOrderedId(nowMs: number): string {
  // A random UUIDv4 (from Node's pooled entropy) has the v7 layout after its
  // version digit: put the time in front and a 7 in the version's place.
  const time = nowMs.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8)}-7${randomUUID().slice(15)}`;
}

interface AccessClaims {
  userId: string;
  sessionId: string;
  /** Whether this session passed a second factor. */
  secondFactor: boolean;
}

interface TokenSigner {
  sign(claims: AccessClaims, nowSeconds: number): Promise<string>;
  verify(token: string, nowSeconds: number): Promise<AccessClaims>;
}

function createTokenSigner(
  key: Uint8Array,
  options: { issuer: string; audience: string; ttlSeconds: number },
): TokenSigner {
  if (key.length < SIGNING_KEY_BYTES) {
    throw new Error(`the token signing key must be at least ${SIGNING_KEY_BYTES} bytes`);
  }
  // Imported once: jose would otherwise import the raw key on every call.
  const cryptoKey = globalThis.crypto.subtle.importKey(
    'raw',
    new Uint8Array(key),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['verify'],
  );
  // Signed here, verified by jose. A token we sign has one fixed shape, and
  // node:crypto's HMAC costs the event loop ~5 us where jose's WebCrypto
  // signing costs ~35 us (a thread-pool hand-off), on every sign-in and refresh.
  const header = base64url({ alg: ALGORITHM, typ: TYPE });
  return {
    async sign(claims, nowSeconds) {
      const iat = Math.floor(nowSeconds);
      const payload = base64url({
        sid: claims.sessionId,
        amr: claims.secondFactor ? ['pwd', 'otp'] : ['pwd'],
        sub: claims.userId,
        iss: options.issuer,
        aud: options.audience,
        iat,
        exp: iat + options.ttlSeconds,
      });
      const signature = createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url');
      return `${header}.${payload}.${signature}`;
    },
    async verify(token, nowSeconds) {
      try {
        const { payload } = await jwtVerify(token, await cryptoKey, {
          algorithms: [ALGORITHM],
          issuer: options.issuer,
          audience: options.audience,
          typ: TYPE,
          currentDate: new Date(nowSeconds * 1000),
          requiredClaims: ['sub', 'exp', 'iat'],
        });
        if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || !Array.isArray(payload.amr)) {
          throw new Error('claims');
        }
        return { userId: payload.sub, sessionId: payload.sid, secondFactor: payload.amr.includes('otp') };
      } catch {
        throw new ServiceError('TOKEN_INVALID', 'the access token is missing, expired or invalid');
      }
    },
  };
}

const base64url = (json: object) => Buffer.from(JSON.stringify(json)).toString('base64url');

/** A new opaque token and the hash that is stored for it. */
function opaqueToken(): { token: string; hash: string } {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, hash: hashToken(token) };
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export type { AccessClaims, TokenSigner };
export { createTokenSigner, hashToken, opaqueToken, SIGNING_KEY_BYTES, timeOrderedId };
