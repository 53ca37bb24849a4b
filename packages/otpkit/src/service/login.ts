// The two-step login: the password (throttled per account, the KDF capped),
// then a single-use challenge answered with a TOTP or backup code, or, on a
// trusted device, the password alone.

import type { Factor, UserWithFactors } from '../store/store.js';
import { normalizeUsername } from './accounts.js';
import { activeFactors, BUSY_RETRY_SECONDS, type Context, codeDigits, passwordMatches } from './context.js';
import { signInOnDevice, trustDevice } from './devices.js';
import { ServiceError } from './errors.js';
import { checkSecondFactor } from './second-factor.js';
import { hashToken } from './tokens.js';
import type { LoginResult, RequestContext, Service } from './types.js';

/** The account and its password, checked (see passwordMatches); a deactivated account is told only now. */
async function passwordStep(c: Context, username: string, password: string, context: RequestContext) {
  let found: UserWithFactors | undefined;
  try {
    found = await c.store.userWithFactors({ username: normalizeUsername(username) });
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    found = undefined; // a name that cannot exist is an unknown user: same answer, same cost
  }
  if (!(await passwordMatches(c, found?.user, password, context)) || !found) {
    throw new ServiceError('CREDENTIALS_INVALID', 'wrong username or password');
  }
  if (found.user.deactivatedAt !== null) {
    // Only the right password learns this, so it tells a guesser nothing.
    await c.store.refundPasswordAttempt(found.user.id);
    await c.audit('login_failed', found.user.id, context, { reason: 'deactivated' });
    throw new ServiceError('ACCOUNT_DEACTIVATED', 'this account is deactivated: ask an operator');
  }
  return found;
}

function login(c: Context): Pick<Service, 'login' | 'loginVerify'> {
  const { store, config } = c;
  return {
    async login(username, password, context, device): Promise<LoginResult> {
      let { user, factors } = await passwordStep(c, username, password, context);
      // A password alone opens a session only while 2FA is off, and only if it
      // did not come on while the KDF ran (the session's epoch would be stale).
      for (let tries = 0; activeFactors(factors).length === 0; tries++) {
        const session = c.newSession(user, ['pwd']);
        const event = c.event('login', user.id, context, { secondFactor: 'none' });
        if (await store.createSession(session.row, [event])) {
          c.emit(event);
          // Under requireTwoFactor this session may only enroll and confirm (see authenticate).
          const status = config.requireTwoFactor ? 'enrollment_required' : 'authenticated';
          return { status, tokens: c.tokensFor(session) };
        }
        const again = await store.userWithFactors({ id: user.id });
        if (!again || tries >= 2) {
          await store.refundPasswordAttempt(user.id);
          throw new ServiceError('SERVER_BUSY', 'the account changed while signing in: try again', BUSY_RETRY_SECONDS);
        }
        ({ user, factors } = again);
      }
      const trusted = await signInOnDevice(c, user, device, context);
      if (trusted) return { status: 'authenticated', ...trusted };
      const { token, hash } = c.newToken();
      const now = c.nowMs();
      await store.createChallenge({ tokenHash: hash, userId: user.id, now, expiresAt: now + config.challengeTtlMs });
      return {
        status: 'second_factor_required',
        challenge: token,
        expiresAt: new Date(now + config.challengeTtlMs).toISOString(),
        methods: ['totp', 'backup_code'],
        trustDeviceDays: config.trustedDeviceDays,
      };
    },

    async loginVerify(challenge, input, context, options = {}) {
      codeDigits(input); // a malformed code is refused before anything is read or counted
      if (options.trustDevice && config.trustedDeviceDays === 0) {
        throw new ServiceError('INPUT_INVALID', 'trusted devices are turned off on this server');
      }
      const tokenHash = hashToken(challenge);
      const maxAttempts = config.challengeMaxAttempts;
      const found = await store.loginChallenge({ tokenHash, now: c.nowMs(), maxAttempts });
      if (!found)
        throw new ServiceError('CHALLENGE_INVALID', 'the login challenge is unknown, used, expired or out of attempts');
      const method = input.code !== undefined ? 'totp' : 'backup_code';
      const session = c.newSession(found.user, ['pwd', method === 'totp' ? 'otp' : 'backup']);
      // The sign-in's event names the authenticator that matched.
      const audit = (matched: Factor | undefined) => [
        c.event('login', found.user.id, context, {
          secondFactor: method,
          ...(matched ? { authenticatorId: matched.id, authenticator: matched.name } : {}),
        }),
      ];
      await checkSecondFactor(c, found, input, context, {
        login: { challenge: { tokenHash, maxAttempts }, session: session.row, audit },
      });
      const tokens = c.tokensFor(session);
      return options.trustDevice ? { ...tokens, device: await trustDevice(c, found.user, context) } : tokens;
    },
  };
}

export { login };
