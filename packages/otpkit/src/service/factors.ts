// Enrollment and the authenticators' life: start (bound to the session that
// starts it), confirm, status, step-up validation, rename, remove, turning
// off, and new backup codes. Every change to 2FA ends the user's other sessions.

import {
  type Algorithm,
  base32Encode,
  formatKeyUri,
  generateBackupCodes,
  generateSecret,
  groupSecret,
  hashBackupCode,
  openSecret,
  sealSecret,
} from '@otpkit/core';
import type { Factor, User } from '../store/store.js';
import { authenticatorName, authenticatorView, defaultName, mayTurnOff, turnOff } from './authenticators.js';
import { activeFactors, type Context, checkCodeShape, factorData, isoOrNull, passedSecondFactor } from './context.js';
import { ServiceError } from './errors.js';
import { checkSecondFactor } from './second-factor.js';
import type { Actor, EnrollmentView, RequestContext, Service, TwoFactorStatus } from './types.js';

const alreadyOn = () => new ServiceError('TWO_FACTOR_ENABLED', 'this authenticator is already on');
async function enrollmentView(c: Context, user: User, factor: Factor): Promise<EnrollmentView> {
  const { secret } = await openSecret(c.ring, factor.sealedSecret, factorData(factor));
  const uri = formatKeyUri({
    secret,
    account: user.username,
    issuer: c.config.issuer,
    algorithm: factor.algorithm as Algorithm,
    digits: factor.digits,
    periodSeconds: factor.periodSeconds,
  });
  const base32 = base32Encode(secret);
  const { id: authenticatorId, name, algorithm, digits, periodSeconds } = factor;
  return {
    authenticatorId,
    name,
    secret: base32,
    secretGrouped: groupSecret(base32),
    uri,
    algorithm,
    digits,
    periodSeconds,
  };
}

function freshBackupCodes(c: Context) {
  const codes = generateBackupCodes({ count: c.config.backupCodes, randomBytes: c.random });
  return { codes, hashes: codes.map((code) => hashBackupCode(c.ring, code)), ids: codes.map(() => c.newId()) };
}

const limitReached = (c: Context) =>
  new ServiceError(
    'AUTHENTICATOR_LIMIT',
    `at most ${c.config.maxAuthenticators} authenticators: remove one to add another`,
  );

/**
 * Starts enrolling an authenticator (the first, or another one once 2FA is
 * on, from a session that passed it), or shows this session's pending one
 * again (a closed tab is not a new secret). A pending secret is shown only
 * to the session that started it: another session starts over with a new secret.
 */
async function enroll(c: Context, actor: Actor, context: RequestContext): Promise<EnrollmentView> {
  const { user, factors } = await c.userWithFactors(actor);
  const active = activeFactors(factors);
  const existing = factors.find((f) => f.status === 'pending');
  if (existing && existing.sessionId === actor.sessionId) return enrollmentView(c, user, existing);
  if (active.length >= c.config.maxAuthenticators) throw limitReached(c);
  const id = c.newId();
  const secret = generateSecret({ randomBytes: c.random });
  const sealedSecret = await sealSecret(c.ring, secret, {
    ...factorData({ userId: user.id, id }),
    randomBytes: c.random,
  });
  const factor = await c.store.putPendingFactor(
    {
      id,
      userId: user.id,
      name: defaultName(active),
      sessionId: actor.sessionId,
      sealedSecret,
      ...c.config.enrollment,
      now: c.nowMs(),
    },
    existing?.id,
  );
  if (factor?.id !== id) {
    if (factor && factor.sessionId === actor.sessionId) return enrollmentView(c, user, factor);
    throw new ServiceError('ENROLLMENT_NOT_STARTED', 'another session started enrolling at the same moment');
  }
  await c.audit('enrollment_started', user.id, context, { authenticatorId: id });
  return enrollmentView(c, user, factor);
}

/**
 * A valid code turns this session's pending authenticator on, named `name`
 * if given. The first one turns 2FA on and returns the backup codes, once.
 * The session has now passed a second factor; every other session of the
 * user ends, so a password alone (or an older session) no longer gets in.
 */
async function confirm(c: Context, actor: Actor, code: string, context: RequestContext, name?: string) {
  const chosen = name === undefined ? undefined : authenticatorName(name);
  const { factors } = await c.userWithFactors(actor);
  const factor = factors.find((f) => f.status === 'pending');
  if (!factor || factor.sessionId !== actor.sessionId)
    throw new ServiceError('ENROLLMENT_NOT_STARTED', 'start enrollment first (in this session)');
  checkCodeShape({ code }, [factor]);
  const result = (await c.totpOf(factor)).verify(code, { nowSeconds: c.nowMs() / 1000, window: c.config.windowSteps });
  if (!result.ok) throw new ServiceError('CODE_WRONG', 'the code is not valid');
  const first = activeFactors(factors).length === 0;
  const backup = first ? freshBackupCodes(c) : undefined;
  const named = chosen ?? factor.name;
  const activated = await c.store.activateFactor({
    userId: actor.userId,
    factorId: factor.id,
    name: named,
    counter: result.counter,
    maxActive: c.config.maxAuthenticators,
    ...(backup ? { backupCodes: { hashes: backup.hashes, ids: backup.ids } } : {}),
    now: c.nowMs(),
    sessionId: actor.sessionId,
  });
  if (!activated) {
    // Another request got there first: it confirmed this one, another session
    // started enrolling over it, or the user's authenticators changed.
    const now = await c.store.factors(actor.userId);
    if (now.some((f) => f.id === factor.id && f.status === 'active')) throw alreadyOn();
    if (activeFactors(now).length >= c.config.maxAuthenticators) throw limitReached(c);
    throw new ServiceError('ENROLLMENT_NOT_STARTED', 'another session changed 2FA meanwhile: start again here');
  }
  await c.audit('enrollment_confirmed', actor.userId, context, { authenticatorId: factor.id, authenticator: named });
  const authenticator = authenticatorView({ ...factor, name: named, status: 'active', lastCounter: result.counter });
  return backup ? { backupCodes: backup.codes, authenticator } : { authenticator };
}

async function status(c: Context, actor: Actor): Promise<TwoFactorStatus> {
  const { user, factors } = await c.userWithFactors(actor, { readOnly: true });
  const active = activeFactors(factors);
  const codes = active.length > 0 ? await c.store.backupCodes(user.id) : [];
  const pending = factors.find((f) => f.status === 'pending');
  const shown = active[0] ?? pending; // the fields of one authenticator, as before there could be several
  const now = c.nowMs();
  return {
    enabled: active.length > 0,
    pending: pending !== undefined,
    algorithm: shown?.algorithm ?? null,
    digits: shown?.digits ?? null,
    periodSeconds: shown?.periodSeconds ?? null,
    confirmedAt: isoOrNull(active[0]?.confirmedAt ?? null),
    required: c.config.requireTwoFactor,
    authenticators: active.map(authenticatorView),
    backupCodesRemaining: codes.filter((code) => code.usedAt === null).length,
    locked: user.lockedPermanently || user.lockedUntil > now,
    lockedUntil: user.lockedUntil > now ? new Date(user.lockedUntil).toISOString() : null,
  };
}

function factors(
  c: Context,
): Pick<Service, 'enroll' | 'confirm' | 'status' | 'cancelEnrollment' | 'validate' | 'disable' | 'rotateBackupCodes'> {
  return {
    enroll: (actor, context) => enroll(c, actor, context),
    confirm: (actor, code, context, name) => confirm(c, actor, code, context, name),
    status: (actor) => status(c, actor),
    /** Cancels this session's pending enrollment: its secret is gone, and a next one starts anew. */
    async cancelEnrollment(actor) {
      const { factors } = await c.userWithFactors(actor);
      const pending = factors.find((f) => f.status === 'pending' && f.sessionId === actor.sessionId);
      if (pending) await c.store.discardPendingFactor(actor.userId, pending.id);
    },
    /** A step-up check of a code for a signed-in user. */
    async validate(actor, input, context) {
      const method = await checkSecondFactor(c, await c.userWithFactors(actor, { readOnly: true }), input, context);
      // A trusted device's session that passes a code has now passed a second factor: it may change settings.
      if (actor.sessionId !== null && actor.amr !== null && !passedSecondFactor(actor.amr)) {
        await c.store.stepUpSession(actor.sessionId, [...actor.amr, method === 'totp' ? 'otp' : 'backup']);
      }
      return { valid: true as const, method };
    },
    /** Turning 2FA off takes a current code or a backup code, not just a session; other sessions end. */
    async disable(actor, input, context) {
      mayTurnOff(c);
      await checkSecondFactor(c, await c.userWithFactors(actor), input, context);
      await turnOff(c, actor, context);
    },
    /** New backup codes (the old ones stop working); other sessions end. */
    async rotateBackupCodes(actor, code, context) {
      await checkSecondFactor(c, await c.userWithFactors(actor), { code }, context);
      const backup = freshBackupCodes(c);
      await c.store.replaceBackupCodes(actor.userId, backup, actor.sessionId, c.nowMs());
      await c.audit('backup_codes_rotated', actor.userId, context);
      return { backupCodes: backup.codes };
    },
  };
}

export { factors };
