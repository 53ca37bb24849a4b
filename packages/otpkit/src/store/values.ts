// The values the store takes and gives: users, factors, backup codes,
// sessions, attempt claims, audit events, and the policies the budgets follow.

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
  /** When an operator deactivated the user (no sign-in); null: active. */
  deactivatedAt: number | null;
}

/** A TOTP authenticator: a user may have several active ones and one pending. */
interface Factor {
  id: string;
  userId: string;
  /** The user's name for it ("Phone"). */
  name: string;
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

/** A user and their authenticators, oldest first: the active ones and a pending one, if any. */
type UserWithFactors = { user: User; factors: Factor[] };

interface BackupCode {
  id: string;
  codeHash: string;
  usedAt: number | null;
}

interface NewFactor {
  id: string;
  userId: string;
  name: string;
  sessionId: string | null;
  sealedSecret: string;
  algorithm: string;
  digits: number;
  periodSeconds: number;
  now: number;
}

/** A password attempt claimed before the KDF runs, or the end of the window that refuses it. */
type PasswordClaim = { ok: true } | { ok: false; retryAt: number };

/** A failed second factor, counted: what is left of the budgets after it. */
interface FailureCounted {
  /** Wrong codes before the account locks; 0: this one locked it (or it already was). */
  attemptsLeft: number;
  /** When the lock this attempt left ends; null: until an operator unlocks; undefined: not locked. */
  lockedUntil?: number | null;
  /** At sign-in: the codes this challenge still takes. */
  challengeAttemptsLeft?: number;
}

/** What a second factor that passed spends: a TOTP counter or a backup code. */
type Spend = { factorId: string; counter: number } | { backupCodeId: string };

/**
 * RFC 8176 authentication method references: password, then a TOTP code or a
 * backup code, or a trusted device ('device': no second factor this time).
 */
type Amr = 'pwd' | 'otp' | 'backup' | 'device';

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

/** A browser trusted to skip the second factor until expiresAt. */
interface TrustedDevice {
  id: string;
  userId: string;
  /** SHA-256 of the cookie's current secret. */
  tokenHash: string;
  name: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

interface NewDevice {
  id: string;
  userId: string;
  tokenHash: string;
  name: string;
  now: number;
  expiresAt: number;
}

/** A sign-in on a trusted device: its token as presented, and the next one. */
interface DeviceUse {
  id: string;
  userId: string;
  tokenHash: string;
  nextHash: string;
  now: number;
}

/** A live session: not revoked, not past its absolute end. */
interface LiveSession {
  userId: string;
  amr: Amr[];
  expiresAt: number;
}

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
  | 'authenticator_renamed'
  | 'authenticator_removed'
  | 'backup_code_used'
  | 'backup_codes_rotated'
  | 'two_factor_disabled'
  | 'two_factor_reset'
  | 'password_changed'
  | 'user_deactivated'
  | 'user_reactivated'
  | 'refresh_token_reused'
  | 'trusted_device_added'
  | 'trusted_device_reused'
  | 'trusted_devices_revoked'
  | 'keys_rotated'
  | 'admin_action';

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

/** An event as read back, with its user's name now (null: no user, or one since deleted). */
type LoggedEvent = AuditEvent & { username: string | null };

/** Which audit events to read (all given conditions hold); times are Unix ms, `until` exclusive. */
interface AuditFilter {
  userId?: string;
  type?: AuditEventType;
  since?: number;
  until?: number;
  /** The last event of the previous page. */
  after?: { at: number; id: string };
  limit?: number;
}

/** How many stored values depend on each key id (see Store.keyUsage). */
interface KeyUsage {
  /** Sealed secrets per key id. */
  secrets: Map<string, number>;
  /** Users with unused backup codes per key id. */
  backupCodeUsers: Map<string, number>;
}

/** Attempt-budget policy (see budgets.ts): what a count of consecutive wrong codes means. */
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

export type {
  Amr,
  AuditEvent,
  AuditEventType,
  AuditFilter,
  BackupCode,
  BudgetPolicy,
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
  PasswordPolicy,
  RefreshUse,
  Spend,
  TrustedDevice,
  User,
  UserWithFactors,
};
