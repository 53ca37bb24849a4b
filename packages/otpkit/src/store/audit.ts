// Audit events: stored alongside what they record (in the same transaction
// where there is one), read back per user or all, oldest first.

import type { Db, Statement } from './db.js';
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
    async audit(userId) {
      const rows = await db.all<AuditRow>(
        userId === undefined
          ? 'SELECT id, at, type, user_id, ip, detail FROM audit_events ORDER BY at, id'
          : 'SELECT id, at, type, user_id, ip, detail FROM audit_events WHERE user_id = ? ORDER BY at, id',
        userId === undefined ? [] : [userId],
      );
      return rows.map(toEvent);
    },
  };
}

export { audit, auditStatement };
