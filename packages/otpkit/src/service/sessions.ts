// Sessions and tokens: refreshing (rotation, reuse detection, the absolute
// end), authenticating an access token against a live session, logging out.

import type { Context } from './context.js';
import { ServiceError } from './errors.js';
import { hashToken } from './tokens.js';
import type { Service } from './types.js';

function sessions(c: Context): Pick<Service, 'refresh' | 'authenticate' | 'logout'> {
  const { store, tokens, config } = c;
  return {
    /** A new access token and refresh token, never past the session's absolute end. */
    async refresh(refreshToken, context) {
      const next = c.newToken();
      const now = c.nowMs();
      const use = await store.useRefreshToken(hashToken(refreshToken), {
        tokenHash: next.hash,
        now,
        expiresAt: now + config.refreshTokenTtlMs,
      });
      if (use.status === 'reused') await c.audit('refresh_token_reused', use.userId, context, { sessionRevoked: true });
      if (use.status !== 'ok') throw new ServiceError('TOKEN_INVALID', 'the refresh token is unknown, used or expired');
      return {
        accessToken: tokens.sign({ userId: use.userId, sessionId: use.sessionId, amr: use.amr }, now / 1000),
        tokenType: 'Bearer',
        expiresIn: config.accessTokenTtlSeconds,
        refreshToken: next.token,
      };
    },

    /**
     * The actor behind an access token whose session is live (not revoked, not
     * past its end, of its user's epoch). How it was authenticated comes from
     * the session, which a confirmed enrollment upgrades, not from the token.
     */
    async authenticate(accessToken, options = {}) {
      const now = c.nowMs();
      const claims = tokens.verify(accessToken, now / 1000);
      const session = await store.liveSession(claims.sessionId, now);
      if (!session || session.userId !== claims.userId) {
        throw new ServiceError('TOKEN_INVALID', 'the access token is missing, expired or invalid');
      }
      if (config.requireTwoFactor && session.amr.length === 1 && !options.enrollment) {
        throw new ServiceError('ENROLLMENT_REQUIRED', 'turn on two-factor authentication first (enroll, then confirm)');
      }
      return { userId: claims.userId, sessionId: claims.sessionId, amr: session.amr };
    },

    async logout(actor, context) {
      await store.revokeSession(actor.sessionId, c.nowMs());
      await c.audit('logout', actor.userId, context);
    },
  };
}

export { sessions };
