// Audit events: stored alongside what they record (in the same transaction
// where there is one), read back oldest first, filtered and a page at a time.

import type { Db, Param, Statement } from './db.js';
import type { Store } from './types.js';
import type { AuditEvent, AuditEventType } from './values.js';

const auditStatement = (e: AuditEvent): Statement => ({
  sql: 'INSERT INTO audit_events (id, at, type, user_id, ip, detail) VALUES (?, ?, ?, ?, ?, ?)',
  params: [e.id, e.at, e.type, e.userId, e.ip, e.detail === null ? null : JSON.stringify(e.detail)],
});

type AuditRow = {
  id: string;
  at: number;
  type: AuditEventType;
  user_id: string | null;
  ip: string | null;
  detail: string | null;
};

const toEvent = (r: AuditRow): AuditEvent => ({
  id: r.id,
  at: Number(r.at),
  type: r.type,
  userId: r.user_id,
  ip: r.ip,
  detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
});

function audit(db: Db): Pick<Store, 'addAudit' | 'audit' | 'auditByIds'> {
  // The events of a user, and the log's pages in time order, are read through
  // audit_events_user (user_id, at) and audit_events_time (at, id); each
  // event's user name comes with it, by the users' primary key.
  return {
    async auditByIds(ids) {
      if (ids.length === 0) return [];
      const rows = await db.all<AuditRow>(
        `SELECT id, at, type, user_id, ip, detail FROM audit_events WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY at, id`,
        ids,
      );
      return rows.map(toEvent);
    },
    async addAudit(e) {
      const { sql, params } = auditStatement(e);
      await db.run(sql, params);
    },
    async audit(filter = {}) {
      const where: string[] = [];
      const params: Param[] = [];
      const add = (sql: string, ...values: Param[]) => {
        where.push(sql);
        params.push(...values);
      };
      if (filter.userId !== undefined) add('e.user_id = ?', filter.userId);
      if (filter.type !== undefined) add('e.type = ?', filter.type);
      if (filter.since !== undefined) add('e.at >= ?', filter.since);
      if (filter.until !== undefined) add('e.at < ?', filter.until);
      if (filter.after !== undefined)
        add('(e.at > ? OR (e.at = ? AND e.id > ?))', filter.after.at, filter.after.at, filter.after.id);
      const rows = await db.all<AuditRow & { username: string | null }>(
        `SELECT e.id, e.at, e.type, e.user_id, e.ip, e.detail, u.username
         FROM audit_events e LEFT JOIN users u ON u.id = e.user_id
         ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.at, e.id
         ${filter.limit === undefined ? '' : `LIMIT ${Math.trunc(filter.limit)}`}`,
        params,
      );
      return rows.map((r) => ({ ...toEvent(r), username: r.username }));
    },
  };
}

export { audit, auditStatement };
