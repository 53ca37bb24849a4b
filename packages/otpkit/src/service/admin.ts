// What the admin API (and `otpkit audit`) read: users a page at a time, one
// user's 2FA state, the audit log a page at a time; the revocations an
// operator may order; and the event every admin action leaves.

import type { AuditEventType } from '../store/store.js';
import { foldUsername, normalizeUsername } from './accounts.js';
import { authenticatorView } from './authenticators.js';
import { activeFactors, type Context } from './context.js';
import { ServiceError } from './errors.js';
import { userNamed, userSummary } from './operator.js';
import type { AuditPage, Service, UserPage, UserState } from './types.js';

const MAX_PAGE = 200;

const badCursor = () => new ServiceError('INPUT_INVALID', 'the cursor is not one this API gave');
const encodeCursor = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw badCursor();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (text.includes('\u0000')) throw badCursor();
  return text;
}
function pageSize(limit: number | undefined): number {
  const size = limit ?? 50;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) {
    throw new ServiceError('INPUT_INVALID', `limit must be a whole number from 1 to ${MAX_PAGE}`);
  }
  return size;
}
/** Reads an audit page: `since` and `until` as ISO times, `cursor` from the page before. */
async function auditLog(
  c: Context,
  query: { username?: string; type?: string; since?: string; until?: string; cursor?: string; limit?: number },
): Promise<AuditPage> {
  const limit = pageSize(query.limit);
  const time = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const ms = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : Number.NaN;
    if (Number.isNaN(ms)) throw new ServiceError('INPUT_INVALID', `${name} must be an ISO 8601 time`);
    return ms;
  };
  let after: { at: number; id: string } | undefined;
  if (query.cursor !== undefined) {
    const [at, id] = decodeCursor(query.cursor).split(' ');
    if (!/^\d{1,16}$/.test(at ?? '') || !id) throw badCursor();
    after = { at: Number(at), id };
  }
  const user = query.username === undefined ? undefined : await userNamed(c, query.username);
  const since = time('since', query.since);
  const until = time('until', query.until);
  const events = await c.store.audit({
    ...(user ? { userId: user.id } : {}),
    ...(query.type === undefined ? {} : { type: query.type as AuditEventType }),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
    ...(after ? { after } : {}),
    limit: limit + 1,
  });
  const page = events.slice(0, limit);
  const last = page.at(-1);
  return {
    events: page.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
    nextCursor: events.length > limit && last ? encodeCursor(`${last.at} ${last.id}`) : null,
  };
}

function admin(
  c: Context,
): Pick<
  Service,
  'usersPage' | 'userState' | 'revokeUserSessions' | 'revokeUserDevices' | 'auditLog' | 'recordAdminAction'
> {
  return {
    async usersPage(query) {
      const limit = pageSize(query.limit);
      const search = query.search === undefined ? undefined : foldUsername(query.search);
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const rows = await c.store.listUsers({
        ...(search ? { search } : {}),
        ...(after === undefined ? {} : { after }),
        limit: limit + 1,
      });
      const now = c.nowMs();
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        users: page.map((u) => userSummary(u, now)),
        nextCursor: rows.length > limit && last ? encodeCursor(last.username) : null,
      } satisfies UserPage;
    },
    async userState(username): Promise<UserState> {
      const found = await c.store.userWithFactors({ username: normalizeUsername(username) });
      if (!found) throw new ServiceError('USER_NOT_FOUND', 'no such user');
      const { user, factors } = found;
      const active = activeFactors(factors);
      const now = c.nowMs();
      const codes = active.length > 0 ? await c.store.backupCodes(user.id) : [];
      const factor = active.length > 0 ? 'active' : factors.length > 0 ? 'pending' : null;
      return {
        user: userSummary({ ...user, factor }, now),
        twoFactor: {
          enabled: active.length > 0,
          pending: factors.some((f) => f.status === 'pending'),
          authenticators: active.map(authenticatorView),
          backupCodesRemaining: codes.filter((code) => code.usedAt === null).length,
          failedAttempts: user.failedAttempts,
        },
        trustedDevices: (await c.store.trustedDevices(user.id, now)).length,
      };
    },
    async revokeUserSessions(username) {
      const user = await userNamed(c, username);
      await c.store.revokeSessions(user.id, null, c.nowMs()); // and their trusted devices
    },
    async revokeUserDevices(username) {
      const user = await userNamed(c, username);
      await c.store.revokeTrustedDevices(user.id, c.nowMs());
    },
    auditLog: (query) => auditLog(c, query),
    async recordAdminAction(action, username, context, outcome) {
      let name: string | null = null;
      try {
        name = username === null ? null : normalizeUsername(username);
      } catch {
        name = null; // not a name any user could have: nothing to point at
      }
      const user = name === null ? undefined : await c.store.userByName(name);
      await c.audit('admin_action', user?.id ?? null, context, {
        action,
        outcome,
        ...(name === null ? {} : { username: name }),
      });
    },
  };
}

export { admin };
