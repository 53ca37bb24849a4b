// What the service needs from storage, as atomic operations. Every check that
// security rests on (a counter claimed once, a backup code used once, an
// attempt budget, a single-use challenge, refresh-token reuse) is one
// conditional statement, so racing requests and processes cannot both win.

import type { Db, Param, Statement } from './db.js';

interface User {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
  failedAttempts: number;
  lockedUntil: number;
  lockedPermanently: boolean;
  /** Sessions of another epoch are dead (see the epoch in migration 002). */
  sessionEpoch: number;
}

interface Factor {
  id: string;
  userId: string;
  status: 'pending' | 'active';
  /** The session that started a pending enrollment (null: an embedding app's user, or active). */
  sessionId: string | null;
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
  sessionId: string | null;
  sealedSecret: string;
  algorithm: string;
  digits: number;
  periodSeconds: number;
  now: number;
}

type AttemptClaim =
  /** `locks`: this claim reached the budget and set the lock (a success lifts it again). */
  { ok: true; attempt: number; locks: boolean } | { ok: false; lockedUntil: number; permanent: boolean };

/** RFC 8176 authentication method references: password, then a TOTP code or a backup code. */
type Amr = 'pwd' | 'otp' | 'backup';

type RefreshUse =
  | { status: 'ok'; sessionId: string; userId: string; amr: Amr[]; expiresAt: number }
  | { status: 'reused'; sessionId: string; userId: string }
  | { status: 'invalid' };

/** What happened; each is stored, logged and passed to onEvent. */
type AuditEventType =
  | 'user_registered'
  | 'login'
  | 'login_failed'
  | 'login_throttled'
  | 'logout'
  | 'second_factor_failed'
  | 'second_factor_locked'
  | 'second_factor_unlocked'
  | 'enrollment_started'
  | 'enrollment_confirmed'
  | 'backup_code_used'
  | 'backup_codes_rotated'
  | 'two_factor_disabled'
  | 'two_factor_reset'
  | 'refresh_token_reused'
  | 'keys_rotated';

/** An audit event. Nothing secret in it: no code, secret, password or token; `detail` says counts and reasons. */
interface AuditEvent {
  id: string;
  /** Unix ms. */
  at: number;
  type: AuditEventType;
  userId: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

/** Attempt-budget policy (see budgetClaim): what a count of consecutive wrong codes means. */
interface BudgetPolicy {
  /** Wrong codes between locks. */
  attemptsPerLock: number;
  /** The first lock; each next one is twice as long, up to maxLockMs. */
  firstLockMs: number;
  maxLockMs: number;
  /** From this many consecutive wrong codes, only an operator unlocks. */
  permanentAfter: number;
}

/** The password step's per-account throttle: this many failures in a window, then 429 until it ends. */
interface PasswordPolicy {
  limit: number;
  windowMs: number;
}

/** A password attempt claimed before the KDF runs, or the end of the window that refuses it. */
type PasswordClaim = { ok: true } | { ok: false; retryAt: number };

type UserRow = {
  id: string;
  username: string;
  password_hash: string;
  created_at: number;
  failed_attempts: number;
  locked_until: number;
  locked_permanently: number;
  session_epoch: number;
};
type FactorRow = {
  id: string;
  user_id: string;
  status: 'pending' | 'active';
  session_id: string | null;
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
  sessionEpoch: Number(r.session_epoch),
});
const toFactor = (r: FactorRow): Factor => ({
  id: r.id,
  userId: r.user_id,
  status: r.status,
  sessionId: r.session_id,
  sealedSecret: r.sealed_secret,
  algorithm: r.algorithm,
  digits: Number(r.digits),
  periodSeconds: Number(r.period_seconds),
  lastCounter: Number(r.last_counter),
  createdAt: Number(r.created_at),
  confirmedAt: r.confirmed_at === null ? null : Number(r.confirmed_at),
});

const USER_COLUMNS =
  'id, username, password_hash, created_at, failed_attempts, locked_until, locked_permanently, session_epoch';
const FACTOR_COLUMNS =
  'id, user_id, status, session_id, sealed_secret, algorithm, digits, period_seconds, last_counter, created_at, confirmed_at';

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
  amr: Amr[];
  tokenHash: string;
  now: number;
  /** The refresh token's expiry. */
  expiresAt: number;
  /** The session's own, absolute end. */
  sessionExpiresAt: number;
  /** The user's session epoch when the sign-in read it. */
  epoch: number;
}

/** A live session: not revoked, not past its absolute end. */
interface LiveSession {
  userId: string;
  amr: Amr[];
  expiresAt: number;
}

const amrOf = (text: string): Amr[] => text.split(' ') as Amr[];

/** What a second factor that passed spends: a TOTP counter or a backup code. */
type Spend = { factorId: string; counter: number } | { backupCodeId: string };

/**
 * The lock each claim that reaches a multiple of attemptsPerLock sets: its
 * length is a CASE over the lock's number (firstLockMs, doubled each time, up
 * to maxLockMs), written from the policy's whole numbers. Everything about the
 * budget follows from failed_attempts, so refunding an attempt undoes it exactly.
 */
function lockLengthSql(policy: BudgetPolicy, attempt: string): string {
  const whens: string[] = [];
  for (let n = 1, ms = policy.firstLockMs; ms < policy.maxLockMs; n++, ms *= 2) whens.push(`WHEN ${n} THEN ${ms}`);
  return `CASE ${attempt} / ${policy.attemptsPerLock} ${whens.join(' ')} ELSE ${policy.maxLockMs} END`;
}

/** Bounds the search for key ids outside the ring (a ring holds at most 16). */
const MAX_UNKNOWN_KEY_IDS = 32;

function createStore(db: Db, policy: BudgetPolicy, passwords: PasswordPolicy) {
  const one = async <T>(sql: string, params: (string | number | null)[]) => (await db.all<T>(sql, params))[0];

  // The attempt budget: claimed before a code is evaluated, so a burst cannot
  // evaluate more than the budget. The claim that reaches the limit also sets
  // the lock (a success lifts it again), so a crash cannot leave it unset.
  // One UPDATE of the user's row: SET `set`, WHERE id = ... AND `open`.
  const per = policy.attemptsPerLock;
  const budgetClaim = (now: number) => ({
    set: `failed_attempts = failed_attempts + 1,
          locked_until = CASE WHEN (failed_attempts + 1) % ${per} = 0
            THEN CAST(? AS BIGINT) + ${lockLengthSql(policy, '(failed_attempts + 1)')} ELSE locked_until END,
          locked_permanently = CASE WHEN failed_attempts + 1 >= ${policy.permanentAfter} THEN 1 ELSE locked_permanently END`,
    setParams: [now],
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
  /** Values sealed or hashed under a key id start 'v1.<id>.'; substr compares case-sensitively on both databases. */
  const keyPrefix = (keyId: string) => `v1.${keyId}.`;
  async function usageByKey(
    known: readonly string[],
    where: { table: string; column: string; counted: string; filter?: string },
  ): Promise<Map<string, number>> {
    const { table, column, counted, filter = 'TRUE' } = where;
    const prefixes = new Map(known.map((id) => [id, keyPrefix(id)]));
    // Ids outside the ring: one value under none of the prefixes seen so far names the next.
    for (let found = 0; found < MAX_UNKNOWN_KEY_IDS; found++) {
      const outside = [...prefixes.values()].map(() => `substr(${column}, 1, ?) <> ?`);
      const row = await one<{ v: string }>(
        `SELECT ${column} AS v FROM ${table} WHERE ${[filter, ...outside].join(' AND ')} LIMIT 1`,
        [...prefixes.values()].flatMap((p) => [p.length, p]),
      );
      if (!row) break;
      const id = /^v1\.([A-Za-z0-9_-]{1,32})\./.exec(row.v)?.[1];
      prefixes.set(id ?? `(unreadable)${found}`, id === undefined ? row.v : keyPrefix(id));
    }
    const counts = new Map<string, number>();
    for (const [id, prefix] of prefixes) {
      const row = await one<{ n: number }>(
        `SELECT count(${counted}) AS n FROM ${table} WHERE ${filter} AND substr(${column}, 1, ?) = ?`,
        [prefix.length, prefix],
      );
      const label = id.startsWith('(unreadable)') ? '(unreadable)' : id;
      counts.set(label, (counts.get(label) ?? 0) + Number(row?.n ?? 0));
    }
    return counts;
  }

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
    sql: 'UPDATE users SET failed_attempts = 0, locked_until = 0 WHERE id = ? AND locked_permanently = 0',
    params: [userId],
  });
  const passwordRefund = (userId: string): [string, Param[]] => [
    'UPDATE users SET password_failures = password_failures - 1 WHERE id = ? AND password_failures > 0',
    [userId],
  ];
  /**
   * Ends the user's sessions but `keep` (null: all of them), as of `now`: they
   * are marked revoked, and the user's epoch moves on, so a session being made
   * at this moment is dead too; `keep` moves with it (and, with `passed`,
   * now counts as having passed a second factor).
   */
  const revokeSessions = (userId: string, keep: string | null, now: number, passed = false): Statement[] => [
    {
      sql: 'UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL',
      params: [now, userId, keep ?? ''],
    },
    { sql: 'UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?', params: [userId] },
    ...(keep === null
      ? []
      : [
          {
            sql: `UPDATE sessions SET epoch = epoch + 1${passed ? ", amr = 'pwd otp'" : ''} WHERE id = ? AND user_id = ?`,
            params: [keep, userId],
          },
        ]),
  ];
  const addAudit = (e: AuditEvent): Statement => ({
    sql: 'INSERT INTO audit_events (id, at, type, user_id, ip, detail) VALUES (?, ?, ?, ?, ?, ?)',
    params: [e.id, e.at, e.type, e.userId, e.ip, e.detail === null ? null : JSON.stringify(e.detail)],
  });
  /** With `current`, only while the user's epoch is still the one read (no 2FA change in between). */
  const createSession = (n: NewSession, current = false): Statement[] => [
    {
      sql: `INSERT INTO sessions (id, user_id, amr, created_at, expires_at, epoch) SELECT ?, ?, ?, ?, ?, ?
            ${current ? 'WHERE EXISTS (SELECT 1 FROM users WHERE id = ? AND session_epoch = ?)' : ''}`,
      params: [
        n.id,
        n.userId,
        n.amr.join(' '),
        n.now,
        n.sessionExpiresAt,
        n.epoch,
        ...(current ? [n.userId, n.epoch] : []),
      ],
      ...(current ? { expectChanges: 1 } : {}),
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
        await db.run('INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)', [
          user.id,
          user.username,
          user.passwordHash,
          user.now,
        ]);
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
    /**
     * Gives back an attempt claimed for a check that then failed on our side
     * (a 5xx): one fewer wrong code, and the lock or permanent lock that
     * attempt set is lifted, since the budget follows from the count alone.
     * The login challenge's attempt, if any, is given back too.
     */
    async refundAttempt(userId: string, challengeHash?: string): Promise<void> {
      await db.batch([
        {
          sql: `UPDATE users SET failed_attempts = failed_attempts - 1,
                  locked_until = CASE WHEN failed_attempts % ${per} = 0 THEN 0 ELSE locked_until END,
                  locked_permanently = CASE WHEN failed_attempts = ${policy.permanentAfter} THEN 0 ELSE locked_permanently END
                WHERE id = ? AND failed_attempts > 0`,
          params: [userId],
        },
        ...(challengeHash === undefined
          ? []
          : [
              {
                sql: 'UPDATE login_challenges SET attempts = attempts - 1 WHERE token_hash = ? AND attempts > 0',
                params: [challengeHash],
              },
            ]),
      ]);
    },
    /**
     * The password step's throttle: claims a failure before the KDF runs (a
     * success gives it back, see passwordRefund), so a burst cannot try more
     * passwords than the limit. A window starts at the first failure after
     * the last one ended.
     */
    async claimPasswordAttempt(userId: string, now: number): Promise<PasswordClaim> {
      const ended = now - passwords.windowMs;
      const row = await one<{ password_failures: number }>(
        `UPDATE users SET
           password_failures = CASE WHEN password_window_start <= ? THEN 1 ELSE password_failures + 1 END,
           password_window_start = CASE WHEN password_window_start <= ? THEN ? ELSE password_window_start END
         WHERE id = ? AND (password_window_start <= ? OR password_failures < ?)
         RETURNING password_failures`,
        [ended, ended, now, userId, ended, passwords.limit],
      );
      if (row) return { ok: true };
      const held = await one<{ password_window_start: number }>(
        'SELECT password_window_start FROM users WHERE id = ?',
        [userId],
      );
      return { ok: false, retryAt: Number(held?.password_window_start ?? now) + passwords.windowMs };
    },
    /** Gives back a claimed password attempt (a right password, or a fault of ours). */
    async refundPasswordAttempt(userId: string): Promise<void> {
      await db.run(...passwordRefund(userId));
    },
    /** An operator's unlock: also lifts a permanent lock and the password throttle. */
    async unlock(userId: string): Promise<boolean> {
      return (
        (await db.run(
          `UPDATE users SET failed_attempts = 0, locked_until = 0, locked_permanently = 0, password_failures = 0
           WHERE id = ?`,
          [userId],
        )) === 1
      );
    },

    // The TOTP factor

    async factor(userId: string): Promise<Factor | undefined> {
      const row = await one<FactorRow>(`SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE user_id = ?`, [userId]);
      return row && toFactor(row);
    },
    /**
     * Inserts a pending factor unless the user has one; returns the one that
     * is stored. `replacing`: the id of a pending factor (another session's)
     * to delete first; if a racing call stores its own in between, that one is returned.
     */
    async putPendingFactor(f: NewFactor, replacing?: string): Promise<Factor> {
      if (replacing !== undefined) {
        await db.run("DELETE FROM totp_factors WHERE user_id = ? AND id = ? AND status = 'pending'", [
          f.userId,
          replacing,
        ]);
      }
      await db.run(
        `INSERT INTO totp_factors (user_id, id, status, session_id, sealed_secret, algorithm, digits, period_seconds, created_at)
         VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING`,
        [f.userId, f.id, f.sessionId, f.sealedSecret, f.algorithm, f.digits, f.periodSeconds, f.now],
      );
      const row = await one<FactorRow>(`SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE user_id = ?`, [f.userId]);
      return toFactor(row!);
    },
    /**
     * Pending to active with the confirming code's counter, and a fresh set of
     * backup codes. The confirming session (if any) has now passed a second
     * factor; every other session of the user ends.
     */
    async activateFactor(a: {
      userId: string;
      factorId: string;
      counter: number;
      codeHashes: string[];
      ids: string[];
      now: number;
      sessionId?: string | null;
    }) {
      const session = a.sessionId ?? null;
      return db.batch([
        {
          sql: `UPDATE totp_factors SET status = 'active', last_counter = ?, confirmed_at = ?, session_id = NULL
                WHERE user_id = ? AND id = ? AND status = 'pending' AND last_counter < ?`,
          params: [a.counter, a.now, a.userId, a.factorId, a.counter],
          expectChanges: 1,
        },
        ...revokeSessions(a.userId, session, a.now, true),
        { sql: 'DELETE FROM backup_codes WHERE user_id = ?', params: [a.userId] },
        ...a.codeHashes.map((hash, i) => ({
          sql: 'INSERT INTO backup_codes (id, user_id, code_hash, created_at) VALUES (?, ?, ?, ?)',
          params: [a.ids[i]!, a.userId, hash, a.now],
        })),
      ]);
    },
    /** 2FA off: the factor and backup codes go, and every session but `keep` (null: all) ends. */
    async deleteFactor(userId: string, keep: string | null, now: number): Promise<void> {
      await db.batch([
        { sql: 'DELETE FROM backup_codes WHERE user_id = ?', params: [userId] },
        { sql: 'DELETE FROM totp_factors WHERE user_id = ?', params: [userId] },
        ...revokeSessions(userId, keep, now),
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
    /** New backup codes; every session but `keep` ends. */
    async replaceBackupCodes(
      userId: string,
      codes: { hashes: string[]; ids: string[] },
      keep: string | null,
      now: number,
    ): Promise<void> {
      const { hashes: codeHashes, ids } = codes;
      await db.batch([
        ...revokeSessions(userId, keep, now),
        { sql: 'DELETE FROM backup_codes WHERE user_id = ?', params: [userId] },
        ...codeHashes.map((hash, i) => ({
          sql: 'INSERT INTO backup_codes (id, user_id, code_hash, created_at) VALUES (?, ?, ?, ?)',
          params: [ids[i]!, userId, hash, now],
        })),
      ]);
    },

    // Login challenges

    /** A login challenge after a right password, which gives its claimed password attempt back. */
    async createChallenge(c: { tokenHash: string; userId: string; now: number; expiresAt: number }): Promise<void> {
      const [sql, params] = passwordRefund(c.userId);
      await db.batch([
        {
          sql: 'INSERT INTO login_challenges (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
          params: [c.tokenHash, c.userId, c.now, c.expiresAt],
        },
        { sql, params },
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

    /**
     * A new session (and its first refresh token) after a right password, with
     * its audit events, in one transaction; the claimed password attempt is given back.
     */
    async createSession(session: NewSession, audit: AuditEvent[] = []): Promise<boolean> {
      const [sql, params] = passwordRefund(session.userId);
      return db.batch([...createSession(session, true), ...audit.map(addAudit), { sql, params }]);
    },
    /**
     * Rotates a refresh token: marks it used and adds its successor, once. A
     * token used before means it was stolen or replayed: its session is revoked.
     */
    async useRefreshToken(
      tokenHash: string,
      next: { tokenHash: string; now: number; expiresAt: number },
    ): Promise<RefreshUse> {
      const row = await one<{
        session_id: string;
        user_id: string;
        amr: string;
        expires_at: number;
        revoked_at: number | null;
      }>(
        `SELECT t.session_id, s.user_id, s.amr, s.expires_at,
                CASE WHEN s.epoch = u.session_epoch THEN s.revoked_at ELSE 0 END AS revoked_at
         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
         WHERE t.token_hash = ?`,
        [tokenHash],
      );
      if (!row || row.revoked_at !== null || Number(row.expires_at) <= next.now) return { status: 'invalid' };
      const sessionEnds = Number(row.expires_at);
      const rotated = await db.batch([
        {
          sql: 'UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?',
          params: [next.now, tokenHash, next.now],
          expectChanges: 1,
        },
        {
          sql: 'INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) SELECT ?, id, ?, ? FROM sessions WHERE id = ? AND revoked_at IS NULL',
          params: [next.tokenHash, next.now, Math.min(next.expiresAt, sessionEnds), row.session_id],
          expectChanges: 1,
        },
      ]);
      if (rotated) {
        return {
          status: 'ok',
          sessionId: row.session_id,
          userId: row.user_id,
          amr: amrOf(row.amr),
          expiresAt: sessionEnds,
        };
      }
      const used = await one<{ used_at: number | null }>('SELECT used_at FROM refresh_tokens WHERE token_hash = ?', [
        tokenHash,
      ]);
      if (used?.used_at === null) return { status: 'invalid' }; // expired, not reused
      await this.revokeSession(row.session_id, next.now);
      return { status: 'reused', sessionId: row.session_id, userId: row.user_id };
    },
    /** The session if it is live: not revoked and not past its absolute end. */
    async liveSession(sessionId: string, now: number): Promise<LiveSession | undefined> {
      const row = await one<{ user_id: string; amr: string; expires_at: number }>(
        `SELECT s.user_id, s.amr, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.epoch = u.session_epoch`,
        [sessionId, now],
      );
      return row && { userId: row.user_id, amr: amrOf(row.amr), expiresAt: Number(row.expires_at) };
    },
    /** Ends every session of a user but `keep` (null: all). */
    async revokeSessions(userId: string, keep: string | null, now: number): Promise<void> {
      await db.batch(revokeSessions(userId, keep, now));
    },
    async revokeSession(sessionId: string, now: number): Promise<void> {
      await db.run('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, sessionId]);
    },
    // Upkeep

    /**
     * Deletes what has expired: login challenges, refresh tokens, and sessions
     * past their absolute end (with their refresh tokens), at most `limit`
     * rows of each per call, oldest first. Safe to run from several processes.
     */
    async prune(now: number, limit: number): Promise<number> {
      let removed = 0;
      for (const [table, key] of [
        ['login_challenges', 'token_hash'],
        ['refresh_tokens', 'token_hash'],
        ['sessions', 'id'],
      ] as const) {
        removed += await db.run(
          `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
          [now, limit],
        );
      }
      return removed;
    },
    /**
     * Which key ids the stored values depend on: sealed secrets per key id, and
     * users with unused backup codes per key id, including ids that `known`
     * lacks (found one at a time; '(unreadable)' for a value of no known layout).
     */
    async keyUsage(known: readonly string[]) {
      return {
        secrets: await usageByKey(known, { table: 'totp_factors', column: 'sealed_secret', counted: '*' }),
        backupCodeUsers: await usageByKey(known, {
          table: 'backup_codes',
          column: 'code_hash',
          counted: 'DISTINCT user_id',
          filter: 'used_at IS NULL',
        }),
      };
    },
    /** A factor whose secret is sealed under `keyId`, to try the key on. */
    async factorSealedBy(keyId: string): Promise<Factor | undefined> {
      const prefix = keyPrefix(keyId);
      const row = await one<FactorRow>(
        `SELECT ${FACTOR_COLUMNS} FROM totp_factors WHERE substr(sealed_secret, 1, ?) = ? LIMIT 1`,
        [prefix.length, prefix],
      );
      return row && toFactor(row);
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
        type: AuditEventType;
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
  Amr,
  AttemptClaim,
  AuditEvent,
  AuditEventType,
  BackupCode,
  BudgetPolicy,
  Factor,
  LiveSession,
  NewFactor,
  NewSession,
  PasswordClaim,
  PasswordPolicy,
  RefreshUse,
  Spend,
  Store,
  User,
  UserWithFactor,
};
export { createStore };
