// Checking a second factor (a TOTP code or a backup code) for an account with
// 2FA on: the attempt budget, the verdict, and settling a pass atomically.

import { checkBackupCode, type Totp } from '@otpkit/core';
import type { AuditEvent, Factor, NewSession, Spend, User, UserWithFactor } from '../store/store.js';
import { type Context, checkCodeShape, secondsUntil } from './context.js';
import { ServiceError } from './errors.js';
import type { RequestContext, SecondFactorInput } from './types.js';

/** At sign-in: the challenge to count the attempt on and use up, and the session a pass opens. */
interface Login {
  challenge: { tokenHash: string; maxAttempts: number };
  session: NewSession;
  audit: AuditEvent[];
}

type Method = 'totp' | 'backup_code';

/** Settles tried against a changing database before giving up (each loser of a race tries again as what it now is). */
const MAX_SETTLES = 4;

function lockedError(user: User, now: number): ServiceError | undefined {
  if (user.lockedPermanently) {
    return new ServiceError('SECOND_FACTOR_LOCKED', 'too many wrong codes: an operator must unlock this account');
  }
  if (user.lockedUntil > now) {
    return new ServiceError(
      'SECOND_FACTOR_LOCKED',
      'too many wrong codes: try again later',
      secondsUntil(user.lockedUntil, now),
    );
  }
  return undefined;
}

/**
 * Checks a second factor for an account with 2FA on: read (the user, the
 * factor, and at sign-in the challenge), judge the code in memory, then settle
 * the verdict in one transaction that also counts the attempt (see
 * Store.settleSecondFactor). A verdict is answered only once its attempt is
 * counted, so no burst learns more codes' outcomes than the budget allows; a
 * fault of ours before the settle counts nothing, and the settle is all or
 * nothing. On PostgreSQL a sign-in's second step is one read and one write.
 */
async function checkSecondFactor(
  c: Context,
  found: UserWithFactor,
  input: SecondFactorInput,
  context: RequestContext,
  login?: Login,
): Promise<Method> {
  const { factor } = found;
  if (factor?.status !== 'active')
    throw new ServiceError('TWO_FACTOR_NOT_ENABLED', 'two-factor authentication is not on');
  checkCodeShape(input, factor);
  const now = c.nowMs();
  let user = found.user;
  const totp = input.code !== undefined ? await c.totpOf(factor) : undefined;
  for (let settles = 0; settles < MAX_SETTLES; settles++) {
    const locked = lockedError(user, now);
    if (locked) throw locked;
    const outcome = await settle(c, { user, factor }, totp, input, context, login, now);
    if (outcome !== 'lost') return outcome;
    // The settle found the database changed: the challenge used up or gone, the budget locked, or the code spent.
    if (login && !(await c.store.loginChallenge({ ...login.challenge, now }))) {
      throw new ServiceError('CHALLENGE_INVALID', 'the login challenge is unknown, used, expired or out of attempts');
    }
    user = await c.userOrThrow(user.id);
  }
  throw c.busy();
}

/** What the code spends if it passes, and whether it was a used one. */
async function verdict(
  c: Context,
  { user, factor }: { user: User; factor: Factor },
  totp: Totp | undefined,
  input: SecondFactorInput,
  now: number,
): Promise<{ spend?: Spend; reused: boolean; remaining?: number }> {
  if (totp !== undefined && input.code !== undefined) {
    const result = totp.verify(input.code, {
      nowSeconds: now / 1000,
      window: c.config.windowSteps,
      afterCounter: factor.lastCounter >= 0 ? factor.lastCounter : undefined,
    });
    return result.ok
      ? { spend: { factorId: factor.id, counter: result.counter }, reused: false }
      : { reused: result.reason === 'reused' };
  }
  const codes = await c.store.backupCodes(user.id);
  const result = checkBackupCode(
    c.ring,
    input.backupCode ?? '',
    codes.map((code) => code.codeHash),
  );
  const matched = result.ok ? codes[result.index]! : undefined;
  if (matched === undefined || matched.usedAt !== null) return { reused: matched !== undefined };
  const remaining = codes.filter((code) => code.usedAt === null).length - 1;
  return { spend: { backupCodeId: matched.id }, reused: false, remaining };
}

/**
 * One try at settling: a pass (spend, session, events), else a failure
 * (wrong or reused, with its attempt counted). 'lost' when the settle found
 * the database changed since the read; a pass that lost its spend to a racer
 * is settled as a reuse.
 */
async function settle(
  c: Context,
  found: { user: User; factor: Factor },
  totp: Totp | undefined,
  input: SecondFactorInput,
  context: RequestContext,
  login: Login | undefined,
  now: number,
): Promise<Method | 'lost'> {
  const { user } = found;
  const method = input.code !== undefined ? 'totp' : 'backup_code';
  const { spend, reused, remaining } = await verdict(c, found, totp, input, now);
  const base = { userId: user.id, now, ...(login ? { challenge: login.challenge } : {}) };
  if (spend) {
    const audit = [
      ...(remaining === undefined ? [] : [c.event('backup_code_used', user.id, context, { remaining })]),
      ...(login?.audit ?? []),
    ];
    const session = login ? { session: login.session } : {};
    if (await c.store.settleSecondFactor({ ...base, outcome: { passed: true, spend, ...session, audit } })) {
      for (const e of audit) c.emit(e);
      return method;
    }
  }
  // RFC 6238 §5.2: of requests racing with one code, one spends it and the rest are told it was used.
  const used = reused || spend !== undefined;
  const failed = c.event('second_factor_failed', user.id, context, { method, reason: used ? 'reused' : 'wrong' });
  const locked = c.event('second_factor_locked', user.id, context);
  if (!(await c.store.settleSecondFactor({ ...base, outcome: { passed: false, failed, locked } }))) return 'lost';
  for (const e of await c.store.auditByIds([failed.id, locked.id])) c.emit(e);
  throw used
    ? new ServiceError('CODE_REUSED', 'this code was already used')
    : new ServiceError('CODE_WRONG', 'the code is not valid');
}

export { checkSecondFactor };
