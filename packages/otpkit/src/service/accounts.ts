// Accounts: sign-up, the password-less row of an embedding app's user, the
// profile, changing the password; the rules for usernames and passwords.

import { activeFactors, type Context, passwordMatches } from './context.js';
import { ServiceError } from './errors.js';
import { hashPassword } from './passwords.js';
import { checkSecondFactor } from './second-factor.js';
import type { Actor, RequestContext, SecondFactorInput, Service } from './types.js';

const MAX_USERNAME = 64;
const MIN_PASSWORD = 8; // NIST SP 800-63B §3.1.1.2
const MAX_PASSWORD = 256;

/** NFKC, trimmed, lowercase: one account per name however it is typed (and a search's text, folded alike). */
const foldUsername = (text: string) => text.normalize('NFKC').trim().toLowerCase();

/** A name folded (foldUsername) and checked: INPUT_INVALID if no account could have it. */
function normalizeUsername(username: string): string {
  const name = foldUsername(username);
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

/**
 * A new password: the current one first (claimed from the account's password
 * throttle before the KDF, as at sign-in), then a second factor when 2FA is
 * on (counted against the account's budget). Every other session ends and
 * every trusted device is revoked.
 */
async function changePassword(
  c: Context,
  actor: Actor,
  change: { currentPassword: string; newPassword: string; secondFactor?: SecondFactorInput },
  context: RequestContext,
): Promise<void> {
  checkPassword(change.newPassword);
  const found = await c.userWithFactors(actor, { readOnly: true });
  const { user } = found;
  // As at sign-in: someone holding a session may be guessing.
  if (!(await passwordMatches(c, user, change.currentPassword, context, 'password_change'))) {
    throw new ServiceError('PASSWORD_WRONG', 'the current password is not right');
  }
  await c.store.refundPasswordAttempt(user.id);
  if (activeFactors(found.factors).length > 0) {
    if (!change.secondFactor) {
      throw new ServiceError('SECOND_FACTOR_REQUIRED', 'give a code from your authenticator or a backup code');
    }
    await checkSecondFactor(c, found, change.secondFactor, context);
  }
  const hash = await c.gated(() => hashPassword(change.newPassword, c.config.scrypt, c.random));
  if (!(await c.store.changePassword(user.id, hash, actor.sessionId, c.nowMs()))) throw c.busy();
  await c.audit('password_changed', user.id, context);
}

function accounts(c: Context): Pick<Service, 'register' | 'ensureUser' | 'me' | 'changePassword'> {
  const { store } = c;
  return {
    async register(username, password, context) {
      const name = normalizeUsername(username);
      checkPassword(password);
      const id = c.newId();
      const created = await store.createUser({
        id,
        username: name,
        passwordHash: await c.gated(() => hashPassword(password, c.config.scrypt, c.random)),
        now: c.nowMs(),
      });
      if (!created) throw new ServiceError('USERNAME_TAKEN', 'that username is taken');
      await c.audit('user_registered', id, context);
      return { id, username: name };
    },

    async ensureUser(id, username) {
      if (await store.userById(id)) return;
      await store.createUser({ id, username: normalizeUsername(username), passwordHash: '!', now: c.nowMs() });
    },

    changePassword: (actor, change, context) => changePassword(c, actor, change, context),

    async me(userId) {
      const user = await c.userOrThrow(userId);
      const factors = await store.factors(userId);
      return {
        id: user.id,
        username: user.username,
        createdAt: new Date(user.createdAt).toISOString(),
        twoFactorEnabled: factors.some((f) => f.status === 'active'),
      };
    },
  };
}

export { accounts, foldUsername, normalizeUsername };
