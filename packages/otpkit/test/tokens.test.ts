import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenSigner, randomId, timeOrderedId } from '../src/service/tokens.js';
import type { Amr } from '../src/store/store.js';

describe('ids', () => {
  it('timeOrderedId is a UUIDv7 carrying the time, so later ids sort after earlier ones', () => {
    const at = Date.UTC(2026, 10, 22);
    const id = timeOrderedId(at, randomBytes);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace('-', '').slice(0, 12), 16)).toBe(at);
    const ids = [at, at + 1, at + 1000, at + 86_400_000].map((t) => timeOrderedId(t, randomBytes));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(Array.from({ length: 100 }, () => timeOrderedId(at, randomBytes))).size).toBe(100);
  });

  it('randomId is a UUIDv4 from the random source it is given, and only from it', () => {
    expect(randomId(randomBytes)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const zeros = (n: number) => new Uint8Array(n);
    expect(randomId(zeros)).toBe('00000000-0000-4000-8000-000000000000');
    expect(timeOrderedId(1, zeros)).toBe('00000000-0001-7000-8000-000000000000');
  });
});

describe('access tokens', () => {
  const key = new Uint8Array(32).fill(7);
  const options = { issuer: 'otpkit-test', audience: 'otpkit-api', ttlSeconds: 900 };
  const signer = createTokenSigner(key, options);
  const claims = { userId: 'user-1', sessionId: 'session-1', amr: ['pwd', 'otp'] as Amr[] };
  const NOW = 1_800_000_000;

  /** A token made by jose itself, with some part changed. */
  async function foreign(change: { alg?: string; typ?: string; iss?: string; aud?: string; key?: Uint8Array }) {
    return new SignJWT({ sid: 'session-1', amr: ['pwd', 'otp'] })
      .setProtectedHeader({ alg: change.alg ?? 'HS256', typ: change.typ ?? 'at+jwt' })
      .setSubject('user-1')
      .setIssuer(change.iss ?? options.issuer)
      .setAudience(change.aud ?? options.audience)
      .setIssuedAt(NOW)
      .setExpirationTime(NOW + 900)
      .sign(change.key ?? key);
  }

  it('are HS256 at+jwt tokens with the RFC 9068 claims, which jose verifies', async () => {
    const token = await signer.sign(claims, NOW + 0.7);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'at+jwt' });
    expect(decodeJwt(token)).toEqual({
      sub: 'user-1',
      sid: 'session-1',
      amr: ['pwd', 'otp'],
      iss: 'otpkit-test',
      aud: 'otpkit-api',
      iat: NOW,
      exp: NOW + 900,
    });
    const verified = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      typ: 'at+jwt',
      issuer: options.issuer,
      audience: options.audience,
      currentDate: new Date((NOW + 899) * 1000),
    });
    expect(verified.payload.sub).toBe('user-1');
    expect(signer.verify(token, NOW + 899)).toEqual(claims);
    expect(await signer.verify(await foreign({}), NOW)).toEqual(claims); // the same token, made by jose
    const password = signer.sign({ ...claims, amr: ['pwd'] }, NOW);
    expect(signer.verify(password, NOW).amr).toEqual(['pwd']);
    const backup = signer.sign({ ...claims, amr: ['pwd', 'backup'] }, NOW);
    expect(signer.verify(backup, NOW).amr).toEqual(['pwd', 'backup']);
  });

  it('refuses an expired, tampered, unsigned or foreign token, another algorithm, type, issuer or audience', async () => {
    const token = await signer.sign(claims, NOW);
    const [header, payload] = token.split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), sub: 'user-2' })).toString('base64url')}.${token.split('.')[2]}`;
    const unsigned = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${payload}.`;
    const refused: [string, number][] = [
      [token, NOW + 900], // expired
      [tampered, NOW],
      [unsigned, NOW],
      [await foreign({ alg: 'HS512', key: new Uint8Array(64).fill(7) }), NOW],
      [await foreign({ typ: 'JWT' }), NOW],
      [await foreign({ iss: 'someone-else' }), NOW],
      [await foreign({ aud: 'another-api' }), NOW],
      [await foreign({ key: new Uint8Array(32).fill(8) }), NOW],
    ];
    const padded = `${token}=`; // the same signature, spelled another way
    const unknownAmr = signer.sign({ ...claims, amr: ['pwd', 'sms'] as unknown as Amr[] }, NOW);
    refused.push([padded, NOW], [unknownAmr, NOW], ['x'.repeat(5000), NOW], [`${token}.extra`, NOW]);
    for (const [t, at] of refused) {
      expect(() => signer.verify(t, at)).toThrow(expect.objectContaining({ code: 'TOKEN_INVALID' }));
    }
  });
});
