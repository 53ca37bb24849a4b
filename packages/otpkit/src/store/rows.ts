// Rows as both databases return them, and the values made of them.

import type { Db, Param } from './db.js';
import type { Amr, Factor, User, UserWithFactors } from './values.js';

type UserRow = {
  id: string;
  username: string;
  password_hash: string;
  created_at: number;
  failed_attempts: number;
  locked_until: number;
  locked_permanently: number;
  session_epoch: number;
  deactivated_at: number | null;
};
type FactorRow = {
  id: string;
  user_id: string;
  name: string;
  status: 'pending' | 'active';
  session_id: string | null;
  sealed_secret: string;
  algorithm: string;
  digits: number;
  period_seconds: number;
  last_counter: number;
  created_at: number;
  confirmed_at: number | null;
};

const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  createdAt: Number(r.created_at),
  failedAttempts: Number(r.failed_attempts),
  lockedUntil: Number(r.locked_until),
  lockedPermanently: Number(r.locked_permanently) === 1,
  sessionEpoch: Number(r.session_epoch),
  deactivatedAt: r.deactivated_at === null ? null : Number(r.deactivated_at),
});
const toFactor = (r: FactorRow): Factor => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  status: r.status,
  sessionId: r.session_id,
  sealedSecret: r.sealed_secret,
  algorithm: r.algorithm,
  digits: Number(r.digits),
  periodSeconds: Number(r.period_seconds),
  lastCounter: Number(r.last_counter),
  createdAt: Number(r.created_at),
  confirmedAt: r.confirmed_at === null ? null : Number(r.confirmed_at),
});

const USER_COLUMNS =
  'id, username, password_hash, created_at, failed_attempts, locked_until, locked_permanently, session_epoch, deactivated_at';
const FACTOR_COLUMNS =
  'id, user_id, name, status, session_id, sealed_secret, algorithm, digits, period_seconds, last_counter, created_at, confirmed_at';

type UserWithFactorRow = UserRow & { [K in keyof FactorRow as `f_${K}`]: FactorRow[K] | null };
const FACTOR_COLUMN_NAMES = FACTOR_COLUMNS.split(', ') as (keyof FactorRow)[];
/** SELECT ${USER_WITH_FACTOR} WHERE ... ${FACTORS_IN_ORDER}: a user's row once per factor (once with NULLs for none). */
const USER_WITH_FACTOR = `${[
  ...USER_COLUMNS.split(', ').map((c) => `u.${c}`),
  ...FACTOR_COLUMN_NAMES.map((c) => `f.${c} AS f_${c}`),
].join(', ')} FROM users u LEFT JOIN totp_factors f ON f.user_id = u.id`;
const FACTORS_IN_ORDER = 'ORDER BY f.created_at, f.id';
/** One user's rows of USER_WITH_FACTOR as the user and their factors; undefined for no rows. */
const toUserWithFactors = (rows: UserWithFactorRow[]): UserWithFactors | undefined =>
  rows[0] && {
    user: toUser(rows[0]),
    factors: rows
      .filter((row) => row.f_id !== null)
      .map((row) => toFactor(Object.fromEntries(FACTOR_COLUMN_NAMES.map((c) => [c, row[`f_${c}`]])) as FactorRow)),
  };

const amrOf = (text: string): Amr[] => text.split(' ') as Amr[];

/** The first row of a query, if any. */
const first = async <T>(db: Db, sql: string, params: readonly Param[]): Promise<T | undefined> =>
  (await db.all<T>(sql, params))[0];

export type { FactorRow, UserRow, UserWithFactorRow };
export {
  amrOf,
  FACTOR_COLUMNS,
  FACTORS_IN_ORDER,
  first,
  toFactor,
  toUser,
  toUserWithFactors,
  USER_COLUMNS,
  USER_WITH_FACTOR,
};
