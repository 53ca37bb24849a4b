// Several authenticators: their names, how the user sees them (never the
// secret), and the use cases on an active one: list, rename, remove (with
// proof from another one; the last one goes as disable does).

import type { Factor } from '../store/store.js';
import { activeFactors, type Context, isoOrNull } from './context.js';
import { ServiceError } from './errors.js';
import { checkSecondFactor } from './second-factor.js';
import type { Actor, AuthenticatorView, RequestContext, SecondFactorInput, Service } from './types.js';

const notFound = () => new ServiceError('AUTHENTICATOR_NOT_FOUND', 'no such authenticator');
const MAX_NAME = 64;

/** An authenticator's name as the user typed it, trimmed; INPUT_INVALID if empty, too long or with control characters. */
function authenticatorName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > MAX_NAME || /\p{C}/u.test(trimmed)) {
    throw new ServiceError(
      'INPUT_INVALID',
      `an authenticator's name must be 1 to ${MAX_NAME} characters without control or invisible characters`,
    );
  }
  return trimmed;
}

/** "Authenticator", then "Authenticator 2", ...: a name no active one has. */
function defaultName(active: readonly Factor[]): string {
  const taken = new Set(active.map((f) => f.name));
  for (let n = 1; ; n++) {
    const name = n === 1 ? 'Authenticator' : `Authenticator ${n}`;
    if (!taken.has(name)) return name;
  }
}

function authenticatorView(f: Factor): AuthenticatorView {
  return {
    id: f.id,
    name: f.name,
    algorithm: f.algorithm,
    digits: f.digits,
    periodSeconds: f.periodSeconds,
    createdAt: new Date(f.createdAt).toISOString(),
    confirmedAt: isoOrNull(f.confirmedAt),
    // The start of the time step of the last code it accepted.
    lastUsedAt: isoOrNull(f.lastCounter >= 0 ? f.lastCounter * f.periodSeconds * 1000 : null),
  };
}

/** Under requireTwoFactor a user cannot turn 2FA off (an operator's reset can). */
function mayTurnOff(c: Context): void {
  if (c.config.requireTwoFactor) {
    throw new ServiceError(
      'TWO_FACTOR_REQUIRED',
      'this server requires two-factor authentication: add another authenticator before removing this one',
    );
  }
}

/** 2FA off: every authenticator and backup code goes; other sessions end. */
async function turnOff(c: Context, actor: Actor, context: RequestContext) {
  await c.store.deleteFactors(actor.userId, actor.sessionId, c.nowMs());
  await c.audit('two_factor_disabled', actor.userId, context);
}

/**
 * Removes an authenticator. It takes a code from another one or a backup
 * code (a code from the one going is no proof of the rest); the last one
 * goes by disable's rules (its own code or a backup code) and turns 2FA off.
 */
async function removeAuthenticator(
  c: Context,
  actor: Actor,
  id: string,
  input: SecondFactorInput,
  context: RequestContext,
): Promise<{ twoFactorEnabled: boolean }> {
  const found = await c.userWithFactors(actor);
  const active = activeFactors(found.factors);
  const target = active.find((f) => f.id === id);
  if (!target) throw notFound();
  if (active.length === 1) {
    mayTurnOff(c);
    await checkSecondFactor(c, found, input, context);
    await turnOff(c, actor, context);
    return { twoFactorEnabled: false };
  }
  await checkSecondFactor(c, found, input, context, { except: id });
  if (!(await c.store.removeFactor({ userId: actor.userId, factorId: id, keep: actor.sessionId, now: c.nowMs() }))) {
    // A racing request removed it, or every other one: look again.
    throw new ServiceError('AUTHENTICATORS_CHANGED', 'the authenticators changed meanwhile: look again and retry');
  }
  await c.audit('authenticator_removed', actor.userId, context, { authenticatorId: id, authenticator: target.name });
  return { twoFactorEnabled: true };
}

function authenticators(c: Context): Pick<Service, 'authenticators' | 'renameAuthenticator' | 'removeAuthenticator'> {
  return {
    async authenticators(actor) {
      return activeFactors((await c.userWithFactors(actor, { readOnly: true })).factors).map(authenticatorView);
    },
    async renameAuthenticator(actor, id, name, context) {
      const chosen = authenticatorName(name);
      await c.userWithFactors(actor); // a session that passed 2FA
      if (!(await c.store.renameFactor(actor.userId, id, chosen))) throw notFound();
      await c.audit('authenticator_renamed', actor.userId, context, { authenticatorId: id, authenticator: chosen });
    },
    removeAuthenticator: (actor, id, input, context) => removeAuthenticator(c, actor, id, input, context),
  };
}

export { authenticatorName, authenticators, authenticatorView, defaultName, mayTurnOff, turnOff };
