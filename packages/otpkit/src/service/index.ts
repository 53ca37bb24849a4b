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
  AttemptClaim,
  AuditEvent,
  Factor,
  NewSession,
  Spend,
  Store,
  User,
  UserWithFactor,
} from '../store/store.js';
import { ServiceError } from './errors.js';
import { hashPassword, type ScryptParams, verifyPassword } from './passwords.js';
import { hashToken, opaqueToken, type TokenSigner, timeOrderedId } from './tokens.js';

interface ServiceConfig {
  /** The issuer authenticator apps show next to the account. */
  issuer: string;
  /** New enrollments' parameters: SHA-1, 6 digits, 30 s unless set (what every app supports). */
  enrollment: { algorithm: Algorithm; digits: number; periodSeconds: number };
  /** TOTP steps accepted each side of now. */
  windowSteps: number;
  challengeTtlMs: number;
  challengeMaxAttempts: number;
  accessTokenTtlSeconds: number;
  refreshTokenTtlMs: number;
  scrypt: ScryptParams;
}

interface ServiceDeps {
  store: Store;
  ring: KeyRing;
  tokens: TokenSigner;
  config: ServiceConfig;
  /** Unix milliseconds. */
  now: () => number;
  /** Called with every audit event after it is stored. */
  onAudit?: (event: AuditEvent) => void;
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

const MAX_USERNAME = 64;
const MIN_PASSWORD = 8; // NIST SP 800-63B §3.1.1.2
const MAX_PASSWORD = 256;
const BACKUP_CODE_SHAPE = new RegExp(`^[${BACKUP_CODE_ALPHABET}]{18}$`);

/** NFKC, trimmed, lowercase: one account per name however it is typed. */
function normalizeUsername(username: string): string {
  const name = username.normalize('NFKC').trim().toLowerCase();
  if (name.length < 1 || name.length > MAX_USERNAME || /[\p{Cc}\p{Z}:]/u.test(name)) {
    throw new ServiceError(
      'INPUT_INVALID',
      `username must be 1 to ${MAX_USERNAME} characters without spaces, colons or control characters`,
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
  // Unknown users get a password check against this, so they cost the same KDF run.
  // Made on the first login, not at start-up: admin commands never need it.
  let dummyHash: Promise<string> | undefined;
  function standInHash(): Promise<string> {
    dummyHash ??= hashPassword('not a password anyone has', config.scrypt);
    return dummyHash;
  }

  function event(
    type: string,
    userId: string | null,
    context: RequestContext,
    detail?: Record<string, unknown>,
  ): AuditEvent {
    const at = nowMs();
    return { id: timeOrderedId(at), at, type, userId, ip: context.ip, detail: detail ?? null };
  }
  async function audit(type: string, userId: string | null, context: RequestContext, detail?: Record<string, unknown>) {
    const e = event(type, userId, context, detail);
    await store.addAudit(e);
    deps.onAudit?.(e);
  }

  async function userOrThrow(userId: string): Promise<User> {
    const user = await store.userById(userId);
    if (!user) throw new ServiceError('USER_NOT_FOUND', 'no such user');
    return user;
  }

  /** A new session (refresh-token family) and its first refresh token. */
  function newSession(userId: string, secondFactor: boolean): { row: NewSession; refreshToken: string } {
    const now = nowMs();
    const refresh = opaqueToken();
    return {
      row: {
        id: timeOrderedId(now),
        userId,
        secondFactor,
        tokenHash: refresh.hash,
        now,
        expiresAt: now + config.refreshTokenTtlMs,
      },
      refreshToken: refresh.token,
    };
  }

  async function tokensFor(session: { row: NewSession; refreshToken: string }): Promise<Tokens> {
    const { id, userId, secondFactor, now } = session.row;
    return {
      accessToken: await tokens.sign({ userId, sessionId: id, secondFactor }, now / 1000),
      tokenType: 'Bearer',
      expiresIn: config.accessTokenTtlSeconds,
      refreshToken: session.refreshToken,
    };
  }

  async function userWithFactor(userId: string): Promise<UserWithFactor> {
    const found = await store.userWithFactor({ id: userId });
    if (!found) throw new ServiceError('USER_NOT_FOUND', 'no such user');
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
    const claim = claimed ?? (await store.claimAttempt(user.id, now));
    if (!claim.ok) {
      const retryAfterSeconds = claim.permanent ? undefined : Math.max(1, Math.ceil((claim.lockedUntil - now) / 1000));
      throw new ServiceError(
        'SECOND_FACTOR_LOCKED',
        claim.permanent
          ? 'too many wrong codes: an operator must unlock this account'
          : 'too many wrong codes: try again later',
        retryAfterSeconds,
      );
    }
    const method = input.code !== undefined ? 'totp' : 'backup_code';
    const events = [...(then.audit ?? [])];
    let spend: Spend | undefined;
    let reused = false;
    if (input.code !== undefined) {
      const result = (await totpOf(factor)).verify(input.code, {
        nowSeconds: now / 1000,
        window: config.windowSteps,
        afterCounter: factor.lastCounter >= 0 ? factor.lastCounter : undefined,
      });
      if (result.ok) spend = { factorId: factor.id, counter: result.counter };
      else reused = result.reason === 'reused';
    } else {
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
      if (await store.acceptSecondFactor({ userId: user.id, spend, now, audit: events, ...then })) {
        for (const e of events) deps.onAudit?.(e);
        return method;
      }
      reused = true;
    }
    await audit('second_factor_failed', user.id, context, {
      method,
      reason: reused ? 'reused' : 'wrong',
      attempt: claim.attempt,
    });
    if (claim.locks) await audit('second_factor_locked', user.id, context, { attempts: claim.attempt });
    throw reused
      ? new ServiceError('CODE_REUSED', 'this code was already used')
      : new ServiceError('CODE_WRONG', 'the code is not valid');
  }

  async function freshBackupCodes(userId: string) {
    const codes = generateBackupCodes();
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
        passwordHash: await hashPassword(password, config.scrypt),
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

    async login(username: string, password: string, context: RequestContext): Promise<LoginResult> {
      let found: UserWithFactor | undefined;
      try {
        found = await store.userWithFactor({ username: normalizeUsername(username) });
      } catch {
        found = undefined; // a name that cannot exist is an unknown user: same answer, same cost
      }
      const ok = await verifyPassword(password, found?.user.passwordHash ?? (await standInHash()), config.scrypt);
      if (!found || !ok) {
        await audit('login_failed', found?.user.id ?? null, context, { reason: 'credentials' });
        throw new ServiceError('CREDENTIALS_INVALID', 'wrong username or password');
      }
      const { user, factor } = found;
      if (factor?.status !== 'active') {
        const session = newSession(user.id, false);
        const login = event('login', user.id, context, { secondFactor: 'none' });
        await store.createSession(session.row, [login]);
        deps.onAudit?.(login);
        return { status: 'authenticated', tokens: await tokensFor(session) };
      }
      const { token, hash } = opaqueToken();
      const now = nowMs();
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
      const session = newSession(userId, true);
      const method = input.code !== undefined ? 'totp' : 'backup_code';
      await checkSecondFactor(
        found,
        input,
        context,
        { challengeHash, session: session.row, audit: [event('login', userId, context, { secondFactor: method })] },
        found.attempt,
      );
      return tokensFor(session);
    },

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
        accessToken: await tokens.sign(
          { userId: use.userId, sessionId: use.sessionId, secondFactor: use.secondFactor },
          now / 1000,
        ),
        tokenType: 'Bearer',
        expiresIn: config.accessTokenTtlSeconds,
        refreshToken: next.token,
      };
    },

    /** The signed-in user behind an access token whose session is still live. */
    async authenticate(accessToken: string) {
      const claims = await tokens.verify(accessToken, nowMs() / 1000);
      if (!(await store.sessionActive(claims.sessionId))) {
        throw new ServiceError('TOKEN_INVALID', 'the access token is missing, expired or invalid');
      }
      return claims;
    },

    async logout(sessionId: string, userId: string, context: RequestContext) {
      await store.revokeSession(sessionId, nowMs());
      await audit('logout', userId, context);
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

    /** Starts enrollment, or shows the pending one again: a closed tab is not a new secret. */
    async enroll(userId: string, context: RequestContext) {
      const user = await userOrThrow(userId);
      let factor = await store.factor(userId);
      if (factor?.status === 'active')
        throw new ServiceError('TWO_FACTOR_ENABLED', 'two-factor authentication is already on');
      if (!factor) {
        const id = randomUUID();
        const secret = generateSecret();
        const sealedSecret = await sealSecret(ring, secret, factorData({ userId, id }));
        factor = await store.putPendingFactor({ id, userId, sealedSecret, ...config.enrollment, now: nowMs() });
        if (factor.id === id) await audit('enrollment_started', userId, context);
      }
      return enrollmentView(user, factor);
    },

    /** A valid code turns the pending factor on and returns the backup codes, once. */
    async confirm(userId: string, code: string, context: RequestContext) {
      const factor = await store.factor(userId);
      if (!factor) throw new ServiceError('ENROLLMENT_NOT_STARTED', 'start enrollment first');
      if (factor.status === 'active')
        throw new ServiceError('TWO_FACTOR_ENABLED', 'two-factor authentication is already on');
      checkCodeShape({ code }, factor);
      const result = (await totpOf(factor)).verify(code, { nowSeconds: nowMs() / 1000, window: config.windowSteps });
      if (!result.ok) throw new ServiceError('CODE_WRONG', 'the code is not valid');
      const backup = await freshBackupCodes(userId);
      const activated = await store.activateFactor({
        userId,
        factorId: factor.id,
        counter: result.counter,
        codeHashes: backup.hashes,
        ids: backup.ids,
        now: nowMs(),
      });
      if (!activated) throw new ServiceError('TWO_FACTOR_ENABLED', 'two-factor authentication is already on');
      await audit('enrollment_confirmed', userId, context);
      return { backupCodes: backup.codes };
    },

    async status(userId: string) {
      const user = await userOrThrow(userId);
      const factor = await store.factor(userId);
      const codes = factor?.status === 'active' ? await store.backupCodes(userId) : [];
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
    async validate(userId: string, input: SecondFactorInput, context: RequestContext) {
      const method = await checkSecondFactor(await userWithFactor(userId), input, context);
      return { valid: true as const, method };
    },

    /** Turning 2FA off takes a current code or a backup code, not just a session. */
    async disable(userId: string, input: SecondFactorInput, context: RequestContext) {
      await checkSecondFactor(await userWithFactor(userId), input, context);
      await store.deleteFactor(userId);
      await audit('two_factor_disabled', userId, context);
    },

    async rotateBackupCodes(userId: string, code: string, context: RequestContext) {
      await checkSecondFactor(await userWithFactor(userId), { code }, context);
      const backup = await freshBackupCodes(userId);
      await store.replaceBackupCodes(userId, backup.hashes, backup.ids, nowMs());
      await audit('backup_codes_rotated', userId, context);
      return { backupCodes: backup.codes };
    },

    // Operator actions (the admin CLI)

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
      await audit('second_factor_unlocked', user.id, { ip: null });
    },
    async resetTwoFactor(username: string) {
      const user = await store.userByName(normalizeUsername(username));
      if (!user) throw new ServiceError('USER_NOT_FOUND', 'no such user');
      await store.deleteFactor(user.id);
      await store.unlock(user.id);
      await audit('two_factor_reset', user.id, { ip: null });
    },
    /**
     * Reseals every stored secret under the current key. Works in user-id
     * order and only replaces what it read, so it is safe to stop and run again.
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
      return { checked: done, resealed };
    },
  };
}

type Service = ReturnType<typeof createService>;

export type { LoginResult, RequestContext, SecondFactorInput, Service, ServiceConfig, ServiceDeps, Tokens };
export { createService };
