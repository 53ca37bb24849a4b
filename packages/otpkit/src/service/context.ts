// What the use cases share: the deps, the clock and the CSPRNG, audit events
// and their listener, sessions and tokens, the actor's user and authenticators, and
// the shape of a typed code. Built once by createService.

import { type Algorithm, BACKUP_CODE_ALPHABET, createTotp, openSecret, type Totp } from '@otpkit/core';
import type { Amr, AuditEvent, AuditEventType, Factor, NewSession, User, UserWithFactors } from '../store/store.js';
import { ServiceError } from './errors.js';
import { createHashGate, verifyPassword } from './passwords.js';
import { opaqueToken, randomId, timeOrderedId } from './tokens.js';
import type { Actor, RequestContext, SecondFactorInput, ServiceDeps, Tokens } from './types.js';

/** A Unix ms time as ISO 8601, or null. */
const isoOrNull = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
/** Seconds until a time in Unix ms, at least 1: a Retry-After value. */
const secondsUntil = (atMs: number, nowMs: number) => Math.max(1, Math.ceil((atMs - nowMs) / 1000));
const passedSecondFactor = (amr: readonly Amr[]) => amr.includes('otp') || amr.includes('backup');
/** A Retry-After for SERVER_BUSY: about three KDF runs. */
const BUSY_RETRY_SECONDS = 1;
const BACKUP_CODE_SHAPE = new RegExp(`^[${BACKUP_CODE_ALPHABET}]{18}$`);

/** The associated data that binds a sealed secret to its user and factor. */
const factorData = (factor: Pick<Factor, 'userId' | 'id'>) => ({
  associatedData: `user:${factor.userId}/factor:${factor.id}`,
});

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

/** CODE_MALFORMED unless the input is a backup code or a TOTP code as long as one of `factors` makes. */
function checkCodeShape(input: SecondFactorInput, factors: readonly Factor[]): void {
  const digits = codeDigits(input);
  if (digits !== null && !factors.some((f) => f.digits === digits)) throw malformed();
}

const activeFactors = (factors: readonly Factor[]) => factors.filter((f) => f.status === 'active');

/** Audit events: made with an id and the time, stored, then handed to the listener. */
function events(deps: ServiceDeps) {
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
    const at = deps.now();
    return { id: timeOrderedId(at, deps.random), at, type, userId, ip: context.ip, detail: detail ?? null };
  }
  async function audit(
    type: AuditEventType,
    userId: string | null,
    context: RequestContext,
    detail?: Record<string, unknown>,
  ) {
    const e = event(type, userId, context, detail);
    await deps.store.addAudit(e);
    emit(e);
  }
  return { emit, event, audit };
}

/** New sessions and the tokens that carry them. */
function sessionMaking({ config, tokens, random, now }: ServiceDeps) {
  return {
    /** A new session (refresh-token family) in the user's current epoch, and its first refresh token. */
    newSession(user: User, amr: Amr[]): { row: NewSession; refreshToken: string } {
      const at = now();
      const refresh = opaqueToken(random);
      const sessionExpiresAt = at + config.sessionMaxAgeMs;
      return {
        row: {
          id: timeOrderedId(at, random),
          userId: user.id,
          epoch: user.sessionEpoch,
          amr,
          tokenHash: refresh.hash,
          now: at,
          expiresAt: Math.min(at + config.refreshTokenTtlMs, sessionExpiresAt),
          sessionExpiresAt,
        },
        refreshToken: refresh.token,
      };
    },
    tokensFor(session: { row: NewSession; refreshToken: string }): Tokens {
      const { id, userId, amr, now: at } = session.row;
      return {
        accessToken: tokens.sign({ userId, sessionId: id, amr }, at / 1000),
        tokenType: 'Bearer',
        expiresIn: config.accessTokenTtlSeconds,
        refreshToken: session.refreshToken,
      };
    },
  };
}

/** The user behind an actor, and their factor's TOTP opened from the vault. */
function lookups({ store, ring }: ServiceDeps) {
  return {
    async userOrThrow(userId: string): Promise<User> {
      const user = await store.userById(userId);
      if (!user) throw new ServiceError('USER_NOT_FOUND', 'no such user');
      return user;
    },
    /**
     * The actor's user and authenticators. Once 2FA is on, an otpkit session
     * must have passed it to touch 2FA settings (a password-only session from
     * before 2FA was turned on is dead then; this holds if one slips through).
     * With `readOnly`, a trusted device's session (which skipped the second
     * factor) will do too: to read the settings, or to step up with a code.
     */
    async userWithFactors(actor: Actor, options: { readOnly?: boolean } = {}): Promise<UserWithFactors> {
      const found = await store.userWithFactors({ id: actor.userId });
      if (!found) throw new ServiceError('USER_NOT_FOUND', 'no such user');
      const passed = actor.amr === null || passedSecondFactor(actor.amr);
      const device = options.readOnly === true && actor.amr?.includes('device') === true;
      if (activeFactors(found.factors).length > 0 && !passed && !device) {
        throw new ServiceError('SECOND_FACTOR_REQUIRED', 'sign in with your second factor to change 2FA settings');
      }
      return found;
    },
    /** The factor's TOTP, its key opened from the vault. */
    async totpOf(factor: Factor): Promise<Totp> {
      const { secret } = await openSecret(ring, factor.sealedSecret, factorData(factor));
      return createTotp({
        secret,
        algorithm: factor.algorithm as Algorithm,
        digits: factor.digits,
        periodSeconds: factor.periodSeconds,
      });
    },
  };
}

/**
 * A password checked against `user`'s stored hash (no user: an unknown name,
 * which costs the same KDF run on an empty hash). A known account's attempt is
 * claimed from its throttle before the KDF runs (LOGIN_THROTTLED when the
 * window is spent) and given back if the check fails on our side; a wrong
 * password is logged as login_failed. True for the right one: the caller
 * gives its attempt back (at sign-in, in the write that opens the session).
 * `during` names where else than sign-in the password was asked for.
 */
async function passwordMatches(
  c: Context,
  user: User | undefined,
  password: string,
  context: RequestContext,
  during?: string,
): Promise<boolean> {
  const where = during === undefined ? {} : { during };
  const now = c.nowMs();
  if (user) {
    const claim = await c.store.claimPasswordAttempt(user.id, now);
    if (!claim.ok) {
      await c.audit('login_throttled', user.id, context, during === undefined ? undefined : where);
      throw new ServiceError(
        'LOGIN_THROTTLED',
        'too many wrong passwords for this account: try again later',
        secondsUntil(claim.retryAt, now),
      );
    }
  }
  let ok: boolean;
  try {
    ok = await c.gated(() => verifyPassword(password, user?.passwordHash ?? '', c.config.scrypt));
  } catch (error) {
    if (user) await c.store.refundPasswordAttempt(user.id).catch(() => undefined); // a fault of ours costs no attempt
    throw error;
  }
  if (!ok) await c.audit('login_failed', user?.id ?? null, context, { reason: 'credentials', ...where });
  return ok;
}

function createContext(deps: ServiceDeps) {
  const busy = () =>
    new ServiceError('SERVER_BUSY', 'too many sign-ins at once: try again in a moment', BUSY_RETRY_SECONDS);
  return {
    ...deps,
    ...events(deps),
    ...sessionMaking(deps),
    ...lookups(deps),
    nowMs: () => deps.now(),
    busy,
    /** Password hashing, capped (see createHashGate). */
    gated: createHashGate(deps.config.passwordHashConcurrency, busy),
    newId: () => randomId(deps.random),
    newToken: () => opaqueToken(deps.random),
  };
}

type Context = ReturnType<typeof createContext>;

export type { Context };
export {
  activeFactors,
  BUSY_RETRY_SECONDS,
  checkCodeShape,
  codeDigits,
  createContext,
  factorData,
  isoOrNull,
  passedSecondFactor,
  passwordMatches,
  secondsUntil,
};
