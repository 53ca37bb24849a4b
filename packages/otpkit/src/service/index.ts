// The use cases of the otpkit server: accounts, TOTP enrollment and its
// lifecycle, backup codes, the two-step login, tokens, and operator actions.
// Time and randomness for codes come from the deps; storage is the Store.

import { randomUUID } from 'node:crypto';
import {
  type Algorithm,
  BACKUP_CODE_ALPHABET,
  base32Encode,
  checkBackupCode,
  createTotp,
  formatKeyUri,
  generateBackupCodes,
  generateSecret,
  groupSecret,
  hashBackupCode,
  type KeyRing,
  openSecret,
  sealSecret,
  type Totp,
} from '@otpkit/core';
import { qrDataUrl, qrSvg } from '../qr/index.js';
import type {
  Amr,
  AttemptClaim,
  AuditEvent,
  AuditEventType,
  Factor,
  NewSession,
  Spend,
  Store,
  User,
  UserWithFactor,
} from '../store/store.js';
import { ServiceError } from './errors.js';
import { createHashGate, hashPassword, type ScryptParams, verifyPassword } from './passwords.js';
import { hashToken, opaqueToken, type TokenSigner, timeOrderedId } from './tokens.js';

interface ServiceConfig {
  /** The issuer authenticator apps show next to the account. */
  issuer: string;
  /** New enrollments' parameters: SHA-1, 6 digits, 30 s unless set (what every app supports). */
  enrollment: { algorithm: Algorithm; digits: number; periodSeconds: number };
  /** TOTP steps accepted each side of now. */
  windowSteps: number;
  /** Backup codes made at a time. */
  backupCodes: number;
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

type LoginResult =
  | { status: 'authenticated'; tokens: Tokens }
  | { status: 'second_factor_required'; challenge: string; expiresAt: string; methods: ('totp' | 'backup_code')[] };

interface RequestContext {
  ip: string | null;
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

/** Seconds until a time in Unix ms, at least 1: a Retry-After value. */
const secondsUntil = (atMs: number, nowMs: number) => Math.max(1, Math.ceil((atMs - nowMs) / 1000));
const passedSecondFactor = (amr: readonly Amr[]) => amr.includes('otp') || amr.includes('backup');
/** A Retry-After for SERVER_BUSY: about three KDF runs. */
const BUSY_RETRY_SECONDS = 1;

const MAX_USERNAME = 64;
const MIN_PASSWORD = 8; // NIST SP 800-63B §3.1.1.2
const MAX_PASSWORD = 256;
const BACKUP_CODE_SHAPE = new RegExp(`^[${BACKUP_CODE_ALPHABET}]{18}$`);

/** NFKC, trimmed, lowercase: one account per name however it is typed. */
function normalizeUsername(username: string): string {
  const name = username.normalize('NFKC').trim().toLowerCase();
  // \p{C}: control and format characters (zero-width, bidi overrides), and
  // unassigned or private-use ones: a name must look like what it is.
  if (name.length < 1 || name.length > MAX_USERNAME || /[\p{C}\p{Z}:]/u.test(name)) {
    throw new ServiceError(
      'INPUT_INVALID',
      `username must be 1 to ${MAX_USERNAME} characters without spaces, colons, control or invisible characters`,
    );
  }
  return name;
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    throw new ServiceError('INPUT_INVALID', `password must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`);
  }
}

const factorData = (factor: Pick<Factor, 'userId' | 'id'>) => ({
  associatedData: `user:${factor.userId}/factor:${factor.id}`,
});

function createService(deps: ServiceDeps) {
  const { store, ring, tokens, config } = deps;
  const nowMs = () => deps.now();
  const gated = createHashGate(
    config.passwordHashConcurrency,
    () => new ServiceError('SERVER_BUSY', 'too many sign-ins at once: try again in a moment', BUSY_RETRY_SECONDS),
  );

  /** Hands an event to the listener on a later turn of the event loop, its failures caught. */
  function emit(e: AuditEvent): void {
    const { onEvent, onEventError } = deps;
    if (!onEvent) return;
    setImmediate(() => {
      const failed = (error: unknown) => onEventError?.(error, e);
      try {
        Promise.resolve(onEvent(e)).catch(failed);
      } catch (error) {
        failed(error);
      }
    });
  }

  function event(
    type: AuditEventType,
    userId: string | null,
    context: RequestContext,
    detail?: Record<string, unknown>,
  ): AuditEvent {
    const at = nowMs();
    return { id: timeOrderedId(at), at, type, userId, ip: context.ip, detail: detail ?? null };
  }
  async function audit(
    type: AuditEventType,
    userId: string | null,
    context: RequestContext,
    detail?: Record<string, unknown>,
  ) {
    const e = event(type, userId, context, detail);
    await store.addAudit(e);
    emit(e);
  }

  async function userOrThrow(userId: string): Promise<User> {
    const user = await store.userById(userId);
    if (!user) throw new ServiceError('USER_NOT_FOUND', 'no such user');
    return user;
  }

  /** A new session (refresh-token family) and its first refresh token. */
  function newSession(user: User, amr: Amr[]): { row: NewSession; refreshToken: string } {
    const now = nowMs();
    const refresh = opaqueToken();
    const sessionExpiresAt = now + config.sessionMaxAgeMs;
    return {
      row: {
        id: timeOrderedId(now),
        userId: user.id,
        epoch: user.sessionEpoch,
        amr,
        tokenHash: refresh.hash,
        now,
        expiresAt: Math.min(now + config.refreshTokenTtlMs, sessionExpiresAt),
        sessionExpiresAt,
      },
      refreshToken: refresh.token,
    };
  }

  function tokensFor(session: { row: NewSession; refreshToken: string }): Tokens {
    const { id, userId, amr, now } = session.row;
    return {
      accessToken: tokens.sign({ userId, sessionId: id, amr }, now / 1000),
      tokenType: 'Bearer',
      expiresIn: config.accessTokenTtlSeconds,
      refreshToken: session.refreshToken,
    };
  }

  /**
   * The actor's user and factor. Once 2FA is on, an otpkit session must have
   * passed it to touch 2FA settings (a password-only session from before
   * 2FA was turned on is revoked then; this holds if one slips through).
   */
  async function userWithFactor(actor: Actor): Promise<UserWithFactor> {
    const found = await store.userWithFactor({ id: actor.userId });
    if (!found) throw new ServiceError('USER_NOT_FOUND', 'no such user');
    if (found.factor?.status === 'active' && actor.amr !== null && !passedSecondFactor(actor.amr)) {
      throw new ServiceError('SECOND_FACTOR_REQUIRED', 'sign in with your second factor to change 2FA settings');
    }
    return found;
  }

  async function enrollmentView(user: User, factor: Factor) {
    const { secret } = await openSecret(ring, factor.sealedSecret, factorData(factor));
    const uri = formatKeyUri({
      secret,
      account: user.username,
      issuer: config.issuer,
      algorithm: factor.algorithm as Algorithm,
      digits: factor.digits,
      periodSeconds: factor.periodSeconds,
    });
    const base32 = base32Encode(secret);
    return {
      secret: base32,
      secretGrouped: groupSecret(base32),
      uri,
      qrSvg: await qrSvg(uri),
      qrPng: await qrDataUrl(uri),
      algorithm: factor.algorithm,
      digits: factor.digits,
      periodSeconds: factor.periodSeconds,
    };
  }

  /** The factor's TOTP, its key opened from the vault. */
  async function totpOf(factor: Factor): Promise<Totp> {
    const { secret } = await openSecret(ring, factor.sealedSecret, factorData(factor));
    return createTotp({
      secret,
      algorithm: factor.algorithm as Algorithm,
      digits: factor.digits,
      periodSeconds: factor.periodSeconds,
    });
  }

  const malformed = () => new ServiceError('CODE_MALFORMED', 'the code is not in the expected format');

  /** A TOTP code's number of digits (spaces dropped), or null for a backup code; CODE_MALFORMED if it is neither. */
  function codeDigits(input: SecondFactorInput): number | null {
    if (input.code === undefined) {
      if (!BACKUP_CODE_SHAPE.test(input.backupCode.replace(/[\s-]/g, '').toUpperCase())) throw malformed();
      return null;
    }
    const code = input.code.replaceAll(' ', '');
    if (!/^[0-9]{1,10}$/.test(code)) throw malformed();
    return code.length;
  }

  function checkCodeShape(input: SecondFactorInput, factor: Factor): void {
    const digits = codeDigits(input);
    if (digits !== null && digits !== factor.digits) throw malformed();
  }

  /**
   * Checks a second factor for an account with 2FA on. An attempt is claimed
   * from the account's budget before the code is looked at, so no burst can
   * evaluate more codes than the budget allows. A pass is settled in one
   * transaction with what follows from it (`then`): the counter or backup
   * code spent, the challenge used up, the budget reset, the session opened.
   * `claimed`: the attempt, if the caller claimed it already (the login does).
   * A fault of ours after the claim (anything but a ServiceError) gives the
   * attempt back: a 5xx never costs the user budget.
   */
  async function checkSecondFactor(
    { user, factor }: UserWithFactor,
    input: SecondFactorInput,
    context: RequestContext,
    then: { challengeHash?: string; session?: NewSession; audit?: AuditEvent[] } = {},
    claimed?: AttemptClaim,
  ): Promise<'totp' | 'backup_code'> {
    if (factor?.status !== 'active')
      throw new ServiceError('TWO_FACTOR_NOT_ENABLED', 'two-factor authentication is not on');
    checkCodeShape(input, factor);
    const now = nowMs();
    let claim = claimed;
    try {
      // Opened before our own claim: a key the ring cannot use costs nothing.
      const totp = input.code !== undefined ? await totpOf(factor) : undefined;
      claim ??= await store.claimAttempt(user.id, now);
      if (!claim.ok) {
        throw new ServiceError(
          'SECOND_FACTOR_LOCKED',
          claim.permanent
            ? 'too many wrong codes: an operator must unlock this account'
            : 'too many wrong codes: try again later',
          claim.permanent ? undefined : secondsUntil(claim.lockedUntil, now),
        );
      }
      return await evaluate({ user, factor }, totp, input, context, then, claim.attempt, now);
    } catch (error) {
      if (claim?.ok && !(error instanceof ServiceError)) {
        await store.refundAttempt(user.id, then.challengeHash).catch(() => undefined); // the database may be gone too
      } else if (claim?.ok && claim.locks) {
        await audit('second_factor_locked', user.id, context, { attempts: claim.attempt });
      }
      throw error;
    }
  }

  /** The verdict on a claimed attempt: settles a pass, or records a failure and throws CODE_WRONG / CODE_REUSED. */
  async function evaluate(
    { user, factor }: { user: User; factor: Factor },
    totp: Totp | undefined,
    input: SecondFactorInput,
    context: RequestContext,
    then: { challengeHash?: string; session?: NewSession; audit?: AuditEvent[] },
    attempt: number,
    now: number,
  ): Promise<'totp' | 'backup_code'> {
    const method = input.code !== undefined ? 'totp' : 'backup_code';
    const events = [...(then.audit ?? [])];
    let spend: Spend | undefined;
    let reused = false;
    if (totp !== undefined && input.code !== undefined) {
      const result = totp.verify(input.code, {
        nowSeconds: now / 1000,
        window: config.windowSteps,
        afterCounter: factor.lastCounter >= 0 ? factor.lastCounter : undefined,
      });
      if (result.ok) spend = { factorId: factor.id, counter: result.counter };
      else reused = result.reason === 'reused';
    } else if (input.backupCode !== undefined) {
      const codes = await store.backupCodes(user.id);
      const result = checkBackupCode(
        ring,
        input.backupCode,
        codes.map((c) => c.codeHash),
      );
      const matched = result.ok ? codes[result.index]! : undefined;
      if (matched?.usedAt === null) {
        spend = { backupCodeId: matched.id };
        const remaining = codes.filter((c) => c.usedAt === null).length - 1;
        events.unshift(event('backup_code_used', user.id, context, { remaining }));
      } else {
        reused = matched !== undefined;
      }
    }
    // RFC 6238 §5.2: spending is one conditional update, so of any requests
    // racing with the same code, one wins and the rest see it reused.
    if (spend) {
      if (await store.acceptSecondFactor({ userId: user.id, spend, now, ...then, audit: events })) {
        for (const e of events) emit(e);
        return method;
      }
      reused = true;
    }
    await audit('second_factor_failed', user.id, context, { method, reason: reused ? 'reused' : 'wrong', attempt });
    throw reused
      ? new ServiceError('CODE_REUSED', 'this code was already used')
      : new ServiceError('CODE_WRONG', 'the code is not valid');
  }

  async function freshBackupCodes(userId: string) {
    const codes = generateBackupCodes({ count: config.backupCodes });
    return {
      codes,
      hashes: codes.map((code) => hashBackupCode(ring, code)),
      ids: codes.map(() => randomUUID()),
      userId,
    };
  }

  return {
    async register(username: string, password: string, context: RequestContext) {
      const name = normalizeUsername(username);
      checkPassword(password);
      const id = randomUUID();
      const created = await store.createUser({
        id,
        username: name,
        passwordHash: await gated(() => hashPassword(password, config.scrypt)),
        now: nowMs(),
      });
      if (!created) throw new ServiceError('USERNAME_TAKEN', 'that username is taken');
      await audit('user_registered', id, context);
      return { id, username: name };
    },

    /**
     * For apps that embed the TOTP routes and keep their own accounts: makes
     * sure otpkit knows the user (no password: it cannot log in through otpkit).
     */
    async ensureUser(id: string, username: string) {
      if (await store.userById(id)) return;
      await store.createUser({ id, username: normalizeUsername(username), passwordHash: '!', now: nowMs() });
    },

    /**
     * Step one. A known account's password attempt is claimed from its
     * throttle before the KDF runs (a right password gives it back); an
     * unknown name costs the same KDF run (verifyPassword of an empty hash).
     */
    async login(username: string, password: string, context: RequestContext): Promise<LoginResult> {
      let found: UserWithFactor | undefined;
      try {
        found = await store.userWithFactor({ username: normalizeUsername(username) });
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        found = undefined; // a name that cannot exist is an unknown user: same answer, same cost
      }
      const now = nowMs();
      if (found) {
        const claim = await store.claimPasswordAttempt(found.user.id, now);
        if (!claim.ok) {
          await audit('login_throttled', found.user.id, context);
          throw new ServiceError(
            'LOGIN_THROTTLED',
            'too many wrong passwords for this account: try again later',
            secondsUntil(claim.retryAt, now),
          );
        }
      }
      let ok: boolean;
      try {
        ok = await gated(() => verifyPassword(password, found?.user.passwordHash ?? '', config.scrypt));
      } catch (error) {
        if (found) await store.refundPasswordAttempt(found.user.id).catch(() => undefined);
        throw error;
      }
      if (!found || !ok) {
        await audit('login_failed', found?.user.id ?? null, context, { reason: 'credentials' });
        throw new ServiceError('CREDENTIALS_INVALID', 'wrong username or password');
      }
      let { user, factor } = found;
      // A password alone opens a session only while 2FA is off, and only if it
      // did not come on while the KDF ran (the session's epoch would be stale).
      for (let tries = 0; factor?.status !== 'active'; tries++) {
        const session = newSession(user, ['pwd']);
        const login = event('login', user.id, context, { secondFactor: 'none' });
        if (await store.createSession(session.row, [login])) {
          emit(login);
          return { status: 'authenticated', tokens: tokensFor(session) };
        }
        const again = await store.userWithFactor({ id: user.id });
        if (!again || tries >= 2) {
          await store.refundPasswordAttempt(user.id);
          throw new ServiceError('SERVER_BUSY', 'the account changed while signing in: try again', BUSY_RETRY_SECONDS);
        }
        ({ user, factor } = again);
      }
      const { token, hash } = opaqueToken();
      await store.createChallenge({ tokenHash: hash, userId: user.id, now, expiresAt: now + config.challengeTtlMs });
      return {
        status: 'second_factor_required',
        challenge: token,
        expiresAt: new Date(now + config.challengeTtlMs).toISOString(),
        methods: ['totp', 'backup_code'],
      };
    },

    async loginVerify(challenge: string, input: SecondFactorInput, context: RequestContext): Promise<Tokens> {
      const challengeHash = hashToken(challenge);
      const found = await store.claimLoginAttempt({
        tokenHash: challengeHash,
        now: nowMs(),
        maxAttempts: config.challengeMaxAttempts,
        digits: codeDigits(input),
      });
      if (!found)
        throw new ServiceError('CHALLENGE_INVALID', 'the login challenge is unknown, used, expired or out of attempts');
      const userId = found.user.id;
      const method = input.code !== undefined ? 'totp' : 'backup_code';
      const session = newSession(found.user, ['pwd', method === 'totp' ? 'otp' : 'backup']);
      await checkSecondFactor(
        found,
        input,
        context,
        { challengeHash, session: session.row, audit: [event('login', userId, context, { secondFactor: method })] },
        found.attempt,
      );
      return tokensFor(session);
    },

    /** A new access token and refresh token, never past the session's absolute end. */
    async refresh(refreshToken: string, context: RequestContext): Promise<Tokens> {
      const next = opaqueToken();
      const now = nowMs();
      const use = await store.useRefreshToken(hashToken(refreshToken), {
        tokenHash: next.hash,
        now,
        expiresAt: now + config.refreshTokenTtlMs,
      });
      if (use.status === 'reused') await audit('refresh_token_reused', use.userId, context, { sessionRevoked: true });
      if (use.status !== 'ok') throw new ServiceError('TOKEN_INVALID', 'the refresh token is unknown, used or expired');
      return {
        accessToken: tokens.sign({ userId: use.userId, sessionId: use.sessionId, amr: use.amr }, now / 1000),
        tokenType: 'Bearer',
        expiresIn: config.accessTokenTtlSeconds,
        refreshToken: next.token,
      };
    },

    /**
     * The actor behind an access token whose session is live (not revoked, not
     * past its end). How it was authenticated comes from the session, which a
     * confirmed enrollment upgrades, not from the token.
     */
    async authenticate(accessToken: string): Promise<Actor & { sessionId: string; amr: Amr[] }> {
      const now = nowMs();
      const claims = tokens.verify(accessToken, now / 1000);
      const session = await store.liveSession(claims.sessionId, now);
      if (!session || session.userId !== claims.userId) {
        throw new ServiceError('TOKEN_INVALID', 'the access token is missing, expired or invalid');
      }
      return { userId: claims.userId, sessionId: claims.sessionId, amr: session.amr };
    },

    async logout(actor: Actor & { sessionId: string }, context: RequestContext) {
      await store.revokeSession(actor.sessionId, nowMs());
      await audit('logout', actor.userId, context);
    },

    async me(userId: string) {
      const user = await userOrThrow(userId);
      const factor = await store.factor(userId);
      return {
        id: user.id,
        username: user.username,
        createdAt: new Date(user.createdAt).toISOString(),
        twoFactorEnabled: factor?.status === 'active',
      };
    },

    /**
     * Starts enrollment, or shows this session's pending one again (a closed
     * tab is not a new secret). A pending secret is shown only to the session
     * that started it: another session starts over with a new secret.
     */
    async enroll(actor: Actor, context: RequestContext) {
      const { user, factor: existing } = await userWithFactor(actor);
      if (existing?.status === 'active')
        throw new ServiceError('TWO_FACTOR_ENABLED', 'two-factor authentication is already on');
      if (existing && existing.sessionId === actor.sessionId) return enrollmentView(user, existing);
      const id = randomUUID();
      const sealedSecret = await sealSecret(ring, generateSecret(), factorData({ userId: user.id, id }));
      const factor = await store.putPendingFactor(
        { id, userId: user.id, sessionId: actor.sessionId, sealedSecret, ...config.enrollment, now: nowMs() },
        existing?.id,
      );
      if (factor.id !== id) {
        if (factor.sessionId === actor.sessionId) return enrollmentView(user, factor);
        throw new ServiceError('ENROLLMENT_NOT_STARTED', 'another session started enrolling at the same moment');
      }
      await audit('enrollment_started', user.id, context);
      return enrollmentView(user, factor);
    },

    /**
     * A valid code turns this session's pending factor on and returns the
     * backup codes, once. The session has now passed a second factor; every
     * other session of the user ends, so a password alone no longer gets in.
     */
    async confirm(actor: Actor, code: string, context: RequestContext) {
      const { factor } = await userWithFactor(actor);
      if (factor?.status === 'active')
        throw new ServiceError('TWO_FACTOR_ENABLED', 'two-factor authentication is already on');
      if (!factor || factor.sessionId !== actor.sessionId)
        throw new ServiceError('ENROLLMENT_NOT_STARTED', 'start enrollment first (in this session)');
      checkCodeShape({ code }, factor);
      const result = (await totpOf(factor)).verify(code, { nowSeconds: nowMs() / 1000, window: config.windowSteps });
      if (!result.ok) throw new ServiceError('CODE_WRONG', 'the code is not valid');
      const backup = await freshBackupCodes(actor.userId);
      const activated = await store.activateFactor({
        userId: actor.userId,
        factorId: factor.id,
        counter: result.counter,
        codeHashes: backup.hashes,
        ids: backup.ids,
        now: nowMs(),
        sessionId: actor.sessionId,
      });
      if (!activated) {
        // Another request got there first: it turned 2FA on, or another session started enrolling over this one.
        if ((await store.factor(actor.userId))?.status === 'active')
          throw new ServiceError('TWO_FACTOR_ENABLED', 'two-factor authentication is already on');
        throw new ServiceError('ENROLLMENT_NOT_STARTED', 'another session started enrolling: start again here');
      }
      await audit('enrollment_confirmed', actor.userId, context);
      return { backupCodes: backup.codes };
    },

    async status(actor: Actor) {
      const { user, factor } = await userWithFactor(actor);
      const codes = factor?.status === 'active' ? await store.backupCodes(user.id) : [];
      const now = nowMs();
      return {
        enabled: factor?.status === 'active',
        pending: factor?.status === 'pending',
        algorithm: factor?.algorithm ?? null,
        digits: factor?.digits ?? null,
        periodSeconds: factor?.periodSeconds ?? null,
        confirmedAt: factor?.confirmedAt ? new Date(factor.confirmedAt).toISOString() : null,
        backupCodesRemaining: codes.filter((c) => c.usedAt === null).length,
        locked: user.lockedPermanently || user.lockedUntil > now,
        lockedUntil: user.lockedUntil > now ? new Date(user.lockedUntil).toISOString() : null,
      };
    },

    /** A step-up check of a code for a signed-in user. */
    async validate(actor: Actor, input: SecondFactorInput, context: RequestContext) {
      const method = await checkSecondFactor(await userWithFactor(actor), input, context);
      return { valid: true as const, method };
    },

    /** Turning 2FA off takes a current code or a backup code, not just a session; other sessions end. */
    async disable(actor: Actor, input: SecondFactorInput, context: RequestContext) {
      await checkSecondFactor(await userWithFactor(actor), input, context);
      await store.deleteFactor(actor.userId, actor.sessionId, nowMs());
      await audit('two_factor_disabled', actor.userId, context);
    },

    /** New backup codes (the old ones stop working); other sessions end. */
    async rotateBackupCodes(actor: Actor, code: string, context: RequestContext) {
      await checkSecondFactor(await userWithFactor(actor), { code }, context);
      const backup = await freshBackupCodes(actor.userId);
      await store.replaceBackupCodes(actor.userId, backup, actor.sessionId, nowMs());
      await audit('backup_codes_rotated', actor.userId, context);
      return { backupCodes: backup.codes };
    },

    // Operator actions (the admin CLI). Each ends every session of the user.

    async listUsers() {
      return (await store.listUsers()).map((u) => ({
        username: u.username,
        twoFactor: u.factor ?? 'off',
        locked: u.lockedPermanently
          ? 'until unlocked'
          : u.lockedUntil > nowMs()
            ? new Date(u.lockedUntil).toISOString()
            : 'no',
        createdAt: new Date(u.createdAt).toISOString(),
      }));
    },
    async unlock(username: string) {
      const user = await store.userByName(normalizeUsername(username));
      if (!user || !(await store.unlock(user.id))) throw new ServiceError('USER_NOT_FOUND', 'no such user');
      await store.revokeSessions(user.id, null, nowMs());
      await audit('second_factor_unlocked', user.id, { ip: null });
    },
    async resetTwoFactor(username: string) {
      const user = await store.userByName(normalizeUsername(username));
      if (!user) throw new ServiceError('USER_NOT_FOUND', 'no such user');
      await store.deleteFactor(user.id, null, nowMs());
      await store.unlock(user.id);
      await audit('two_factor_reset', user.id, { ip: null });
    },
    /**
     * Reseals every stored secret under the current key. Works in user-id
     * order and only replaces what it read, so it is safe to stop and run
     * again. Backup codes cannot be re-keyed without the codes themselves:
     * the result says how many users' unused codes still depend on each old key.
     */
    async rotateKeys(onProgress?: (done: number, total: number) => void) {
      const total = await store.countFactors();
      let done = 0;
      let resealed = 0;
      let after = '';
      for (;;) {
        const batch = await store.factorsAfter(after, 100);
        if (batch.length === 0) break;
        for (const factor of batch) {
          const opened = await openSecret(ring, factor.sealedSecret, factorData(factor));
          if (opened.needsReseal) {
            const sealed = await sealSecret(ring, opened.secret, factorData(factor));
            if (await store.resealFactor(factor.userId, factor.sealedSecret, sealed)) resealed++;
          }
          done++;
          onProgress?.(done, total);
        }
        after = batch[batch.length - 1]!.userId;
      }
      await audit('keys_rotated', null, { ip: null }, { resealed, currentKey: ring.currentId });
      const { backupCodeUsers } = await store.keyUsage(ring.ids);
      const backupCodesOnOldKeys = [...backupCodeUsers]
        .filter(([id, users]) => id !== ring.currentId && users > 0)
        .map(([keyId, users]) => ({ keyId, users }));
      return { checked: done, resealed, backupCodesOnOldKeys };
    },
    /**
     * The start-up check: refuses (KEY_MISSING, naming the key id) when stored
     * secrets or unused backup codes depend on a key the ring lacks, or when a
     * ring key fails to open a secret sealed under its id (a wrong key).
     */
    async checkKeys(): Promise<void> {
      const { secrets, backupCodeUsers } = await store.keyUsage(ring.ids);
      for (const [keyId, count] of secrets) {
        if (count > 0 && !ring.ids.includes(keyId)) {
          throw new ServiceError(
            'KEY_MISSING',
            `${count} stored secrets are sealed under the key ${keyId}, which the key ring lacks`,
          );
        }
      }
      for (const [keyId, users] of backupCodeUsers) {
        if (users > 0 && !ring.ids.includes(keyId)) {
          throw new ServiceError(
            'KEY_MISSING',
            `the unused backup codes of ${users} users are hashed under the key ${keyId}, which the key ring lacks: keep it in the ring until they make new codes`,
          );
        }
      }
      for (const keyId of ring.ids) {
        const factor = await store.factorSealedBy(keyId);
        if (!factor) continue;
        try {
          await openSecret(ring, factor.sealedSecret, factorData(factor));
        } catch {
          throw new ServiceError(
            'KEY_MISSING',
            `the key ${keyId} in the key ring does not open the secrets sealed under ${keyId}: is it the right key?`,
          );
        }
      }
    },
    /** Deletes expired challenges, refresh tokens and sessions, at most `limit` of each. */
    async prune(limit: number): Promise<number> {
      return store.prune(nowMs(), limit);
    },
  };
}

type Service = ReturnType<typeof createService>;

export type { Actor, LoginResult, RequestContext, SecondFactorInput, Service, ServiceConfig, ServiceDeps, Tokens };
export { createService };
