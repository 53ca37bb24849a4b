// The admin API, /api/admin/*: for operators, with the operator token
// (OTPKIT_ADMIN_TOKEN, checked by the handler before any of these runs);
// without one configured these routes do not exist. Every request here
// leaves an admin_action audit event (see createHandler's recordAdmin).

import type { Service } from '../service/index.js';
import { errors, type Route, type RouteContext } from './routes.js';
import { AdminUserState, AuditLogPage, AuditQuery, UserName, UsersPage, UsersQuery } from './schemas.js';

const admin = ['admin'];
const operator = [{ operator: [] as [] }];
const limitOf = (text: string | undefined) => (text === undefined ? undefined : Number(text));

/** An action on one user: POST {username} -> 204, and its audit event. */
function userAction(path: string, summary: string, act: (service: Service, username: string) => Promise<void>): Route {
  return {
    method: 'POST',
    path,
    group: 'admin',
    throttled: true,
    schema: { tags: admin, summary, security: operator, body: UserName, response: { 204: {}, ...errors } },
    async handle(c: RouteContext, service: Service) {
      await act(service, c.body.username);
      return { status: 204 };
    },
  };
}

const ADMIN_ROUTES: Route[] = [
  {
    method: 'GET',
    path: '/users',
    group: 'admin',
    throttled: true,
    schema: {
      tags: admin,
      summary: 'Users by name, a page at a time; search: a part of the name',
      security: operator,
      querystring: UsersQuery,
      response: { 200: UsersPage, ...errors },
    },
    async handle(c, service) {
      const { search, cursor, limit } = c.query;
      return { body: await service.usersPage({ search, cursor, limit: limitOf(limit) }) };
    },
  },
  {
    method: 'GET',
    path: '/users/state',
    group: 'admin',
    throttled: true,
    schema: {
      tags: admin,
      summary: "One user's 2FA state: authenticators, backup codes left, lock, trusted devices",
      security: operator,
      querystring: UserName,
      response: { 200: AdminUserState, ...errors },
    },
    async handle(c, service) {
      return { body: await service.userState(c.query.username!) };
    },
  },
  userAction('/users/unlock', 'Lift the second-factor lock (also a permanent one) and the password throttle', (s, u) =>
    s.unlock(u),
  ),
  userAction('/users/reset-2fa', 'Remove 2FA (authenticators, backup codes); the user can enroll again', (s, u) =>
    s.resetTwoFactor(u),
  ),
  userAction('/users/deactivate', 'No sign-in until reactivated; sessions and trusted devices end', (s, u) =>
    s.deactivate(u),
  ),
  userAction('/users/reactivate', 'Allow sign-in again', (s, u) => s.reactivate(u)),
  userAction('/users/revoke-sessions', 'End every session of the user (and their trusted devices)', (s, u) =>
    s.revokeUserSessions(u),
  ),
  userAction('/users/revoke-devices', "Revoke the user's trusted devices", (s, u) => s.revokeUserDevices(u)),
  {
    method: 'GET',
    path: '/audit',
    group: 'admin',
    throttled: true,
    schema: {
      tags: admin,
      summary: 'The audit log, oldest first: filter by user, type and time; a page at a time',
      security: operator,
      querystring: AuditQuery,
      response: { 200: AuditLogPage, ...errors },
    },
    async handle(c, service) {
      const { username, type, since, until, cursor, limit } = c.query;
      return { body: await service.auditLog({ username, type, since, until, cursor, limit: limitOf(limit) }) };
    },
  },
];

export { ADMIN_ROUTES };
