// The login's second step: its challenges (login_challenges), the attempt
// claimed before a code is looked at, and the one transaction that settles a
// second factor that passed (at sign-in or on a signed-in user's check).

import { auditStatement } from './audit.js';
import { consumeBackupCode } from './backup-codes.js';
import { budgetClaim, type ClaimedRow, claimed, lockOf, passwordRefund, resetAttempts } from './budgets.js';
import type { Db, Statement } from './db.js';
import { claimCounter } from './factors.js';
import { toUserWithFactor, USER_WITH_FACTOR, type UserWithFactorRow } from './rows.js';
import { newSession } from './sessions.js';
import type { Store } from './types.js';
import type { BudgetPolicy, Factor } from './values.js';

/** Uses up a login challenge: only one racing caller changes the row. */
const consumeChallenge = (tokenHash: string, now: number): Statement => ({
  sql: 'UPDATE login_challenges SET used_at = ? WHERE token_hash = ? AND used_at IS NULL',
  params: [now, tokenHash],
  expectChanges: 1,
});

type ClaimLogin = Parameters<Store['claimLoginAttempt']>[0];
type ClaimedLoginRow = UserWithFactorRow & { [K in keyof ClaimedRow as `a_${K}`]: ClaimedRow[K] | null };

/**
 * Store.claimLoginAttempt as one chain (see Db.chain: on PostgreSQL one
 * statement, since round trips are its cost): the challenge's attempt (c),
 * its user and factor as read before the claim (found), and the budget's
 * claim (a), made only if the factor is on and takes codes of this length.
 */
async function claimLoginAttempt(db: Db, policy: BudgetPolicy, c: ClaimLogin) {
  const claim = budgetClaim(policy, c.now);
  const [row] = await db.chain<ClaimedLoginRow>(
    [
      {
        name: 'c',
        sql: `UPDATE login_challenges SET attempts = attempts + 1
              WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?
              RETURNING user_id`,
        params: [c.tokenHash, c.now, c.maxAttempts],
      },
      { name: 'found', sql: `SELECT ${USER_WITH_FACTOR} WHERE u.id = (SELECT user_id FROM c)` },
      {
        name: 'a',
        sql: `UPDATE users SET ${claim.set}
              WHERE id = (SELECT user_id FROM c) AND ${claim.open} AND EXISTS (
                SELECT 1 FROM totp_factors f
                WHERE f.user_id = users.id AND f.status = 'active' AND f.digits = COALESCE(?, f.digits))
              RETURNING failed_attempts, locked_until`,
        params: [...claim.setParams, ...claim.openParams, c.digits],
      },
    ],
    {
      sql: 'SELECT a.failed_attempts AS a_failed_attempts, a.locked_until AS a_locked_until, found.* FROM found LEFT JOIN a ON TRUE',
    },
  );
  if (!row) return undefined;
  const found = toUserWithFactor(row);
  const takes = (factor: Factor | undefined) =>
    factor?.status === 'active' && (c.digits === null || factor.digits === c.digits);
  // No row from `a` means either no claim was due or a lock refused it.
  if (!takes(found.factor)) return { ...found, attempt: undefined };
  const attempt =
    row.a_failed_attempts === null
      ? await lockOf(db, found.user.id)
      : claimed({ failed_attempts: row.a_failed_attempts, locked_until: row.a_locked_until! }, c.now);
  return { ...found, attempt };
}

type LoginMethods = Pick<Store, 'createChallenge' | 'claimLoginAttempt' | 'acceptSecondFactor'>;

function login(db: Db, policy: BudgetPolicy): LoginMethods {
  return {
    async createChallenge(c) {
      await db.batch([
        {
          sql: 'INSERT INTO login_challenges (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
          params: [c.tokenHash, c.userId, c.now, c.expiresAt],
        },
        passwordRefund(c.userId),
      ]);
    },
    claimLoginAttempt: (c) => claimLoginAttempt(db, policy, c),
    async acceptSecondFactor(a) {
      return db.batch([
        'counter' in a.spend
          ? claimCounter(a.userId, a.spend.factorId, a.spend.counter)
          : consumeBackupCode(a.spend.backupCodeId, a.now),
        ...(a.challengeHash === undefined ? [] : [consumeChallenge(a.challengeHash, a.now)]),
        resetAttempts(a.userId),
        ...a.audit.map(auditStatement),
        ...(a.session ? newSession(a.session) : []),
      ]);
    },
  };
}

export { login };
