// The attempt budgets: the second factor's (consecutive wrong codes, then locks
// that double, then for good) and the password step's (failures per window).
// Each is claimed with one conditional UPDATE: the password's before the KDF
// runs, the second factor's in the settle that answers the code (login.ts).

import type { Db, Statement } from './db.js';
import { first } from './rows.js';
import type { Store } from './types.js';
import type { BudgetPolicy, PasswordPolicy } from './values.js';

/**
 * The lock each claim that reaches a multiple of attemptsPerLock sets: its
 * length is a CASE over the lock's number (firstLockMs, doubled each time, up
 * to maxLockMs), written from the policy's whole numbers. Everything about the
 * budget follows from failed_attempts alone.
 */
function lockLengthSql(policy: BudgetPolicy, attempt: string): string {
  const whens: string[] = [];
  for (let n = 1, ms = policy.firstLockMs; ms < policy.maxLockMs; n++, ms *= 2) whens.push(`WHEN ${n} THEN ${ms}`);
  return `CASE ${attempt} / ${policy.attemptsPerLock} ${whens.join(' ')} ELSE ${policy.maxLockMs} END`;
}

/**
 * The attempt budget: claimed before a code is evaluated, so a burst cannot
 * evaluate more than the budget. The claim that reaches the limit also sets
 * the lock (a success lifts it again), so a crash cannot leave it unset.
 * One UPDATE of the user's row: SET `set`, WHERE id = ... AND `open`.
 */
function budgetClaim(policy: BudgetPolicy, now: number) {
  return {
    set: `failed_attempts = failed_attempts + 1,
          locked_until = CASE WHEN (failed_attempts + 1) % ${policy.attemptsPerLock} = 0
            THEN CAST(? AS BIGINT) + ${lockLengthSql(policy, '(failed_attempts + 1)')} ELSE locked_until END,
          locked_permanently = CASE WHEN failed_attempts + 1 >= ${policy.permanentAfter} THEN 1 ELSE locked_permanently END`,
    setParams: [now],
    open: 'locked_permanently = 0 AND locked_until <= ?',
    openParams: [now],
  };
}

/** Gives back a claimed password attempt (see claimPasswordAttempt). */
const passwordRefund = (userId: string): Statement => ({
  sql: 'UPDATE users SET password_failures = password_failures - 1 WHERE id = ? AND password_failures > 0',
  params: [userId],
});

type BudgetMethods = Pick<Store, 'claimPasswordAttempt' | 'refundPasswordAttempt'>;

function budgets(db: Db, passwords: PasswordPolicy): BudgetMethods {
  return {
    // A success gives the claimed failure back (passwordRefund, in the same
    // transaction as the challenge or session it makes).
    async claimPasswordAttempt(userId, now) {
      const ended = now - passwords.windowMs;
      const row = await first<{ password_failures: number }>(
        db,
        `UPDATE users SET
           password_failures = CASE WHEN password_window_start <= ? THEN 1 ELSE password_failures + 1 END,
           password_window_start = CASE WHEN password_window_start <= ? THEN ? ELSE password_window_start END
         WHERE id = ? AND (password_window_start <= ? OR password_failures < ?)
         RETURNING password_failures`,
        [ended, ended, now, userId, ended, passwords.limit],
      );
      if (row) return { ok: true };
      const held = await first<{ password_window_start: number }>(
        db,
        'SELECT password_window_start FROM users WHERE id = ?',
        [userId],
      );
      return { ok: false, retryAt: Number(held?.password_window_start ?? now) + passwords.windowMs };
    },
    async refundPasswordAttempt(userId) {
      const { sql, params } = passwordRefund(userId);
      await db.run(sql, params);
    },
  };
}

export { budgetClaim, budgets, passwordRefund };
