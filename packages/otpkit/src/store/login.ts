// The login's second step: its challenges (login_challenges), read before a
// code is looked at, and the one transaction that settles a checked second
// factor, at sign-in or on a signed-in user's check: the attempt counted
// against the challenge and the account's budget, and what a pass spends and opens.

import { auditStatement } from './audit.js';
import { consumeBackupCode } from './backup-codes.js';
import { budgetClaim, passwordRefund } from './budgets.js';
import type { Db, Statement, Step } from './db.js';
import { claimCounter } from './factors.js';
import { FACTORS_IN_ORDER, toUserWithFactors, USER_WITH_FACTOR, type UserWithFactorRow } from './rows.js';
import { newSession } from './sessions.js';
import type { Store } from './types.js';
import type { AuditEvent, BudgetPolicy, FailureCounted } from './values.js';

type Settle = Parameters<Store['settleSecondFactor']>[0];

/** A pass's attempt on its challenge, and the challenge's single use: only while it is live. */
function challengeUse(c: NonNullable<Settle['challenge']>, now: number): Statement {
  return {
    sql: `UPDATE login_challenges SET attempts = attempts + 1, used_at = ?
          WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?`,
    params: [now, c.tokenHash, now, c.maxAttempts],
    expectChanges: 1,
  };
}

/** The audit event `e` as an INSERT ... SELECT from the claim `a`, its detail ending with the attempt's number. */
function attemptEvent(name: string, e: AuditEvent, key: string, when = 'TRUE'): Step {
  const prefix = JSON.stringify({ ...e.detail, [key]: 0 }).replace(/0}$/, '');
  return {
    name,
    sql: `INSERT INTO audit_events (id, at, type, user_id, ip, detail)
          SELECT ?, ?, ?, ?, ?, ? || CAST(failed_attempts AS TEXT) || '}' FROM a WHERE ${when} RETURNING id`,
    params: [e.id, e.at, e.type, e.userId, e.ip, prefix],
  };
}

/** Store.settleSecondFactor for a pass: one batch, all or nothing. */
function passed(s: Settle & { outcome: { passed: true } }): Statement[] {
  const { spend, session, audit } = s.outcome;
  return [
    ...(s.challenge ? [challengeUse(s.challenge, s.now)] : []),
    'counter' in spend
      ? claimCounter(s.userId, spend.factorId, spend.counter)
      : consumeBackupCode(spend.backupCodeId, s.now),
    // A pass counts only while the budget is open; it resets the count and lifts a lock it outlived.
    {
      sql: `UPDATE users SET failed_attempts = 0, locked_until = 0
            WHERE id = ? AND locked_permanently = 0 AND locked_until <= ?`,
      params: [s.userId, s.now],
      expectChanges: 1,
    },
    ...audit.map(auditStatement),
    ...(session ? newSession(session) : []),
  ];
}

/**
 * Store.settleSecondFactor for a failure: one chain (on PostgreSQL one
 * statement). The challenge's attempt (c) comes first, so no challenge is
 * answered more codes than its attempts; the account's claim (a) only with
 * it; the events follow from the claim's returned row, so each carries the
 * number this claim made (exact under races, where a snapshot read would not
 * be), and the lock event is written only by the claim that locks. A claim a
 * lock refuses leaves the challenge's attempt spent, as a sign-in against a
 * locked account should.
 */
async function failed(
  db: Db,
  policy: BudgetPolicy,
  s: Settle & { outcome: { passed: false } },
): Promise<false | FailureCounted> {
  const claim = budgetClaim(policy, s.now);
  const c = s.challenge;
  const rows = await db.chain<{
    failed_attempts: number;
    locked_until: number;
    locked_permanently: number;
    challenge_attempts?: number;
  }>(
    [
      ...(c
        ? [
            {
              name: 'c',
              sql: `UPDATE login_challenges SET attempts = attempts + 1
                    WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ? RETURNING attempts`,
              params: [c.tokenHash, s.now, c.maxAttempts],
            },
          ]
        : []),
      {
        name: 'a',
        sql: `UPDATE users SET ${claim.set} WHERE id = ? AND ${claim.open}${c ? ' AND EXISTS (SELECT 1 FROM c)' : ''}
              RETURNING failed_attempts, locked_until, locked_permanently`,
        params: [...claim.setParams, s.userId, ...claim.openParams],
      },
      attemptEvent('e1', s.outcome.failed, 'attempt'),
      attemptEvent('e2', s.outcome.locked, 'attempts', `failed_attempts % ${policy.attemptsPerLock} = 0`),
    ],
    {
      sql: `SELECT failed_attempts, locked_until, locked_permanently${c ? ', (SELECT attempts FROM c) AS challenge_attempts' : ''} FROM a`,
    },
  );
  const row = rows[0];
  if (!row) return false;
  const lockedUntil = Number(row.locked_until);
  const locked = Number(row.locked_permanently) === 1 || lockedUntil > s.now;
  return {
    attemptsLeft: locked ? 0 : policy.attemptsPerLock - (Number(row.failed_attempts) % policy.attemptsPerLock),
    lockedUntil: Number(row.locked_permanently) === 1 ? null : lockedUntil > s.now ? lockedUntil : undefined,
    ...(c ? { challengeAttemptsLeft: c.maxAttempts - Number(row.challenge_attempts) } : {}),
  };
}

type LoginMethods = Pick<Store, 'createChallenge' | 'loginChallenge' | 'settleSecondFactor'>;

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
    async loginChallenge(c) {
      const rows = await db.all<UserWithFactorRow>(
        `SELECT ${USER_WITH_FACTOR} JOIN login_challenges ch ON ch.user_id = u.id
         WHERE ch.token_hash = ? AND ch.used_at IS NULL AND ch.expires_at > ? AND ch.attempts < ?
         AND u.deactivated_at IS NULL ${FACTORS_IN_ORDER}`,
        [c.tokenHash, c.now, c.maxAttempts],
      );
      return toUserWithFactors(rows);
    },
    settleSecondFactor: (s) =>
      s.outcome.passed
        ? db.batch(passed({ ...s, outcome: s.outcome }))
        : failed(db, policy, { ...s, outcome: s.outcome }),
  };
}

export { login };
