// Enrollment and the TOTP factor's life: start (bound to the session that
// starts it), confirm, status, step-up validation, turning off, and new
// backup codes. Every change to 2FA ends the user's other sessions.

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
import { type Context, checkCodeShape, factorData } from './context.js';
import { ServiceError } from './errors.js';
import { checkSecondFactor } from './second-factor.js';
import type { Actor, EnrollmentView, RequestContext, Service, TwoFactorStatus } from './types.js';

const alreadyOn = () => new ServiceError('TWO_FACTOR_ENABLED', 'two-factor authentication is already on');

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
  const { algorithm, digits, periodSeconds } = factor;
  return { secret: base32, secretGrouped: groupSecret(base32), uri, algorithm, digits, periodSeconds };
}

function freshBackupCodes(c: Context) {
  const codes = generateBackupCodes({ count: c.config.backupCodes, randomBytes: c.random });
  return { codes, hashes: codes.map((code) => hashBackupCode(c.ring, code)), ids: codes.map(() => c.newId()) };
}

/**
 * Starts enrollment, or shows this session's pending one again (a closed
 * tab is not a new secret). A pending secret is shown only to the session
 * that started it: another session starts over with a new secret.
 */
async function enroll(c: Context, actor: Actor, context: RequestContext): Promise<EnrollmentView> {
  const { user, factor: existing } = await c.userWithFactor(actor);
  if (existing?.status === 'active') throw alreadyOn();
  if (existing && existing.sessionId === actor.sessionId) return enrollmentView(c, user, existing);
  const id = c.newId();
  const secret = generateSecret({ randomBytes: c.random });
  const sealedSecret = await sealSecret(c.ring, secret, {
    ...factorData({ userId: user.id, id }),
    randomBytes: c.random,
  });
  const factor = await c.store.putPendingFactor(
    { id, userId: user.id, sessionId: actor.sessionId, sealedSecret, ...c.config.enrollment, now: c.nowMs() },
    existing?.id,
  );
  if (factor.id !== id) {
    if (factor.sessionId === actor.sessionId) return enrollmentView(c, user, factor);
    throw new ServiceError('ENROLLMENT_NOT_STARTED', 'another session started enrolling at the same moment');
  }
  await c.audit('enrollment_started', user.id, context);
  return enrollmentView(c, user, factor);
}

/**
 * A valid code turns this session's pending factor on and returns the
 * backup codes, once. The session has now passed a second factor; every
 * other session of the user ends, so a password alone no longer gets in.
 */
async function confirm(c: Context, actor: Actor, code: string, context: RequestContext) {
  const { factor } = await c.userWithFactor(actor);
  if (factor?.status === 'active') throw alreadyOn();
  if (!factor || factor.sessionId !== actor.sessionId)
    throw new ServiceError('ENROLLMENT_NOT_STARTED', 'start enrollment first (in this session)');
  checkCodeShape({ code }, factor);
  const result = (await c.totpOf(factor)).verify(code, { nowSeconds: c.nowMs() / 1000, window: c.config.windowSteps });
  if (!result.ok) throw new ServiceError('CODE_WRONG', 'the code is not valid');
  const backup = freshBackupCodes(c);
  const activated = await c.store.activateFactor({
    userId: actor.userId,
    factorId: factor.id,
    counter: result.counter,
    codeHashes: backup.hashes,
    ids: backup.ids,
    now: c.nowMs(),
    sessionId: actor.sessionId,
  });
  if (!activated) {
    // Another request got there first: it turned 2FA on, or another session started enrolling over this one.
    if ((await c.store.factor(actor.userId))?.status === 'active') throw alreadyOn();
    throw new ServiceError('ENROLLMENT_NOT_STARTED', 'another session started enrolling: start again here');
  }
  await c.audit('enrollment_confirmed', actor.userId, context);
  return { backupCodes: backup.codes };
}

async function status(c: Context, actor: Actor): Promise<TwoFactorStatus> {
  const { user, factor } = await c.userWithFactor(actor);
  const codes = factor?.status === 'active' ? await c.store.backupCodes(user.id) : [];
  const now = c.nowMs();
  return {
    enabled: factor?.status === 'active',
    pending: factor?.status === 'pending',
    algorithm: factor?.algorithm ?? null,
    digits: factor?.digits ?? null,
    periodSeconds: factor?.periodSeconds ?? null,
    confirmedAt: factor?.confirmedAt ? new Date(factor.confirmedAt).toISOString() : null,
    backupCodesRemaining: codes.filter((code) => code.usedAt === null).length,
    locked: user.lockedPermanently || user.lockedUntil > now,
    lockedUntil: user.lockedUntil > now ? new Date(user.lockedUntil).toISOString() : null,
  };
}

function factors(
  c: Context,
): Pick<Service, 'enroll' | 'confirm' | 'status' | 'validate' | 'disable' | 'rotateBackupCodes'> {
  return {
    enroll: (actor, context) => enroll(c, actor, context),
    confirm: (actor, code, context) => confirm(c, actor, code, context),
    status: (actor) => status(c, actor),
    /** A step-up check of a code for a signed-in user. */
    async validate(actor, input, context) {
      const method = await checkSecondFactor(c, await c.userWithFactor(actor), input, context);
      return { valid: true as const, method };
    },
    /** Turning 2FA off takes a current code or a backup code, not just a session; other sessions end. */
    async disable(actor, input, context) {
      await checkSecondFactor(c, await c.userWithFactor(actor), input, context);
      await c.store.deleteFactor(actor.userId, actor.sessionId, c.nowMs());
      await c.audit('two_factor_disabled', actor.userId, context);
    },
    /** New backup codes (the old ones stop working); other sessions end. */
    async rotateBackupCodes(actor, code, context) {
      await checkSecondFactor(c, await c.userWithFactor(actor), { code }, context);
      const backup = freshBackupCodes(c);
      await c.store.replaceBackupCodes(actor.userId, backup, actor.sessionId, c.nowMs());
      await c.audit('backup_codes_rotated', actor.userId, context);
      return { backupCodes: backup.codes };
    },
  };
}

export { factors };
