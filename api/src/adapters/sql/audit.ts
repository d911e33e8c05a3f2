/**
 * The AuditLog on SQL: `audit_log`, an append-only record of state-changing mutations,
 * newest first. Rule RO1: only a dashboard's OWNER reads it (checked by the caller).
 */
import type { AuditLog, AuditRow } from '../../ports/audit-log.js';
import type { SqlDb } from '../sql-db.js';
import { date, json, type Row } from './rows.js';

const toAudit = (r: Row): AuditRow => ({
  id: String(r.id),
  at: date(r.at),
  dashboardId: (r.dashboard_id as string | null) ?? null,
  userId: (r.user_id as string | null) ?? null,
  action: r.action as string,
  details: r.details ?? null,
  ip: (r.ip as string | null) ?? null,
});

export function createSqlAudit(db: SqlDb): AuditLog {
  return {
    async insertAudit(entry) {
      await db.query(
        `INSERT INTO audit_log (at, dashboard_id, user_id, action, details, ip) VALUES ($1, $2, $3, $4, $5::jsonb, $6)`,
        [entry.at, entry.dashboardId, entry.userId, entry.action, json(entry.details), entry.ip],
      );
    },

    async listAudit(dashboardId, limit) {
      const { rows } = await db.query<Row>(
        'SELECT * FROM audit_log WHERE dashboard_id = $1 ORDER BY id DESC LIMIT $2',
        [dashboardId, limit],
      );
      return rows.map(toAudit);
    },
  };
}
