// Several named authenticators per account, over HTTP on SQLite and the real
// PostgreSQL: adding one (from a session that passed 2FA), signing in with
// any of them, each with its own last counter, one shared attempt budget,
// renaming, removing (with proof from another one), the limit, and an
// enrollment made before authenticators existed (schema version 3).

import { randomBytes, randomUUID } from 'node:crypto';
import { base32Encode, generateKeyRingEntry, generateSecret, parseKeyRing, sealSecret } from '@otpkit/core';
import { describe, expect, it } from 'vitest';
import { DATABASES } from '../../../test/support/databases.js';
import { hashPassword } from '../src/service/passwords.js';
import { migrate } from '../src/store/migrate.js';
import { apiClient, PASSWORD } from './api.js';
import { START, serverPerSuite, startServer } from './server.js';

describe.each(DATABASES)('authenticators over %s', (_name, open) => {
  const { s } = serverPerSuite(open, { OTPKIT_MAX_AUTHENTICATORS: '3' });

  const { post, get, codeAt, withTwoFactor, challengeFor, passwordSession } = apiClient(() => s);

  /** A user with 2FA on and a second authenticator named `name`; the clock a step on, so codes are fresh. */
  async function withTwo(name = 'Phone') {
    const user = await withTwoFactor();
    const added = (await post('/api/totp/enroll', {}, user.token)).body;
    expect(added.name).toBe('Authenticator 2');
    const confirmed = await post('/api/totp/confirm', { code: codeAt(added.secret), name: ` ${name} ` }, user.token);
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.backupCodes).toBeUndefined(); // the first authenticator's codes stay
    expect(confirmed.body.authenticator).toMatchObject({ id: added.authenticatorId, name });
    s.clock.advance(30_000);
    const [first] = (await get('/api/totp/authenticators', user.token)).body.authenticators;
    return {
      ...user,
      first: { id: first.id as string, secret: user.secret },
      second: { id: added.authenticatorId as string, secret: added.secret as string },
    };
  }
  const lastCounters = async (username: string) => {
    const user = (await s.store.userByName(username))!;
    return Object.fromEntries((await s.store.factors(user.id)).map((f) => [f.id, f.lastCounter]));
  };

  it('adds a second authenticator from a session that passed 2FA; signs in with either; the event names which', async () => {
    const u = await withTwo();
    const list = (await get('/api/totp/authenticators', u.token)).body.authenticators;
    expect(list.map((a: { name: string }) => a.name)).toEqual(['Authenticator', 'Phone']);
    expect((await get('/api/totp/status', u.token)).body).toMatchObject({ enabled: true, backupCodesRemaining: 10 });
    for (const which of [u.second, u.first]) {
      const verified = await post('/api/auth/login/verify', {
        challenge: await challengeFor(u.username),
        code: codeAt(which.secret),
      });
      expect(verified.status).toBe(200);
      s.clock.advance(30_000);
    }
    const logins = (await s.store.audit({ userId: (await s.store.userByName(u.username))!.id })).filter(
      (e) => e.type === 'login',
    );
    expect(logins.slice(-2).map((e) => e.detail)).toEqual([
      { secondFactor: 'totp', authenticatorId: u.second.id, authenticator: 'Phone' },
      { secondFactor: 'totp', authenticatorId: u.first.id, authenticator: 'Authenticator' },
    ]);
  });

  it("a code from one authenticator spends only its own counter: the other's code of the same step still works", async () => {
    const u = await withTwo();
    const before = await lastCounters(u.username);
    expect((await post('/api/totp/validate', { code: codeAt(u.first.secret) }, u.token)).status).toBe(200);
    const after = await lastCounters(u.username);
    expect(after[u.second.id]).toBe(before[u.second.id]);
    expect(after[u.first.id]).toBeGreaterThan(before[u.first.id]!);
    // Same time step, the other authenticator: not a reuse.
    expect((await post('/api/totp/validate', { code: codeAt(u.second.secret) }, u.token)).status).toBe(200);
    expect((await post('/api/totp/validate', { code: codeAt(u.second.secret) }, u.token)).body.error.code).toBe(
      'CODE_REUSED',
    );
  });

  it('shares one attempt budget across authenticators under a parallel burst', async () => {
    const u = await withTwo();
    const wrong = String((Number(codeAt(u.first.secret)) + 1) % 1_000_000).padStart(6, '0');
    const other = String((Number(codeAt(u.second.secret)) + 1) % 1_000_000).padStart(6, '0');
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post('/api/totp/validate', { code: i % 2 ? wrong : other }, u.token)),
    );
    const codes = burst.map((r) => r.body?.error?.code);
    // A code that happens to be the other authenticator's right one would pass: neither wrong code is.
    expect(codes.filter((c) => c === 'CODE_WRONG')).toHaveLength(10);
    // Each counted answer says what it left: 9 down to 0 (locked, and until when), once each.
    const left = burst.filter((r) => r.body?.error?.code === 'CODE_WRONG').map((r) => r.body.error.attemptsLeft);
    expect(left.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const locking = burst.find((r) => r.body?.error?.attemptsLeft === 0)!;
    expect(locking.body.error.lockedUntil).toBe(new Date(s.clock.now() + 15 * 60_000).toISOString());
    expect(codes.filter((c) => c === 'SECOND_FACTOR_LOCKED')).toHaveLength(20);
    // Locked for both.
    expect((await post('/api/totp/validate', { code: codeAt(u.second.secret) }, u.token)).body.error.code).toBe(
      'SECOND_FACTOR_LOCKED',
    );
  });

  it('renames; refuses an unknown id and a bad name', async () => {
    const u = await withTwo();
    expect(
      (
        await post(
          '/api/totp/authenticators/rename',
          { id: u.second.id, name: 'YubiKey via Yubico Authenticator' },
          u.token,
        )
      ).status,
    ).toBe(204);
    expect((await get('/api/totp/authenticators', u.token)).body.authenticators[1].name).toBe(
      'YubiKey via Yubico Authenticator',
    );
    expect(
      (await post('/api/totp/authenticators/rename', { id: randomUUID(), name: 'x' }, u.token)).body.error.code,
    ).toBe('AUTHENTICATOR_NOT_FOUND');
    expect(
      (await post('/api/totp/authenticators/rename', { id: u.second.id, name: '   ' }, u.token)).body.error.code,
    ).toBe('INPUT_INVALID');
    expect(
      (await post('/api/totp/authenticators/rename', { id: u.second.id, name: 'a\u202eb' }, u.token)).body.error.code,
    ).toBe('INPUT_INVALID');
    const events = await s.store.audit({ userId: (await s.store.userByName(u.username))!.id });
    expect(events.some((e) => e.type === 'authenticator_renamed')).toBe(true);
  });

  it('removes one with a code from another (not its own), ending other sessions; the last one turns 2FA off', async () => {
    const u = await withTwo();
    const elsewhere = await post('/api/auth/login/verify', {
      challenge: await challengeFor(u.username),
      code: codeAt(u.first.secret),
    });
    s.clock.advance(30_000);
    const own = await post(
      '/api/totp/authenticators/remove',
      { id: u.second.id, code: codeAt(u.second.secret) },
      u.token,
    );
    expect(own.body.error.code).toBe('CODE_WRONG'); // its own code proves nothing about the rest
    const removed = await post(
      '/api/totp/authenticators/remove',
      { id: u.second.id, code: codeAt(u.first.secret) },
      u.token,
    );
    expect(removed.body).toEqual({ twoFactorEnabled: true });
    expect((await get('/api/auth/me', elsewhere.body.accessToken)).status).toBe(401);
    expect(
      (await get('/api/totp/authenticators', u.token)).body.authenticators.map((a: { id: string }) => a.id),
    ).toEqual([u.first.id]);
    // The second one's codes no longer sign in.
    expect(
      (
        await post('/api/auth/login/verify', {
          challenge: await challengeFor(u.username),
          code: codeAt(u.second.secret),
        })
      ).body.error.code,
    ).toBe('CODE_WRONG');
    s.clock.advance(30_000);
    const last = await post(
      '/api/totp/authenticators/remove',
      { id: u.first.id, backupCode: u.backupCodes[0] },
      u.token,
    );
    expect(last.body).toEqual({ twoFactorEnabled: false });
    expect((await get('/api/totp/status', u.token)).body).toMatchObject({
      enabled: false,
      authenticators: [],
      backupCodesRemaining: 0,
    });
    await passwordSession(u.username); // a password alone signs in again
  });

  it('cancels a pending enrollment: its secret is gone, and the next enrollment is a new one', async () => {
    const u = await withTwo();
    const pending = (await post('/api/totp/enroll', {}, u.token)).body;
    expect((await post('/api/totp/enroll/cancel', undefined, u.token)).status).toBe(204);
    expect((await get('/api/totp/status', u.token)).body.pending).toBe(false);
    expect((await post('/api/totp/confirm', { code: codeAt(pending.secret) }, u.token)).body.error.code).toBe(
      'ENROLLMENT_NOT_STARTED',
    );
    expect((await post('/api/totp/enroll', {}, u.token)).body.secret).not.toBe(pending.secret);
    expect((await get('/api/totp/authenticators', u.token)).body.authenticators).toHaveLength(2); // the active ones stay
  });

  it("two removals racing never take the last two behind disable's back", async () => {
    for (let round = 0; round < 6; round++) {
      const u = await withTwo();
      const [a, b] = await Promise.all([
        post('/api/totp/authenticators/remove', { id: u.first.id, backupCode: u.backupCodes[0] }, u.token),
        post('/api/totp/authenticators/remove', { id: u.second.id, backupCode: u.backupCodes[1] }, u.token),
      ]);
      const answers = [a, b].filter((r) => r.status === 200).map((r) => r.body.twoFactorEnabled);
      const status = (await get('/api/totp/status', u.token)).body;
      const user = (await s.store.userByName(u.username))!;
      const disabled = (await s.store.audit({ userId: user.id })).filter((e) => e.type === 'two_factor_disabled');
      if (status.enabled) {
        // One removal won; the other was refused (the other one had gone meanwhile).
        expect(answers).toEqual([true]);
        expect(status.authenticators).toHaveLength(1);
        expect(disabled).toHaveLength(0);
      } else {
        // One removed its authenticator, then the other found its own the last and went by
        // disable's rules: 2FA off in the open, with its event, and no backup code left behind.
        expect(answers.sort()).toEqual([false, true]);
        expect(disabled).toHaveLength(1);
        expect(await s.store.backupCodes(user.id)).toEqual([]);
      }
    }
  });

  it('stops at the limit; a password-only session cannot add one', async () => {
    const u = await withTwo();
    const third = (await post('/api/totp/enroll', {}, u.token)).body;
    expect((await post('/api/totp/confirm', { code: codeAt(third.secret) }, u.token)).status).toBe(200);
    const refused = await post('/api/totp/enroll', {}, u.token);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('AUTHENTICATOR_LIMIT');
    const plain = await withTwoFactor();
    await post('/api/totp/disable', { backupCode: plain.backupCodes[0] }, plain.token);
    const session = await passwordSession(plain.username);
    expect((await post('/api/totp/enroll', {}, session.token)).status).toBe(200); // 2FA off: the first one
  });
});

describe.each(DATABASES)('an enrollment from schema version 3 on %s', (_name, open) => {
  it('keeps signing in, and can add a second authenticator, after the migration', async () => {
    const t = await open({ migrated: false });
    try {
      await migrate(t.db, START, { through: 3 });
      // What release 3 stored: a user with one active factor, keyed by the user, its last code spent.
      const keys = generateKeyRingEntry({ id: 'k1' });
      const secret = generateSecret();
      const [userId, factorId] = [randomUUID(), randomUUID()];
      const sealed = await sealSecret(await parseKeyRing(keys), secret, {
        associatedData: `user:${userId}/factor:${factorId}`,
      });
      const passwordHash = await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 }, (n) => new Uint8Array(randomBytes(n)));
      await t.db.run('INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)', [
        userId,
        'from-release-3',
        passwordHash,
        START,
      ]);
      const spent = Math.floor(START / 30_000);
      await t.db.run(
        `INSERT INTO totp_factors (user_id, id, status, sealed_secret, algorithm, digits, period_seconds, last_counter, created_at, confirmed_at)
         VALUES (?, ?, 'active', ?, 'SHA-1', 6, 30, ?, ?, ?)`,
        [userId, factorId, sealed, spent, START, START],
      );
      const s = await startServer(t, { OTPKIT_KEYS: keys }); // migrates to the current schema
      try {
        const { post, get, codeAt, challengeFor } = apiClient(s);
        const base32 = base32Encode(secret);
        const replay = await post('/api/auth/login/verify', {
          challenge: await challengeFor('from-release-3'),
          code: codeAt(base32, spent),
        });
        expect(replay.body.error.code).toBe('CODE_REUSED'); // its last counter came along
        s.clock.advance(30_000);
        const verified = await post('/api/auth/login/verify', {
          challenge: await challengeFor('from-release-3'),
          code: codeAt(base32),
        });
        expect(verified.status).toBe(200);
        const token = verified.body.accessToken;
        expect((await get('/api/totp/authenticators', token)).body.authenticators).toMatchObject([
          { id: factorId, name: 'Authenticator' },
        ]);
        expect((await post('/api/totp/enroll', {}, token)).body.name).toBe('Authenticator 2');
      } finally {
        await s.close();
      }
    } finally {
      await t.drop();
    }
  });
});
