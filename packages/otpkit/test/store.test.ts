// One contract for the store, run against SQLite and the real PostgreSQL:
// every atomic claim holds under racing callers.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, freshPostgres, hasPostgres, type TestDb } from '../../../test/support/databases.js';
import { migrate, migrations } from '../src/store/migrate.js';
import { type BudgetPolicy, createStore, type NewSession, type Spend, type Store } from '../src/store/store.js';

const POLICY: BudgetPolicy = {
  attemptsPerLock: 10,
  firstLockMs: 15 * 60_000,
  maxLockMs: 24 * 3_600_000,
  permanentAfter: 100,
};
const PASSWORDS = { limit: 3, windowMs: 60_000 };
const NOW = 1_750_000_000_000;

// better-sqlite3 waits for a lock by blocking its thread, so two SQLite
// connections in one process cannot race; two PostgreSQL pools can.
it.runIf(hasPostgres)(
  'PostgreSQL: two processes migrating a new database together apply each migration once',
  async () => {
    const t = await freshPostgres({ migrated: false });
    try {
      const [a, b] = await Promise.all([migrate(t.db, NOW), migrate(t.reopen(), NOW)]);
      expect([...a, ...b].sort()).toEqual(migrations('postgres').map((m) => m.name));
    } finally {
      await t.drop();
    }
  },
);

// What a second step updates (budget, last counter, challenge attempts) has
// room on its page, so the update writes no index entry (bench/server.ts
// measures what this saves PostgreSQL); SQLite is not given the migration.
it.runIf(hasPostgres)('PostgreSQL: the tables a sign-in updates leave room for HOT updates', async () => {
  const t = await freshPostgres();
  try {
    const rows = await t.db.all<{ relname: string; reloptions: string[] }>(
      `SELECT relname, reloptions FROM pg_class WHERE relnamespace = ?::regnamespace
       AND relname IN ('users', 'totp_factors', 'login_challenges') ORDER BY relname`,
      [t.schema!],
    );
    expect(rows.map((r) => [r.relname, r.reloptions])).toEqual([
      ['login_challenges', ['fillfactor=80']],
      ['totp_factors', ['fillfactor=80']],
      ['users', ['fillfactor=80']],
    ]);
  } finally {
    await t.drop();
  }
  expect(migrations('sqlite').some((m) => m.name.includes('postgres'))).toBe(false);
});

// Version 8 rebuilds refresh_tokens on SQLite (drops a key on PostgreSQL):
// a session from before it refreshes as it did.
it.each(DATABASES)('%s: a refresh token from schema 7 still rotates after migration 8', async (_name, open) => {
  const t = await open({ migrated: false });
  try {
    await migrate(t.db, NOW, { through: 7 });
    const store = createStore(t.db, POLICY, PASSWORDS);
    const id = randomUUID();
    await store.createUser({ id, username: `u-${id}`, passwordHash: 'h', now: NOW });
    const session = { id: `s-${id}`, userId: id, amr: ['pwd'] as NewSession['amr'], epoch: 0 };
    await store.createSession({
      ...session,
      tokenHash: `r1-${id}`,
      now: NOW,
      expiresAt: NOW + 1000,
      sessionExpiresAt: NOW + 5000,
    });
    expect(await migrate(t.db, NOW)).toEqual(
      migrations(t.db.dialect)
        .filter((m) => m.version > 7)
        .map((m) => m.name),
    );
    const next = { tokenHash: `r2-${id}`, now: NOW + 1, expiresAt: NOW + 2000 };
    expect(await store.useRefreshToken(`r1-${id}`, next)).toMatchObject({ status: 'ok', sessionId: `s-${id}` });
    expect((await store.useRefreshToken(`r1-${id}`, { ...next, tokenHash: `r3-${id}` })).status).toBe('reused');
  } finally {
    await t.drop();
  }
});

describe.each(DATABASES)('store on %s', (_name, open) => {
  let t: TestDb;
  let store: Store;
  beforeAll(async () => {
    t = await open();
    store = createStore(t.db, POLICY, PASSWORDS);
  });
  afterAll(() => t.drop());

  async function user(): Promise<string> {
    const id = randomUUID();
    expect(await store.createUser({ id, username: `u-${id}`, passwordHash: 'h', now: NOW })).toBe(true);
    return id;
  }

  /** A live challenge's user and factor (read only). */
  const liveChallenge = (tokenHash: string, now = NOW) => store.loginChallenge({ tokenHash, now, maxAttempts: 5 });
  /** A checked second factor that failed, settled as the service settles it: counted, or not (false). */
  const counted = (userId: string, challengeHash?: string, now = NOW) =>
    store.settleSecondFactor({
      userId,
      now,
      ...(challengeHash ? { challenge: { tokenHash: challengeHash, maxAttempts: 5 } } : {}),
      outcome: {
        passed: false,
        failed: auditEvent(userId, 'second_factor_failed'),
        locked: auditEvent(userId, 'second_factor_locked'),
      },
    });
  const fail = async (userId: string, challengeHash?: string, now = NOW) =>
    (await counted(userId, challengeHash, now)) !== false;
  const auditEvent = (userId: string, type: 'second_factor_failed' | 'second_factor_locked') => ({
    id: randomUUID(),
    at: NOW,
    type,
    userId,
    ip: null,
    detail: type === 'second_factor_failed' ? { method: 'totp', reason: 'wrong' } : null,
  });

  /** A pending factor's fields for putPendingFactor (the sealed secret is a stand-in). */
  const pendingFactor = (userId: string, id: string = randomUUID(), sealedSecret = 's') => ({
    id,
    userId,
    name: 'Authenticator',
    sessionId: null,
    sealedSecret,
    algorithm: 'SHA-1',
    digits: 6,
    periodSeconds: 30,
    now: NOW,
  });

  async function activeFactor(userId: string, counter = 5): Promise<string> {
    const factorId = randomUUID();
    await store.putPendingFactor(pendingFactor(userId, factorId));
    expect(
      await store.activateFactor({
        userId,
        factorId,
        counter,
        name: 'Phone',
        maxActive: 5,
        backupCodes: { hashes: ['a', 'b'], ids: [randomUUID(), randomUUID()] },
        now: NOW,
      }),
    ).toBe(true);
    return factorId;
  }

  it('migrates once, also when two processes start together', async () => {
    expect(await migrate(t.db, NOW)).toEqual([]);
  });

  it('keeps usernames and user ids unique', async () => {
    const id = randomUUID();
    expect(await store.createUser({ id, username: 'same', passwordHash: 'h', now: NOW })).toBe(true);
    expect(await store.createUser({ id: randomUUID(), username: 'same', passwordHash: 'h', now: NOW })).toBe(false);
    expect(await store.createUser({ id, username: `other-${id}`, passwordHash: 'h', now: NOW })).toBe(false);
    expect((await store.userByName('same'))?.username).toBe('same');
    expect(await store.userByName(`other-${id}`)).toBeUndefined();
  });

  it('keeps a pending factor when asked again, and activates it once', async () => {
    const userId = await user();
    const first = await store.putPendingFactor(pendingFactor(userId, 'f1', 's1'));
    const second = await store.putPendingFactor(pendingFactor(userId, 'f2', 's2'));
    expect(second).toEqual(first);
    const activate = () =>
      store.activateFactor({
        userId,
        factorId: 'f1',
        counter: 9,
        name: 'Phone',
        maxActive: 5,
        backupCodes: { hashes: ['x'], ids: [randomUUID()] },
        now: NOW,
      });
    expect(await Promise.all([activate(), activate(), activate()])).toEqual(
      expect.arrayContaining([true, false, false]),
    );
    expect((await store.factors(userId))[0]?.status).toBe('active');
    expect(await store.backupCodes(userId)).toHaveLength(1);
  });

  it('a failed activation leaves nothing half-written', async () => {
    const userId = await user();
    await store.putPendingFactor(pendingFactor(userId));
    expect(
      await store.activateFactor({
        userId,
        factorId: 'wrong-id',
        counter: 1,
        name: 'Phone',
        maxActive: 5,
        backupCodes: { hashes: ['x'], ids: [randomUUID()] },
        now: NOW,
      }),
    ).toBe(false);
    expect((await store.factors(userId))[0]?.status).toBe('pending');
    expect(await store.backupCodes(userId)).toEqual([]);
  });

  /** A passed second factor, settled as the service settles it. */
  const accept = (userId: string, spend: Spend, extra: { challengeHash?: string; session?: NewSession } = {}) =>
    store.settleSecondFactor({
      userId,
      now: NOW,
      ...(extra.challengeHash ? { challenge: { tokenHash: extra.challengeHash, maxAttempts: 5 } } : {}),
      outcome: { passed: true, spend, ...(extra.session ? { session: extra.session } : {}), audit: [] },
    });
  const session = (id: string, userId: string, expiresAt = NOW + 1000): NewSession => ({
    id,
    userId,
    amr: ['pwd', 'otp'],
    epoch: 0,
    tokenHash: `${id}-r1`,
    now: NOW,
    expiresAt,
    sessionExpiresAt: NOW + 100_000,
  });

  it('spends a counter for exactly one of 50 racing callers, and never an older one', async () => {
    const userId = await user();
    const factorId = await activeFactor(userId, 5);
    const results = await Promise.all(Array.from({ length: 50 }, () => accept(userId, { factorId, counter: 7 })));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await accept(userId, { factorId, counter: 6 })).toBe(false);
    expect(await accept(userId, { factorId, counter: 8 })).toBe(true);
  });

  it('spends a backup code for exactly one of 30 racing callers', async () => {
    const userId = await user();
    await activeFactor(userId);
    const [code] = await store.backupCodes(userId);
    const results = await Promise.all(Array.from({ length: 30 }, () => accept(userId, { backupCodeId: code!.id })));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await store.backupCodes(userId)).find((c) => c.id === code!.id)?.usedAt).toBe(NOW);
  });

  it('keeps each of many concurrent writes all or nothing, whatever the others do', async () => {
    // SQLite commits the writes of one event-loop turn together: one that fails
    // (a taken name, an aborted batch, a bad statement) must take nothing else down.
    const id = randomUUID();
    const named = (name: string) => store.createUser({ id: randomUUID(), username: name, passwordHash: 'h', now: NOW });
    const aborted = t.db.batch([
      {
        sql: 'INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)',
        params: [id, `x-${id}`, 'h', NOW],
      },
      { sql: 'UPDATE users SET failed_attempts = 1 WHERE id = ?', params: ['nobody'], expectChanges: 1 },
    ]);
    const broken = t.db.run('INSERT INTO no_such_table VALUES (1)');
    const results = await Promise.allSettled([named(`a-${id}`), named(`a-${id}`), aborted, broken, named(`b-${id}`)]);
    const outcomes = results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'));
    expect([outcomes[0], outcomes[1]].sort()).toEqual([false, true]); // one of the two takes the name
    expect(outcomes.slice(2)).toEqual([false, 'rejected', true]);
    expect(await store.userByName(`a-${id}`)).toBeDefined();
    expect(await store.userByName(`b-${id}`)).toBeDefined();
    expect(await store.userByName(`x-${id}`)).toBeUndefined(); // the aborted batch's insert rolled back
  });

  it('lets a burst of 100 failures through the attempt budget 10 at a time, doubling the lock to 24 h, then for good', async () => {
    const userId = await user();
    let now = NOW;
    const locks: number[] = [];
    for (let round = 0; round < 10; round++) {
      const settled = await Promise.all(Array.from({ length: 100 }, () => fail(userId, undefined, now)));
      expect(settled.filter(Boolean)).toHaveLength(10);
      const held = (await store.userById(userId))!;
      locks.push(held.lockedUntil - now);
      if (round === 9) expect(held.lockedPermanently).toBe(true);
      now = held.lockedUntil;
    }
    const minute = 60_000;
    expect(locks.slice(0, 9)).toEqual([15, 30, 60, 120, 240, 480, 960, 1440, 1440].map((m) => m * minute));
    expect(await fail(userId, undefined, now + 365 * 24 * 3_600_000)).toBe(false);
    const factorId = await activeFactor(userId);
    expect(await accept(userId, { factorId, counter: 6 })).toBe(false); // a pass does not count while locked for good
    expect(await fail(userId, undefined, now + 365 * 24 * 3_600_000)).toBe(false);
    expect(await store.unlock(userId)).toBe(true);
    expect(await fail(userId, undefined, now)).toBe(true);
    expect(await store.userById(userId)).toMatchObject({ failedAttempts: 1, lockedUntil: 0, lockedPermanently: false });
  });

  it('a pass counts only while the budget is open; then it resets the count', async () => {
    const userId = await user();
    const factorId = await activeFactor(userId);
    for (let i = 0; i < 9; i++) expect(await fail(userId)).toBe(true);
    expect(await accept(userId, { factorId, counter: 6 })).toBe(true);
    expect(await fail(userId)).toBe(true);
    expect(await store.userById(userId)).toMatchObject({ failedAttempts: 1, lockedUntil: 0 });
    for (let i = 2; i <= 10; i++) expect(await fail(userId)).toBe(true);
    expect(await accept(userId, { factorId, counter: 7 })).toBe(false); // locked: the code is not even spent
    expect((await store.factors(userId))[0]?.lastCounter).toBe(6);
  });

  it("answers what a counted failure leaves: attempts before the lock, the challenge's, and the lock's end", async () => {
    const userId = await user();
    await activeFactor(userId, 5);
    await store.createChallenge({ tokenHash: `left-${userId}`, userId, now: NOW, expiresAt: NOW + 60_000 });
    expect(await counted(userId, `left-${userId}`)).toEqual({ attemptsLeft: 9, challengeAttemptsLeft: 4 });
    for (let i = 0; i < 8; i++) await fail(userId);
    expect(await counted(userId)).toEqual({ attemptsLeft: 0, lockedUntil: NOW + POLICY.firstLockMs });
  });

  it('counts challenge attempts when settled, and a challenge is used once', async () => {
    const userId = await user();
    await activeFactor(userId, 5);
    await store.createChallenge({ tokenHash: `c-${userId}`, userId, now: NOW, expiresAt: NOW + 300_000 });
    expect(await liveChallenge(`c-${userId}`)).toMatchObject({ user: { id: userId }, factors: [{ status: 'active' }] });
    const failures = await Promise.all(Array.from({ length: 8 }, () => fail(userId, `c-${userId}`)));
    expect(failures.filter(Boolean)).toHaveLength(5); // five attempts a challenge
    expect(await liveChallenge(`c-${userId}`)).toBeUndefined();
    await store.createChallenge({ tokenHash: `d-${userId}`, userId, now: NOW, expiresAt: NOW + 300_000 });
    expect(await liveChallenge(`d-${userId}`, NOW + 300_000)).toBeUndefined(); // expired
    // Five fresh codes race on one challenge: one wins, and the losers' counters,
    // sessions and everything else roll back with their settlement.
    const factorId = (await store.factors(userId))[0]!.id;
    const epoch = (await store.userById(userId))!.sessionEpoch; // turning 2FA on moved it on
    const uses = await Promise.all(
      [6, 7, 8, 9, 10].map((counter) =>
        accept(
          userId,
          { factorId, counter },
          { challengeHash: `d-${userId}`, session: { ...session(`s${counter}-${userId}`, userId), epoch } },
        ),
      ),
    );
    expect(uses.filter(Boolean)).toHaveLength(1);
    const winner = [6, 7, 8, 9, 10][uses.indexOf(true)]!;
    expect((await store.factors(userId))[0]?.lastCounter).toBe(winner);
    for (const counter of [6, 7, 8, 9, 10]) {
      expect((await store.liveSession(`s${counter}-${userId}`, NOW)) !== undefined).toBe(counter === winner);
    }
    expect(await liveChallenge(`d-${userId}`)).toBeUndefined(); // used
  });

  it('settles exactly the budget of 40 racing failures on 40 challenges, numbering each and logging the one lock', async () => {
    const userId = await user();
    await activeFactor(userId);
    const hashes = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await store.createChallenge({ tokenHash: `r${i}-${userId}`, userId, now: NOW, expiresAt: NOW + 300_000 });
        return `r${i}-${userId}`;
      }),
    );
    const settled = await Promise.all(hashes.map((hash) => fail(userId, hash)));
    expect(settled.filter(Boolean)).toHaveLength(10);
    expect(await store.userById(userId)).toMatchObject({ failedAttempts: 10, lockedUntil: NOW + POLICY.firstLockMs });
    const events = await store.audit({ userId });
    const attempts = events.filter((e) => e.type === 'second_factor_failed').map((e) => e.detail?.attempt);
    expect(attempts.sort((x, y) => Number(x) - Number(y))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(events.filter((e) => e.type === 'second_factor_locked')).toEqual([
      expect.objectContaining({ detail: { attempts: 10 } }),
    ]);
    // Each challenge spent one of its five attempts, the refused ones too: all are still live.
    const live = await Promise.all(hashes.map((hash) => liveChallenge(hash)));
    expect(live.filter(Boolean)).toHaveLength(40);
  });

  it('rotates refresh tokens once, and a reused one revokes its session', async () => {
    const userId = await user();
    await store.createSession(session(`s-${userId}`, userId));
    const rotations = await Promise.all(
      ['a', 'b', 'c'].map((n) =>
        store.useRefreshToken(`s-${userId}-r1`, { tokenHash: `r2${n}-${userId}`, now: NOW, expiresAt: NOW + 1000 }),
      ),
    );
    expect(rotations.filter((r) => r.status === 'ok')).toHaveLength(1);
    // The first loser to read finds the token used and revokes the session; a
    // loser that reads after that finds the session gone, which is 'invalid'.
    const losers = rotations.filter((r) => r.status !== 'ok').map((r) => r.status);
    expect(losers).toContain('reused');
    expect(losers.every((s) => s === 'reused' || s === 'invalid')).toBe(true);
    expect((await store.liveSession(`s-${userId}`, NOW)) !== undefined).toBe(false);
    const winner = ['a', 'b', 'c'][rotations.findIndex((r) => r.status === 'ok')];
    expect(
      (await store.useRefreshToken(`r2${winner}-${userId}`, { tokenHash: 'x', now: NOW, expiresAt: NOW + 1000 }))
        .status,
    ).toBe('invalid');
    expect((await store.useRefreshToken('unknown', { tokenHash: 'y', now: NOW, expiresAt: NOW })).status).toBe(
      'invalid',
    );
  });

  it('does not rotate an expired refresh token, and calls that invalid, not reuse', async () => {
    const userId = await user();
    await store.createSession(session(`e-${userId}`, userId, NOW + 10));
    expect(
      (await store.useRefreshToken(`e-${userId}-r1`, { tokenHash: `e2-${userId}`, now: NOW + 10, expiresAt: NOW + 20 }))
        .status,
    ).toBe('invalid');
    expect((await store.liveSession(`e-${userId}`, NOW)) !== undefined).toBe(true);
  });

  it('prunes what has expired, at most `limit` rows of each kind a run, and nothing live', async () => {
    const userId = await user();
    const later = NOW + 10_000_000;
    for (let i = 0; i < 5; i++) {
      await store.createChallenge({ tokenHash: `old-c${i}-${userId}`, userId, now: NOW, expiresAt: NOW + i });
      await store.createSession({ ...session(`old-s${i}-${userId}`, userId), sessionExpiresAt: NOW + i });
    }
    await store.createChallenge({ tokenHash: `live-c-${userId}`, userId, now: NOW, expiresAt: later + 1 });
    await store.createSession({ ...session(`live-s-${userId}`, userId, later + 1), sessionExpiresAt: later + 1 });
    let removed = 0;
    for (let run = 0; run < 10; run++) {
      const n = await store.prune(later, 2);
      expect(n).toBeLessThanOrEqual(6); // 2 of each of three kinds
      removed += n;
      if (n === 0) break;
    }
    expect(removed).toBeGreaterThanOrEqual(15); // 5 challenges, 5 sessions, their 5 refresh tokens
    expect((await store.liveSession(`live-s-${userId}`, later)) !== undefined).toBe(true);
    expect(await liveChallenge(`live-c-${userId}`, later)).toBeDefined();
    expect(await liveChallenge(`old-c0-${userId}`, NOW - 1)).toBeUndefined(); // gone, not just expired
  });

  it('refuses a refresh token whose session is gone, and sweeps it at its own expiry', async () => {
    const userId = await user();
    await store.createSession(session(`gone-${userId}`, userId));
    await t.db.run('DELETE FROM sessions WHERE id = ?', [`gone-${userId}`]);
    const next = { tokenHash: `gone-next-${userId}`, now: NOW, expiresAt: NOW + 1000 };
    expect((await store.useRefreshToken(`gone-${userId}-r1`, next)).status).toBe('invalid');
    await store.prune(NOW + 1000, 100);
    const left = await t.db.all('SELECT 1 FROM refresh_tokens WHERE token_hash = ?', [`gone-${userId}-r1`]);
    expect(left).toEqual([]);
  });

  // A row deleted from a parent table makes an ON DELETE CASCADE key look for
  // its children: without an index that is a scan of the whole child table per
  // row, and the sweep of expired sessions took 10 s over 100,000 refresh
  // tokens. Users are the one parent otpkit never deletes (accounts are
  // deactivated), so their keys need no index for it.
  it('has an index for every foreign key whose parent rows are deleted', async () => {
    const keys =
      t.db.dialect === 'postgres'
        ? await t.db.all<{ child: string; col: string; parent: string }>(
            `SELECT ch.relname AS child, a.attname AS col, p.relname AS parent
             FROM pg_constraint c JOIN pg_class ch ON ch.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
             WHERE c.contype = 'f' AND c.connamespace = ?::regnamespace
             AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])`,
            [t.schema!],
          )
        : await t.db.all<{ child: string; col: string; parent: string }>(
            `SELECT m.name AS child, f."from" AS col, f."table" AS parent
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f
             WHERE m.type = 'table' AND NOT EXISTS (
               SELECT 1 FROM pragma_index_list(m.name) l, pragma_index_info(l.name) i
               WHERE i.seqno = 0 AND i.name = f."from")`,
          );
    expect(keys.filter((k) => k.parent !== 'users')).toEqual([]);
  });

  it('claims password attempts before the KDF: the limit holds for a burst, a refund gives one back, the window ends', async () => {
    const userId = await user();
    const claims = await Promise.all(Array.from({ length: 10 }, () => store.claimPasswordAttempt(userId, NOW)));
    expect(claims.filter((c) => c.ok)).toHaveLength(PASSWORDS.limit);
    expect(claims.find((c) => !c.ok)).toEqual({ ok: false, retryAt: NOW + PASSWORDS.windowMs });
    await store.refundPasswordAttempt(userId);
    expect((await store.claimPasswordAttempt(userId, NOW + 1)).ok).toBe(true);
    expect((await store.claimPasswordAttempt(userId, NOW + 2)).ok).toBe(false);
    expect((await store.claimPasswordAttempt(userId, NOW + PASSWORDS.windowMs)).ok).toBe(true); // a new window
  });

  it('tells which key ids stored secrets and unused backup codes depend on, also ids outside the ring', async () => {
    const userId = await user();
    const factorId = randomUUID();
    await store.putPendingFactor(pendingFactor(userId, factorId, 'v1.K_x-1.nonce.body'));
    await store.activateFactor({
      userId,
      factorId,
      counter: 1,
      name: 'Phone',
      maxActive: 5,
      backupCodes: {
        hashes: ['v1.kOld.h1', 'v1.k_2.h2', 'v1.k_2.h3'],
        ids: [randomUUID(), randomUUID(), randomUUID()],
      },
      now: NOW,
    });
    const usage = await store.keyUsage(['k_2', 'k%']);
    expect(usage.secrets.get('K_x-1')).toBe(1);
    expect(usage.secrets.get('k%')).toBe(0);
    expect(usage.backupCodeUsers.get('kOld')).toBeGreaterThanOrEqual(1);
    expect(usage.backupCodeUsers.get('k_2')).toBeGreaterThanOrEqual(1);
    expect((await store.factorSealedBy('K_x-1'))?.id).toBe(factorId);
    expect(await store.factorSealedBy('k_x-1')).toBeUndefined(); // case matters
  });

  it('stores audit events', async () => {
    const userId = await user();
    await store.addAudit({
      id: randomUUID(),
      at: NOW,
      type: 'login',
      userId,
      ip: '127.0.0.1',
      detail: { secondFactor: 'totp' },
    });
    expect(await store.audit({ userId })).toEqual([
      expect.objectContaining({ type: 'login', detail: { secondFactor: 'totp' } }),
    ]);
  });
});
