// The Store interface the service codes against: atomic operations (see
// store.ts), grouped as the modules that implement them. Times are Unix ms.

import type {
  Amr,
  AuditEvent,
  AuditFilter,
  BackupCode,
  DeviceUse,
  Factor,
  FailureCounted,
  KeyUsage,
  LiveSession,
  LoggedEvent,
  NewDevice,
  NewFactor,
  NewSession,
  PasswordClaim,
  RefreshUse,
  Spend,
  TrustedDevice,
  User,
  UserWithFactors,
} from './values.js';

/** For key rotation: an authenticator's sealed secret, as read, and what replaces it. */
interface Reseal {
  factorId: string;
  before: string;
  after: string;
}

interface Store {
  // Users (users.ts)

  /** A new user; false (and nothing stored) if the id or the name is taken. */
  createUser(user: { id: string; username: string; passwordHash: string; now: number }): Promise<boolean>;
  userByName(username: string): Promise<User | undefined>;
  userById(id: string): Promise<User | undefined>;
  /** A user and their authenticators, by id or by (normalized) name, in one query. */
  userWithFactors(by: { id: string } | { username: string }): Promise<UserWithFactors | undefined>;
  /**
   * Users by name with their authenticators' status ('active' if any is;
   * null: none): all of them, or a page of those whose name contains
   * `search`, after the name `after`.
   */
  listUsers(page?: {
    search?: string;
    after?: string;
    limit?: number;
  }): Promise<(User & { factor: Factor['status'] | null })[]>;
  /** A new password hash; every session but `keep` ends and every trusted device is revoked. */
  changePassword(userId: string, passwordHash: string, keep: string | null, now: number): Promise<boolean>;
  /**
   * Deactivates a user (their sessions, challenges and trusted devices end)
   * or reactivates one; false if there is no such user.
   */
  setDeactivated(userId: string, deactivated: boolean, now: number): Promise<boolean>;
  /** An operator's unlock: also lifts a permanent lock and the password throttle. */
  unlock(userId: string): Promise<boolean>;

  // The attempt budgets (budgets.ts)

  /**
   * The password step's throttle: claims a failure before the KDF runs (a
   * success gives it back), so a burst cannot try more passwords than the
   * limit. A window starts at the first failure after the last one ended.
   */
  claimPasswordAttempt(userId: string, now: number): Promise<PasswordClaim>;
  /** Gives back a claimed password attempt (a right password, or a fault of ours). */
  refundPasswordAttempt(userId: string): Promise<void>;

  // TOTP authenticators (factors.ts)

  /** The user's authenticators, oldest first. */
  factors(userId: string): Promise<Factor[]>;
  /**
   * Inserts a pending authenticator unless the user has one; returns the
   * pending one that is stored (undefined if a racing confirm just turned it
   * on). `replacing`: the id of a pending one (another session's) to delete first.
   */
  putPendingFactor(f: NewFactor, replacing?: string): Promise<Factor | undefined>;
  /** Deletes a pending authenticator (an enrollment cancelled); an active one of that id stays. */
  discardPendingFactor(userId: string, factorId: string): Promise<void>;
  /**
   * Pending to active, named, with the confirming code's counter: with
   * `backupCodes`, the first authenticator (while the user has none) and a
   * fresh set of backup codes; without, another one (while the user has at
   * least one and fewer than `maxActive`). The confirming session (if
   * any) has now passed a second factor; every other session of the user
   * ends. False, with nothing changed, if that one is not (or no longer)
   * pending or the user is at the limit.
   */
  activateFactor(a: {
    userId: string;
    factorId: string;
    name: string;
    counter: number;
    maxActive: number;
    backupCodes?: { hashes: string[]; ids: string[] };
    now: number;
    sessionId?: string | null;
  }): Promise<boolean>;
  /** Renames an active authenticator; false if there is none of that id. */
  renameFactor(userId: string, factorId: string, name: string): Promise<boolean>;
  /**
   * Removes an active authenticator while the user has another active one,
   * and ends every session but `keep`; false, with nothing changed, otherwise
   * (removing the last one is deleteFactors: 2FA off).
   */
  removeFactor(r: { userId: string; factorId: string; keep: string | null; now: number }): Promise<boolean>;
  /** 2FA off: every authenticator and backup code goes, and every session but `keep` (null: all) ends. */
  deleteFactors(userId: string, keep: string | null, now: number): Promise<void>;

  // Backup codes (backup-codes.ts)

  backupCodes(userId: string): Promise<BackupCode[]>;
  /** New backup codes; every session but `keep` ends. */
  replaceBackupCodes(
    userId: string,
    codes: { hashes: string[]; ids: string[] },
    keep: string | null,
    now: number,
  ): Promise<void>;

  // The login's second step (login.ts)

  /** A login challenge after a right password, which gives its claimed password attempt back. */
  createChallenge(c: { tokenHash: string; userId: string; now: number; expiresAt: number }): Promise<void>;
  /** A live login challenge's user and authenticators (unknown, used, expired or out of attempts: undefined); counts nothing. */
  loginChallenge(c: { tokenHash: string; now: number; maxAttempts: number }): Promise<UserWithFactors | undefined>;
  /**
   * Settles a second factor that was read and checked, in one transaction
   * (on PostgreSQL one statement), all or nothing: false, with nothing
   * changed, when any of its conditions no longer holds. It counts an attempt
   * on the login challenge, if any, while it is live. A pass needs the
   * account's budget open, resets it, spends the counter or backup code
   * (exactly one racing caller can), uses up the challenge, stores the audit
   * events and opens the session. A failure claims an attempt from the open
   * budget (the claim that reaches the limit sets the lock) and stores
   * `failed`, and `locked` if this attempt locks, each with the attempt's
   * number appended to its detail (`attempt`, `attempts`), and answers what
   * is left of the budgets. So no code is answered that was not counted, and
   * a burst is answered no more wrong codes than the budget allows.
   */
  settleSecondFactor(s: {
    userId: string;
    now: number;
    challenge?: { tokenHash: string; maxAttempts: number };
    outcome:
      | { passed: true; spend: Spend; session?: NewSession; audit: AuditEvent[] }
      | { passed: false; failed: AuditEvent; locked: AuditEvent };
  }): Promise<boolean | FailureCounted>;

  // Sessions and refresh tokens (sessions.ts)

  /**
   * A new session (and its first refresh token) after a right password, with
   * its audit events, in one transaction; the claimed password attempt is
   * given back. With `device`, a trusted device's token rotates in it too.
   * False, with nothing changed, if the user's epoch moved on since the
   * sign-in read it (a 2FA change in between) or the device's token did.
   */
  createSession(session: NewSession, audit?: AuditEvent[], device?: DeviceUse): Promise<boolean>;
  /**
   * Rotates a refresh token: marks it used and adds its successor, once. A
   * token used before means it was stolen or replayed: its session is revoked.
   */
  useRefreshToken(tokenHash: string, next: { tokenHash: string; now: number; expiresAt: number }): Promise<RefreshUse>;
  /** The session if it is live: not revoked and not past its absolute end. */
  liveSession(sessionId: string, now: number): Promise<LiveSession | undefined>;
  /** Ends every session of a user but `keep` (null: all), and revokes their trusted devices. */
  revokeSessions(userId: string, keep: string | null, now: number): Promise<void>;
  revokeSession(sessionId: string, now: number): Promise<void>;
  /** A live session's methods after a step-up (a trusted device's session that then passed a code). */
  stepUpSession(sessionId: string, amr: Amr[]): Promise<void>;

  // Trusted devices (devices.ts)

  trustDevice(d: NewDevice): Promise<void>;
  trustedDevice(id: string): Promise<TrustedDevice | undefined>;
  /** The user's live devices (not revoked, not expired), oldest first. */
  trustedDevices(userId: string, now: number): Promise<TrustedDevice[]>;
  /** Revokes the user's live devices, or the one of `id`; returns how many. */
  revokeTrustedDevices(userId: string, now: number, id?: string): Promise<number>;

  // Upkeep and key rotation (upkeep.ts)

  /**
   * Deletes what has expired: login challenges, refresh tokens, and sessions
   * past their absolute end (with their refresh tokens), at most `limit`
   * rows of each per call, oldest first. Safe to run from several processes.
   */
  prune(now: number, limit: number): Promise<number>;
  /**
   * Which key ids the stored values depend on: sealed secrets per key id, and
   * users with unused backup codes per key id, including ids that `known`
   * lacks (found one at a time; '(unreadable)' for a value of no known layout).
   */
  keyUsage(known: readonly string[]): Promise<KeyUsage>;
  /** A factor whose secret is sealed under `keyId`, to try the key on. */
  factorSealedBy(keyId: string): Promise<Factor | undefined>;
  countFactors(): Promise<number>;
  /** For key rotation: replaces an authenticator's sealed secret only if it is still the one read. */
  resealFactor(factorId: string, before: string, after: string): Promise<boolean>;
  /**
   * For key rotation: resealFactor for up to 10,000 changes at once, in one
   * statement (one transaction); returns how many secrets it replaced. A row
   * changed since it was read keeps its new value.
   */
  resealFactors(changes: readonly Reseal[]): Promise<number>;
  /** Authenticators in id order after `afterId`, for batch jobs that can stop and resume. */
  factorsAfter(afterId: string, limit: number): Promise<Factor[]>;

  // Audit (audit.ts)

  addAudit(e: AuditEvent): Promise<void>;
  /** The stored events among these ids (those a failed second factor's settle wrote). */
  auditByIds(ids: string[]): Promise<AuditEvent[]>;
  /** Stored events, oldest first (by time, then id), filtered; `after` is the last event of the page before. */
  audit(filter?: AuditFilter): Promise<LoggedEvent[]>;
}

export type { Reseal, Store };
