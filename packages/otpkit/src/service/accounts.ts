// Accounts: sign-up, the password-less row of an embedding app's user, and
// the profile; the rules for usernames and passwords.

import type { Context } from './context.js';
import { ServiceError } from './errors.js';
import { hashPassword } from './passwords.js';
import type { Service } from './types.js';

const MAX_USERNAME = 64;
const MIN_PASSWORD = 8; // NIST SP 800-63B §3.1.1.2
const MAX_PASSWORD = 256;

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

function accounts(c: Context): Pick<Service, 'register' | 'ensureUser' | 'me'> {
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

export { accounts, normalizeUsername };
