// Checking a second factor (a TOTP code from any of the user's authenticators,
// or a backup code) for an account with 2FA on: the attempt budget, the
// verdict, and settling a pass atomically.

import { checkBackupCode, type Totp } from '@otpkit/core';
import type { AuditEvent, Factor, NewSession, Spend, User, UserWithFactors } from '../store/store.js';
import { activeFactors, type Context, checkCodeShape, codeDigits, secondsUntil } from './context.js';
import { ServiceError } from './errors.js';
import type { RequestContext, SecondFactorInput } from './types.js';

/** At sign-in: the challenge to count the attempt on and use up, and the session a pass opens. */
interface Login {
  challenge: { tokenHash: string; maxAttempts: number };
  session: NewSession;
  /** The events a pass stores, given the authenticator that matched (none for a backup code). */
  audit: (matched: Factor | undefined) => AuditEvent[];
}

/** An authenticator and its TOTP, opened once per check. */
type Candidate = { factor: Factor; totp: Totp };

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
  found: UserWithFactors,
  input: SecondFactorInput,
  context: RequestContext,
  options: { login?: Login; except?: string } = {},
): Promise<Method> {
  const { login } = options;
  const active = activeFactors(found.factors);
  if (active.length === 0) throw new ServiceError('TWO_FACTOR_NOT_ENABLED', 'two-factor authentication is not on');
  const factors = active.filter((f) => f.id !== options.except);
  checkCodeShape(input, active);
  const now = c.nowMs();
  let user = found.user;
  const candidates =
    input.code !== undefined
      ? await Promise.all(factors.map(async (factor) => ({ factor, totp: await c.totpOf(factor) })))
      : [];
  for (let settles = 0; settles < MAX_SETTLES; settles++) {
    const locked = lockedError(user, now);
    if (locked) throw locked;
    const outcome = await settle(c, user, candidates, input, context, login, now);
    if (outcome !== 'lost') return outcome;
    // The settle found the database changed: the challenge used up or gone, the budget locked, or the code spent.
    if (login && !(await c.store.loginChallenge({ ...login.challenge, now }))) {
      throw new ServiceError('CHALLENGE_INVALID', 'the login challenge is unknown, used, expired or out of attempts');
    }
    user = await c.userOrThrow(user.id);
  }
  throw c.busy();
}

/**
 * A TOTP code against every authenticator of its length, each checked in
 * full (constant time, and no early exit that would time which one matched):
 * the first that matches, else whether any had it as a used code.
 */
function totpVerdict(c: Context, candidates: readonly Candidate[], code: string, now: number) {
  const digits = codeDigits({ code });
  let matched: { factor: Factor; counter: number } | undefined;
  let reused = false;
  for (const { factor, totp } of candidates) {
    if (factor.digits !== digits) continue;
    const result = totp.verify(code, {
      nowSeconds: now / 1000,
      window: c.config.windowSteps,
      afterCounter: factor.lastCounter >= 0 ? factor.lastCounter : undefined,
    });
    if (result.ok) matched ??= { factor, counter: result.counter };
    else reused ||= result.reason === 'reused';
  }
  return matched
    ? { spend: { factorId: matched.factor.id, counter: matched.counter }, matched: matched.factor, reused: false }
    : { reused };
}

/** What the code spends if it passes (and which authenticator matched), and whether it was a used one. */
async function verdict(
  c: Context,
  user: User,
  candidates: readonly Candidate[],
  input: SecondFactorInput,
  now: number,
): Promise<{ spend?: Spend; matched?: Factor; reused: boolean; remaining?: number }> {
  if (input.code !== undefined) return totpVerdict(c, candidates, input.code, now);
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
  user: User,
  candidates: readonly Candidate[],
  input: SecondFactorInput,
  context: RequestContext,
  login: Login | undefined,
  now: number,
): Promise<Method | 'lost'> {
  const method = input.code !== undefined ? 'totp' : 'backup_code';
  const { spend, matched, reused, remaining } = await verdict(c, user, candidates, input, now);
  const base = { userId: user.id, now, ...(login ? { challenge: login.challenge } : {}) };
  if (spend) {
    const audit = [
      ...(remaining === undefined ? [] : [c.event('backup_code_used', user.id, context, { remaining })]),
      ...(login?.audit(matched) ?? []),
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
  const counted = await c.store.settleSecondFactor({ ...base, outcome: { passed: false, failed, locked } });
  if (typeof counted !== 'object') return 'lost';
  for (const e of await c.store.auditByIds([failed.id, locked.id])) c.emit(e);
  const details = {
    attemptsLeft: counted.attemptsLeft,
    ...(counted.challengeAttemptsLeft === undefined ? {} : { challengeAttemptsLeft: counted.challengeAttemptsLeft }),
    ...(counted.lockedUntil === undefined
      ? {}
      : { lockedUntil: counted.lockedUntil === null ? null : new Date(counted.lockedUntil).toISOString() }),
  };
  throw used
    ? new ServiceError('CODE_REUSED', 'this code was already used', undefined, details)
    : new ServiceError('CODE_WRONG', 'the code is not valid', undefined, details);
}

export { checkSecondFactor };
