// Access tokens: JWTs signed with HS256 (RFC 7519, RFC 9068 "at+jwt"), with the
// algorithm, issuer, audience, expiry and type all checked. Refresh tokens and
// login challenges are opaque random strings stored only as SHA-256 hashes.

import { createHash, randomBytes } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
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
  const bytes = randomBytes(16);
  bytes.writeUIntBE(nowMs, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
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
    ['sign', 'verify'],
  );
  return {
    sign: async (claims, nowSeconds) =>
      new SignJWT({ sid: claims.sessionId, amr: claims.secondFactor ? ['pwd', 'otp'] : ['pwd'] })
        .setProtectedHeader({ alg: ALGORITHM, typ: TYPE })
        .setSubject(claims.userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(Math.floor(nowSeconds))
        .setExpirationTime(Math.floor(nowSeconds) + options.ttlSeconds)
        .sign(await cryptoKey),
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
