// Checking a second factor (a TOTP code or a backup code) for an account with
// 2FA on: the attempt budget, the verdict, and settling a pass atomically.

import { checkBackupCode, type Totp } from '@otpkit/core';
import type { AttemptClaim, AuditEvent, Factor, NewSession, Spend, User, UserWithFactor } from '../store/store.js';
import { type Context, checkCodeShape, secondsUntil } from './context.js';
import { ServiceError } from './errors.js';
import type { RequestContext, SecondFactorInput } from './types.js';

/** What a pass settles besides the spend, in the same transaction (the login's challenge, session and event). */
interface Then {
  challengeHash?: string;
  session?: NewSession;
  audit?: AuditEvent[];
}

type Method = 'totp' | 'backup_code';

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
  c: Context,
  { user, factor }: UserWithFactor,
  input: SecondFactorInput,
  context: RequestContext,
  then: Then = {},
  claimed?: AttemptClaim,
): Promise<Method> {
  if (factor?.status !== 'active')
    throw new ServiceError('TWO_FACTOR_NOT_ENABLED', 'two-factor authentication is not on');
  checkCodeShape(input, factor);
  const now = c.nowMs();
  let claim = claimed;
  try {
    // Opened before our own claim: a key the ring cannot use costs nothing.
    const totp = input.code !== undefined ? await c.totpOf(factor) : undefined;
    claim ??= await c.store.claimAttempt(user.id, now);
    if (!claim.ok) {
      throw new ServiceError(
        'SECOND_FACTOR_LOCKED',
        claim.permanent
          ? 'too many wrong codes: an operator must unlock this account'
          : 'too many wrong codes: try again later',
        claim.permanent ? undefined : secondsUntil(claim.lockedUntil, now),
      );
    }
    return await evaluate(c, { user, factor }, totp, input, context, then, claim.attempt, now);
  } catch (error) {
    if (claim?.ok && !(error instanceof ServiceError)) {
      await c.store.refundAttempt(user.id, then.challengeHash).catch(() => undefined); // the database may be gone too
    } else if (claim?.ok && claim.locks) {
      await c.audit('second_factor_locked', user.id, context, { attempts: claim.attempt });
    }
    throw error;
  }
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
  if (matched?.usedAt !== null) return { reused: matched !== undefined };
  return {
    spend: { backupCodeId: matched.id },
    reused: false,
    remaining: codes.filter((code) => code.usedAt === null).length - 1,
  };
}

/** The verdict on a claimed attempt: settles a pass, or records a failure and throws CODE_WRONG / CODE_REUSED. */
async function evaluate(
  c: Context,
  found: { user: User; factor: Factor },
  totp: Totp | undefined,
  input: SecondFactorInput,
  context: RequestContext,
  then: Then,
  attempt: number,
  now: number,
): Promise<Method> {
  const { user } = found;
  const method = input.code !== undefined ? 'totp' : 'backup_code';
  const { spend, reused, remaining } = await verdict(c, found, totp, input, now);
  // RFC 6238 §5.2: spending is one conditional update, so of any requests
  // racing with the same code, one wins and the rest see it reused.
  if (spend) {
    const events = [
      ...(remaining === undefined ? [] : [c.event('backup_code_used', user.id, context, { remaining })]),
      ...(then.audit ?? []),
    ];
    if (await c.store.acceptSecondFactor({ userId: user.id, spend, now, ...then, audit: events })) {
      for (const e of events) c.emit(e);
      return method;
    }
  }
  const used = reused || spend !== undefined; // a pass that lost the race to spend was a reuse
  await c.audit('second_factor_failed', user.id, context, { method, reason: used ? 'reused' : 'wrong', attempt });
  throw used
    ? new ServiceError('CODE_REUSED', 'this code was already used')
    : new ServiceError('CODE_WRONG', 'the code is not valid');
}

export { checkSecondFactor };
