// What the service needs from storage, as atomic operations. Every check that
// security rests on (a counter claimed once, a backup code used once, an
// attempt budget, a single-use challenge, refresh-token reuse) is one
// conditional statement, so racing requests and processes cannot both win.

import type { Db, Statement } from './db.js';

interface User {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
  failedAttempts: number;
  lockedUntil: number;
  lockedPermanently: boolean;
}

interface Factor {
  id: string;
  userId: string;
  status: 'pending' | 'active';
  sealedSecret: string;
  algorithm: string;
  digits: number;
  periodSeconds: number;
  /** -1 before the first accepted code. */
  lastCounter: number;
  createdAt: number;
  confirmedAt: number | null;
}

interface BackupCode {
  id: string;
  codeHash: string;
  usedAt: number | null;
}

interface NewFactor {
  id: string;
  userId: string;
  sealedSecret: string;
  algorithm: string;
  digits: number;
  periodSeconds: number;
  now: number;
}

type AttemptClaim =
  /** `locks`: this claim reached the budget and set the lock (a success lifts it again). */
  { ok: true; attempt: number; locks: boolean } | { ok: false; lockedUntil: number; permanent: boolean };

type RefreshUse =
  | { status: 'ok'; sessionId: string; userId: string; secondFactor: boolean }
  | { status: 'reused'; sessionId: string; userId: string }
  | { status: 'invalid' };

interface AuditEvent {
  id: string;
  at: number;
  type: string;
  userId: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

/** Attempt-budget policy, stored per user as it advances (see claimAttempt). */
interface BudgetPolicy {
  /** Wrong codes between locks. */
  attemptsPerLock: number;
  firstLockMs: number;
  maxLockMs: number;
  /** From this many consecutive wrong codes, only an operator unlocks. */
  permanentAfter: number;
}

type UserRow = {
  id: string;
  username: string;
  password_hash: string;
  created_at: number;
  failed_attempts: number;
  locked_until: number;
  locked_permanently: number;
};
type FactorRow = {
  id: string;
  user_id: string;
  status: 'pending' | 'active';
  sealed_secret: string;
  algorithm: string;
  digits: number;
  period_seconds: number;
  last_counter: number;
  created_at: number;
  confirmed_at: number | null;
};

const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  createdAt: Number(r.created_at),
  failedAttempts: Number(r.failed_attempts),
  lockedUntil: Number(r.locked_until),
  lockedPermanently: Number(r.locked_permanently) === 1,
});
const toFactor = (r: FactorRow): Factor => ({
  id: r.id,
  userId: r.user_id,
  status: r.status,
  sealedSecret: r.sealed_secret,
  algorithm: r.algorithm,
  digits: Number(r.digits),
  periodSeconds: Number(r.period_seconds),
  lastCounter: Number(r.last_counter),
  createdAt: Number(r.created_at),
  confirmedAt: r.confirmed_at === null ? null : Number(r.confirmed_at),
});

const USER_COLUMNS = 'id, username, password_hash, created_at, failed_attempts, locked_until, locked_permanently';
const FACTOR_COLUMNS =
  'id, user_id, status, sealed_secret, algorithm, digits, period_seconds, last_counter, created_at, confirmed_at';

type ClaimedRow = { failed_attempts: number; locked_until: number };
type UserWithFactor = { user: User; factor: Factor | undefined };
type UserWithFactorRow = UserRow & { [K in keyof FactorRow as `f_${K}`]: FactorRow[K] | null };
const FACTOR_COLUMN_NAMES = FACTOR_COLUMNS.split(', ') as (keyof FactorRow)[];
/** SELECT ${USER_WITH_FACTOR} WHERE ...: a user and their factor, if any. */
const USER_WITH_FACTOR = `${[
  ...USER_COLUMNS.split(', ').map((c) => `u.${c}`),
  ...FACTOR_COLUMN_NAMES.map((c) => `f.${c} AS f_${c}`),
].join(', ')} FROM users u LEFT JOIN totp_factors f ON f.user_id = u.id`;
const toUserWithFactor = (row: UserWithFactorRow): UserWithFactor => ({
  user: toUser(row),
  factor:
    row.f_id === null
      ? undefined
      : toFactor(Object.fromEntries(FACTOR_COLUMN_NAMES.map((c) => [c, row[`f_${c}`]])) as FactorRow),
});

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string };
  return e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

interface NewSession {
  id: string;
  userId: string;
  secondFactor: boolean;
  tokenHash: string;
  now: number;
  expiresAt: number;
}

/** What a second factor that passed spends: a TOTP counter or a backup code. */
type Spend = { factorId: string; counter: number } | { backupCodeId: string };

function createStore(db: Db, policy: BudgetPolicy) {
  const one = async <T>(sql: string, params: (string | number | null)[]) => (await db.all<T>(sql, params))[0];

  // The attempt budget: claimed before a code is evaluated, so a burst cannot
  // evaluate more than the budget. The claim that reaches the limit also sets
  // the lock (a success lifts it again), so a crash cannot leave it unset.
  // One UPDATE of the user's row: SET `set`, WHERE id = ... AND `open`.
  const budgetClaim = (now: number) => ({
    set: `failed_attempts = failed_attempts + 1,
          locked_until = CASE WHEN failed_attempts + 1 >= budget_limit THEN ? + next_lock_ms ELSE locked_until END,
          locked_permanently = CASE WHEN failed_attempts + 1 >= ? THEN 1 ELSE locked_permanently END,
          next_lock_ms = CASE WHEN failed_attempts + 1 >= budget_limit
            THEN (CASE WHEN next_lock_ms * 2 > ? THEN ? ELSE next_lock_ms * 2 END) ELSE next_lock_ms END,
          budget_limit = CASE WHEN failed_attempts + 1 >= budget_limit THEN budget_limit + ? ELSE budget_limit END`,
    setParams: [now, policy.permanentAfter, policy.maxLockMs, policy.maxLockMs, policy.attemptsPerLock],
    open: 'locked_permanently = 0 AND locked_until <= ?',
    openParams: [now],
  });
  const claimed = (row: ClaimedRow, now: number): AttemptClaim => ({
    ok: true,
    attempt: Number(row.failed_attempts),
    locks: Number(row.locked_until) > now,
  });
  /** A refused claim: the lock that refused it. */
  const lockOf = async (userId: string): Promise<AttemptClaim> => {
    const row = await one<Pick<UserRow, 'locked_until' | 'locked_permanently'>>(
      'SELECT locked_until, locked_permanently FROM users WHERE id = ?',
      [userId],
    );
    return {
      ok: false,
      lockedUntil: Number(row?.locked_until ?? 0),
      permanent: Number(row?.locked_permanently ?? 1) === 1,
    };
  };
  // The statements acceptSecondFactor settles in one transaction.
  const claimCounter = (userId: string, factorId: string, counter: number): Statement => ({
    sql: `UPDATE totp_factors SET last_counter = ? WHERE user_id = ? AND id = ? AND status = 'active' AND last_counter < ?`,
    params: [counter, userId, factorId, counter],
    expectChanges: 1,
  });
  const consumeBackupCode = (id: string, now: number): Statement => ({
    sql: 'UPDATE backup_codes SET used_at = ? WHERE id = ? AND used_at IS NULL',
    params: [now, id],
    expectChanges: 1,
  });
  const consumeChallenge = (tokenHash: string, now: number): Statement => ({
    sql: 'UPDATE login_challenges SET used_at = ? WHERE token_hash = ? AND used_at IS NULL',
    params: [now, tokenHash],
    expectChanges: 1,
  });
  const resetAttempts = (userId: string): Statement => ({
    sql: `UPDATE users SET failed_attempts = 0, budget_limit = ?, next_lock_ms = ?, locked_until = 0
          WHERE id = ? AND locked_permanently = 0`,
    params: [policy.attemptsPerLock, policy.firstLockMs, userId],
  });
  const addAudit = (e: AuditEvent): Statement => ({
    sql: 'INSERT INTO audit_events (id, at, type, user_id, ip, detail) VALUES (?, ?, ?, ?, ?, ?)',
    params: [e.id, e.at, e.type, e.userId, e.ip, e.detail === null ? null : JSON.stringify(e.detail)],
  });
  const createSession = (n: NewSession): Statement[] => [
    {
      sql: 'INSERT INTO sessions (id, user_id, second_factor, created_at) VALUES (?, ?, ?, ?)',
      params: [n.id, n.userId, n.secondFactor ? 1 : 0, n.now],
    },
    {
      sql: 'INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
      params: [n.tokenHash, n.id, n.now, n.expiresAt],
    },
  ];

  return {
    db,

    // Users

    async createUser(user: { id: string; username: string; passwordHash: string; now: number }): Promise<boolean> {
      try {
        await db.run(
          'INSERT INTO users (id, username, password_hash, created_at, budget_limit, next_lock_ms) VALUES (?, ?, ?, ?, ?, ?)',
          [user.id, user.username, user.passwordHash, user.now, policy.attemptsPerLock, policy.firstLockMs],
        );
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },
    async userByName(username: string): Promise<User | undefined> {
      const row = await one<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE username = ?`, [username]);
      return row && toUser(row);
    },
    async userById(id: string): Promise<User | undefined> {
      const row = await one<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, [id]);
      return row && toUser(row);
    },
    /** A user and their factor, if any, by id or by (normalized) name, in one query. */
    async userWithFactor(by: { id: string } | { username: string }): Promise<UserWithFactor | undefined> {
      const row = await one<UserWithFactorRow>(
        `SELECT ${USER_WITH_FACTOR} WHERE ${'id' in by ? 'u.id' : 'u.username'} = ?`,
        ['id' in by ? by.id : by.username],
      );
      return row && toUserWithFactor(row);
    },
    async listUsers(): Promise<(User & { factor: Factor['status'] | null })[]> {
      const rows = await db.all<UserWithFactorRow>(`SELECT ${USER_WITH_FACTOR} ORDER BY u.username`);
      return rows.map((row) => ({ ...toUser(row), factor: row.f_status }));
    },

    // The attempt budget (see budgetClaim)

    async claimAttempt(userId: string, now: number): Promise<AttemptClaim> {
      const claim = budgetClaim(now);
      const row = await one<ClaimedRow>(
        `UPDATE users SET ${claim.set} WHERE id = ? AND ${claim.open} RETURNING failed_attempts, locked_until`,
        [...claim.setParams, userId, ...claim.openParams],
      );
      return row ? claimed(row, now) : lockOf(userId);
    },
    /**
     * A second factor passed: spends the counter or backup code (exactly one
     * racing caller can), uses up the login challenge, resets the attempt
     * budget, records the audit events and opens the session, all in one
     * transaction. False, with nothing changed, if the spend or the
     * challenge was already taken.
     */
    async acceptSecondFactor(a: {
      userId: string;
      spend: Spend;
      challengeHash?: string;
      session?: NewSession;
      audit: AuditEvent[];
      now: number;
    }): Promise<boolean> {
      return db.batch([
        'counter' in a.spend
          ? claimCounter(a.userId, a.spend.factorId, a.spend.counter)
          : consumeBackupCode(a.spend.backupCodeId, a.now),
        ...(a.challengeHash === undefined ? [] : [consumeChallenge(a.challengeHash, a.now)]),
        resetAttempts(a.userId),
        ...a.audit.map(addAudit),
        ...(a.session ? createSession(a.session) : []),
      ]);
    },
    /** An operator's unlock: also lifts a permanent lock. */
    async unlock(userId: string): Promise<boolean> {
      return (
        (await db.run(
          `UPDATE users SET failed_attempts = 0, budget_limit = ?, next_lock_ms = ?, locked_until = 0, locked_permanently = 0
           WHERE id = ?`,
          [policy.attemptsPerLock, policy.firstLockMs, userId],
        )) === 1
      );
    },

    // The TOTP factor

    async factor(userId: string): Promise<Factor | undefined> {
      const row = await one<FactorRow>(`SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE user_id = ?`, [userId]);
      return row && toFactor(row);
    },
    /** Inserts a pending factor unless the user has one; returns the one that is stored. */
    async putPendingFactor(f: NewFactor): Promise<Factor> {
      await db.run(
        `INSERT INTO totp_factors (user_id, id, status, sealed_secret, algorithm, digits, period_seconds, created_at)
         VALUES (?, ?, 'pending', ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING`,
        [f.userId, f.id, f.sealedSecret, f.algorithm, f.digits, f.periodSeconds, f.now],
      );
      const row = await one<FactorRow>(`SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE user_id = ?`, [f.userId]);
      return toFactor(row!);
    },
    /** Pending to active with the confirming code's counter, and a fresh set of backup codes. */
    async activateFactor(a: {
      userId: string;
      factorId: string;
      counter: number;
      codeHashes: string[];
      ids: string[];
      now: number;
    }) {
      return db.batch([
        {
          sql: `UPDATE totp_factors SET status = 'active', last_counter = ?, confirmed_at = ?
                WHERE user_id = ? AND id = ? AND status = 'pending' AND last_counter < ?`,
          params: [a.counter, a.now, a.userId, a.factorId, a.counter],
          expectChanges: 1,
        },
        { sql: 'DELETE FROM backup_codes WHERE user_id = ?', params: [a.userId] },
        ...a.codeHashes.map((hash, i) => ({
          sql: 'INSERT INTO backup_codes (id, user_id, code_hash, created_at) VALUES (?, ?, ?, ?)',
          params: [a.ids[i]!, a.userId, hash, a.now],
        })),
      ]);
    },
    async deleteFactor(userId: string): Promise<void> {
      await db.batch([
        { sql: 'DELETE FROM backup_codes WHERE user_id = ?', params: [userId] },
        { sql: 'DELETE FROM totp_factors WHERE user_id = ?', params: [userId] },
      ]);
    },
    /** For key rotation: replaces a sealed secret only if it is still the one read. */
    async resealFactor(userId: string, before: string, after: string): Promise<boolean> {
      return (
        (await db.run('UPDATE totp_factors SET sealed_secret = ? WHERE user_id = ? AND sealed_secret = ?', [
          after,
          userId,
          before,
        ])) === 1
      );
    },
    /** Factors in user-id order after `afterUserId`, for batch jobs that can stop and resume. */
    async factorsAfter(afterUserId: string, limit: number): Promise<Factor[]> {
      const rows = await db.all<FactorRow>(
        `SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE user_id > ? ORDER BY user_id LIMIT ?`,
        [afterUserId, limit],
      );
      return rows.map(toFactor);
    },
    async countFactors(): Promise<number> {
      return Number((await one<{ n: number }>('SELECT COUNT(*) AS n FROM totp_factors', []))?.n ?? 0);
    },

    // Backup codes

    async backupCodes(userId: string): Promise<BackupCode[]> {
      const rows = await db.all<{ id: string; code_hash: string; used_at: number | null }>(
        'SELECT id, code_hash, used_at FROM backup_codes WHERE user_id = ? ORDER BY id',
        [userId],
      );
      return rows.map((r) => ({
        id: r.id,
        codeHash: r.code_hash,
        usedAt: r.used_at === null ? null : Number(r.used_at),
      }));
    },
    async replaceBackupCodes(userId: string, codeHashes: string[], ids: string[], now: number): Promise<void> {
      await db.batch([
        { sql: 'DELETE FROM backup_codes WHERE user_id = ?', params: [userId] },
        ...codeHashes.map((hash, i) => ({
          sql: 'INSERT INTO backup_codes (id, user_id, code_hash, created_at) VALUES (?, ?, ?, ?)',
          params: [ids[i]!, userId, hash, now],
        })),
      ]);
    },

    // Login challenges

    async createChallenge(c: { tokenHash: string; userId: string; now: number; expiresAt: number }): Promise<void> {
      await db.run('INSERT INTO login_challenges (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)', [
        c.tokenHash,
        c.userId,
        c.now,
        c.expiresAt,
      ]);
    },
    /**
     * The login's second step before its code is looked at: counts an attempt
     * on a live challenge (undefined if it is used, expired, unknown or out of
     * attempts) and returns its user and factor with the account's attempt
     * claimed, if the factor is on and takes codes of `digits` digits (null: a
     * backup code); otherwise nothing is claimed and `attempt` is undefined.
     * One statement on PostgreSQL (round trips are its cost); SQLite cannot
     * update inside WITH, and its separate calls cost no round trip.
     */
    async claimLoginAttempt(c: {
      tokenHash: string;
      now: number;
      maxAttempts: number;
      digits: number | null;
    }): Promise<(UserWithFactor & { attempt: AttemptClaim | undefined }) | undefined> {
      const challenge = `UPDATE login_challenges SET attempts = attempts + 1
                         WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?
                         RETURNING user_id`;
      const challengeParams = [c.tokenHash, c.now, c.maxAttempts];
      const takes = (factor: Factor | undefined) =>
        factor?.status === 'active' && (c.digits === null || factor.digits === c.digits);
      if (db.dialect === 'sqlite') {
        const row = await one<{ user_id: string }>(challenge, challengeParams);
        const found = row && (await this.userWithFactor({ id: row.user_id }));
        if (!found) return undefined;
        return { ...found, attempt: takes(found.factor) ? await this.claimAttempt(found.user.id, c.now) : undefined };
      }
      const claim = budgetClaim(c.now);
      const row = await one<UserWithFactorRow & { [K in keyof ClaimedRow as `a_${K}`]: ClaimedRow[K] | null }>(
        `WITH c AS (${challenge}),
         a AS (UPDATE users SET ${claim.set}
               WHERE id = (SELECT user_id FROM c) AND ${claim.open} AND EXISTS (
                 SELECT 1 FROM totp_factors f
                 WHERE f.user_id = users.id AND f.status = 'active' AND f.digits = COALESCE(?, f.digits))
               RETURNING failed_attempts, locked_until)
         SELECT a.failed_attempts AS a_failed_attempts, a.locked_until AS a_locked_until, ${USER_WITH_FACTOR}
         LEFT JOIN a ON TRUE WHERE u.id = (SELECT user_id FROM c)`,
        [...challengeParams, ...claim.setParams, ...claim.openParams, c.digits],
      );
      if (!row) return undefined;
      const found = toUserWithFactor(row);
      if (!takes(found.factor)) return { ...found, attempt: undefined };
      const attempt =
        row.a_failed_attempts === null
          ? await lockOf(found.user.id)
          : claimed({ failed_attempts: row.a_failed_attempts, locked_until: row.a_locked_until! }, c.now);
      return { ...found, attempt };
    },
    // Sessions and refresh tokens

    /** A new session (and its first refresh token), with its audit events, in one transaction. */
    async createSession(session: NewSession, audit: AuditEvent[] = []): Promise<void> {
      await db.batch([...createSession(session), ...audit.map(addAudit)]);
    },
    /**
     * Rotates a refresh token: marks it used and adds its successor, once. A
     * token used before means it was stolen or replayed: its session is revoked.
     */
    async useRefreshToken(
      tokenHash: string,
      next: { tokenHash: string; now: number; expiresAt: number },
    ): Promise<RefreshUse> {
      const row = await one<{ session_id: string; user_id: string; second_factor: number; revoked_at: number | null }>(
        `SELECT t.session_id, s.user_id, s.second_factor, s.revoked_at FROM refresh_tokens t
         JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ?`,
        [tokenHash],
      );
      if (!row || row.revoked_at !== null) return { status: 'invalid' };
      const rotated = await db.batch([
        {
          sql: 'UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?',
          params: [next.now, tokenHash, next.now],
          expectChanges: 1,
        },
        {
          sql: 'INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) SELECT ?, id, ?, ? FROM sessions WHERE id = ? AND revoked_at IS NULL',
          params: [next.tokenHash, next.now, next.expiresAt, row.session_id],
          expectChanges: 1,
        },
      ]);
      if (rotated) {
        return {
          status: 'ok',
          sessionId: row.session_id,
          userId: row.user_id,
          secondFactor: Number(row.second_factor) === 1,
        };
      }
      const used = await one<{ used_at: number | null }>('SELECT used_at FROM refresh_tokens WHERE token_hash = ?', [
        tokenHash,
      ]);
      if (used?.used_at === null) return { status: 'invalid' }; // expired, not reused
      await this.revokeSession(row.session_id, next.now);
      return { status: 'reused', sessionId: row.session_id, userId: row.user_id };
    },
    async sessionActive(sessionId: string): Promise<boolean> {
      return (await one('SELECT id FROM sessions WHERE id = ? AND revoked_at IS NULL', [sessionId])) !== undefined;
    },
    async revokeSession(sessionId: string, now: number): Promise<void> {
      await db.run('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, sessionId]);
    },
    // Audit

    async addAudit(e: AuditEvent): Promise<void> {
      const { sql, params } = addAudit(e);
      await db.run(sql, params);
    },
    async audit(userId?: string): Promise<AuditEvent[]> {
      const rows = await db.all<{
        id: string;
        at: number;
        type: string;
        user_id: string | null;
        ip: string | null;
        detail: string | null;
      }>(
        userId === undefined
          ? 'SELECT id, at, type, user_id, ip, detail FROM audit_events ORDER BY at, id'
          : 'SELECT id, at, type, user_id, ip, detail FROM audit_events WHERE user_id = ? ORDER BY at, id',
        userId === undefined ? [] : [userId],
      );
      return rows.map((r) => ({
        id: r.id,
        at: Number(r.at),
        type: r.type,
        userId: r.user_id,
        ip: r.ip,
        detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
      }));
    },
  };
}

type Store = ReturnType<typeof createStore>;

export type {
  AttemptClaim,
  AuditEvent,
  BackupCode,
  BudgetPolicy,
  Factor,
  NewFactor,
  NewSession,
  RefreshUse,
  Spend,
  Store,
  User,
  UserWithFactor,
};
export { createStore };
