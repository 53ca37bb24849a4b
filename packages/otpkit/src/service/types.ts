// The service's declared API: what the HTTP hosts, the CLI and embedding apps
// code against, and the dependencies it is built from.

import type { Algorithm, KeyRing, RandomBytes } from '@otpkit/core';
import type { Amr, AuditEvent, LoggedEvent, Store } from '../store/store.js';
import type { ScryptParams } from './passwords.js';
import type { TokenSigner } from './tokens.js';

interface ServiceConfig {
  /** The issuer authenticator apps show next to the account. */
  issuer: string;
  /** New enrollments' parameters: SHA-1, 6 digits, 30 s unless set (what every app supports). */
  enrollment: { algorithm: Algorithm; digits: number; periodSeconds: number };
  /** TOTP steps accepted each side of now. */
  windowSteps: number;
  /** Backup codes made at a time. */
  backupCodes: number;
  /** Active authenticators a user may have at once. */
  maxAuthenticators: number;
  /** How long "trust this browser" lasts; 0: the feature is off. */
  trustedDeviceDays: number;
  /** Users without 2FA get an enrollment-only session after the password (see Policy.requireTwoFactor). */
  requireTwoFactor: boolean;
  challengeTtlMs: number;
  challengeMaxAttempts: number;
  accessTokenTtlSeconds: number;
  refreshTokenTtlMs: number;
  /** A session's absolute lifetime from sign-in; refreshing cannot extend it. */
  sessionMaxAgeMs: number;
  scrypt: ScryptParams;
  /** Password hashes computed at once (see createHashGate). */
  passwordHashConcurrency: number;
}

interface ServiceDeps {
  store: Store;
  ring: KeyRing;
  tokens: TokenSigner;
  config: ServiceConfig;
  /** Unix milliseconds. */
  now: () => number;
  /** A CSPRNG: every id, token, salt, secret, nonce and backup code comes from it. */
  random: RandomBytes;
  /**
   * Receives every audit event once it is stored, after the request's own
   * work: a listener that throws or rejects is reported to onEventError and
   * never fails a request; one that is slow delays nothing it does not block.
   */
  onEvent?: (event: AuditEvent) => void | Promise<void>;
  onEventError?: (error: unknown, event: AuditEvent) => void;
}

/** A second factor as the user gives it: a TOTP code or a backup code. */
type SecondFactorInput = { code: string; backupCode?: undefined } | { backupCode: string; code?: undefined };

interface Tokens {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
}

/** A trusted device's cookie to set: its value and how long it lives. */
interface DeviceCookie {
  token: string;
  maxAgeSeconds: number;
}

/** A trusted device as its user sees it. */
interface DeviceView {
  id: string;
  /** From the user agent that was trusted ("Firefox on Linux"). */
  name: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  /** Whether it is the browser asking. */
  current: boolean;
}

type LoginResult =
  /** `device`: a trusted device's next cookie, when the sign-in used one. */
  | { status: 'authenticated'; tokens: Tokens; device?: DeviceCookie }
  /** requireTwoFactor, and the user has no 2FA yet: tokens of a session that may only enroll and confirm. */
  | { status: 'enrollment_required'; tokens: Tokens }
  | {
      status: 'second_factor_required';
      challenge: string;
      expiresAt: string;
      methods: ('totp' | 'backup_code')[];
      /** How long verify's trustDevice trusts this browser; 0: not offered. */
      trustDeviceDays: number;
    };

interface RequestContext {
  ip: string | null;
  /** The User-Agent header, to name a trusted device. */
  userAgent?: string | null;
}

/**
 * Who acts: a user, and the otpkit session they act in. An embedding app that
 * keeps its own sessions passes sessionId and amr null: it vouches for the
 * user, and its own sign-in decides whether they passed a second factor.
 */
interface Actor {
  userId: string;
  sessionId: string | null;
  amr: Amr[] | null;
}

/** A pending enrollment as the user sees it (the HTTP layer adds the QR code). */
interface EnrollmentView {
  /** The authenticator being enrolled. */
  authenticatorId: string;
  /** Its name until the confirm names it ("Authenticator", "Authenticator 2", ...). */
  name: string;
  /** Canonical base32. */
  secret: string;
  /** The same in groups of four, for typing. */
  secretGrouped: string;
  /** The otpauth:// key URI. */
  uri: string;
  algorithm: string;
  digits: number;
  periodSeconds: number;
}

/** An active authenticator as its user sees it: never its secret. */
interface AuthenticatorView {
  id: string;
  name: string;
  algorithm: string;
  digits: number;
  periodSeconds: number;
  createdAt: string;
  confirmedAt: string | null;
  /** The start of the time step of the last code it accepted; null before the first. */
  lastUsedAt: string | null;
}

interface TwoFactorStatus {
  enabled: boolean;
  pending: boolean;
  algorithm: string | null;
  digits: number | null;
  periodSeconds: number | null;
  confirmedAt: string | null;
  /** The server requires 2FA (requireTwoFactor): it cannot be turned off by the user. */
  required: boolean;
  /** The active authenticators, oldest first (algorithm, digits, periodSeconds and confirmedAt above are the first's). */
  authenticators: AuthenticatorView[];
  backupCodesRemaining: number;
  locked: boolean;
  lockedUntil: string | null;
}

interface Profile {
  id: string;
  username: string;
  createdAt: string;
  twoFactorEnabled: boolean;
}

/** A user as an operator lists them; the CLI words it. */
interface UserSummary {
  username: string;
  twoFactor: 'active' | 'pending' | 'off';
  /** ISO time while a temporary lock holds, else null. */
  lockedUntil: string | null;
  lockedPermanently: boolean;
  /** ISO time the user was deactivated; null: active. */
  deactivatedAt: string | null;
  createdAt: string;
}

/** A user as the admin API lists them. */
type AdminUser = UserSummary & { id: string };

interface UserPage {
  users: AdminUser[];
  /** Pass as `cursor` for the next page; null: this was the last. */
  nextCursor: string | null;
}

/** One user's 2FA state, as an operator sees it: never a secret or a code. */
interface UserState {
  user: AdminUser;
  twoFactor: {
    enabled: boolean;
    pending: boolean;
    authenticators: AuthenticatorView[];
    backupCodesRemaining: number;
    /** Consecutive wrong second factors (the budget's count). */
    failedAttempts: number;
  };
  /** Live trusted devices. */
  trustedDevices: number;
}

interface AuditPage {
  events: (Omit<LoggedEvent, 'at'> & { at: string })[];
  nextCursor: string | null;
}

interface KeyRotation {
  checked: number;
  resealed: number;
  /** Old keys that unused backup codes still depend on (they cannot be re-keyed without the codes). */
  backupCodesOnOldKeys: { keyId: string; users: number }[];
}

interface Service {
  // Accounts
  register(username: string, password: string, context: RequestContext): Promise<{ id: string; username: string }>;
  /** For apps that keep their own accounts: makes sure otpkit knows the user (no password). */
  ensureUser(id: string, username: string): Promise<void>;
  me(userId: string): Promise<Profile>;
  // The two-step login
  /** `device`: a trusted device's cookie, which stands in for the second factor while it is live. */
  login(username: string, password: string, context: RequestContext, device?: string): Promise<LoginResult>;
  /** With `trustDevice`, the answer carries a cookie that trusts this browser (trustedDeviceDays). */
  loginVerify(
    challenge: string,
    input: SecondFactorInput,
    context: RequestContext,
    options?: { trustDevice?: boolean },
  ): Promise<Tokens & { device?: DeviceCookie }>;
  // Sessions and tokens
  refresh(refreshToken: string, context: RequestContext): Promise<Tokens>;
  /**
   * The live session behind an access token. Under requireTwoFactor, a
   * session without a second factor (amr pwd alone) is refused with
   * ENROLLMENT_REQUIRED unless `enrollment` says the caller is one of the
   * routes that turn 2FA on.
   */
  authenticate(
    accessToken: string,
    options?: { enrollment?: boolean },
  ): Promise<Actor & { sessionId: string; amr: Amr[] }>;
  /** Takes the current password, and a second factor when 2FA is on; other sessions and trusted devices end. */
  changePassword(
    actor: Actor,
    change: { currentPassword: string; newPassword: string; secondFactor?: SecondFactorInput },
    context: RequestContext,
  ): Promise<void>;
  logout(actor: Actor & { sessionId: string }, context: RequestContext): Promise<void>;
  // Enrollment and the factor's life
  enroll(actor: Actor, context: RequestContext): Promise<EnrollmentView>;
  /** Turns the pending authenticator on; the first one also returns the backup codes, once. */
  confirm(
    actor: Actor,
    code: string,
    context: RequestContext,
    name?: string,
  ): Promise<{ backupCodes?: string[]; authenticator: AuthenticatorView }>;
  status(actor: Actor): Promise<TwoFactorStatus>;
  /** Cancels this session's pending enrollment (its secret is discarded). */
  cancelEnrollment(actor: Actor): Promise<void>;
  validate(
    actor: Actor,
    input: SecondFactorInput,
    context: RequestContext,
  ): Promise<{ valid: true; method: 'totp' | 'backup_code' }>;
  disable(actor: Actor, input: SecondFactorInput, context: RequestContext): Promise<void>;
  rotateBackupCodes(actor: Actor, code: string, context: RequestContext): Promise<{ backupCodes: string[] }>;
  // Several authenticators
  authenticators(actor: Actor): Promise<AuthenticatorView[]>;
  renameAuthenticator(actor: Actor, id: string, name: string, context: RequestContext): Promise<void>;
  /** Takes a code from another authenticator or a backup code; the last one goes as disable does (2FA off). */
  removeAuthenticator(
    actor: Actor,
    id: string,
    input: SecondFactorInput,
    context: RequestContext,
  ): Promise<{ twoFactorEnabled: boolean }>;
  // Trusted devices
  /** The user's live trusted devices; `cookie` marks the asking browser's. */
  trustedDevices(actor: Actor, cookie?: string): Promise<DeviceView[]>;
  revokeTrustedDevice(actor: Actor, id: string, context: RequestContext): Promise<void>;
  revokeTrustedDevices(actor: Actor, context: RequestContext): Promise<void>;
  // Operator actions
  listUsers(): Promise<UserSummary[]>;
  unlock(username: string): Promise<void>;
  resetTwoFactor(username: string): Promise<void>;
  /** No sign-in while deactivated; the user's sessions, challenges and trusted devices end. */
  deactivate(username: string): Promise<void>;
  reactivate(username: string): Promise<void>;
  rotateKeys(onProgress?: (done: number, total: number) => void): Promise<KeyRotation>;
  // The admin API and `otpkit audit`
  /** Users by name, a page at a time, those whose name contains `search` if given. */
  usersPage(query: { search?: string; cursor?: string; limit?: number }): Promise<UserPage>;
  userState(username: string): Promise<UserState>;
  /** Ends every session of the user, and revokes their trusted devices. */
  revokeUserSessions(username: string): Promise<void>;
  revokeUserDevices(username: string): Promise<void>;
  /** The audit log oldest first, filtered by user, type and time (ISO), a page at a time. */
  auditLog(query: {
    username?: string;
    type?: string;
    since?: string;
    until?: string;
    cursor?: string;
    limit?: number;
  }): Promise<AuditPage>;
  /** Stores the event an admin request leaves (`admin_action`: the action, the user it named, how it ended). */
  recordAdminAction(action: string, username: string | null, context: RequestContext, outcome: string): Promise<void>;
  checkKeys(): Promise<void>;
  prune(limit: number): Promise<number>;
}

export type {
  Actor,
  AdminUser,
  AuditPage,
  AuthenticatorView,
  DeviceCookie,
  DeviceView,
  EnrollmentView,
  KeyRotation,
  LoginResult,
  Profile,
  RequestContext,
  SecondFactorInput,
  Service,
  ServiceConfig,
  ServiceDeps,
  Tokens,
  TwoFactorStatus,
  UserPage,
  UserState,
  UserSummary,
};
