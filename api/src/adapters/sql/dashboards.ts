/**
 * The DashboardStore on SQL, dashboards and their members: `dashboards` and `collaborators`
 * (a new dashboard also writes its version-0 row of `snapshots`). Rules: AC1 (dashboard and role reads see live
 * dashboards only, and a non-member sees none), RO1 (the maker is the one OWNER; members list
 * OWNER, EDITOR, VIEWER).
 * The commit transaction's writes to `dashboards` are the op log's (`./operation-log.ts`).
 * Soft-deleting a dashboard deletes its series and points (LD1, `./series.ts`).
 */
import type { Role } from '../../domain/permissions.js';
import type { CollaboratorRow, DashboardRow, DashboardStore } from '../../ports/dashboard-store.js';
import type { SqlDb } from '../sql-db.js';
import { date, dateOrNull, json, type Row } from './rows.js';
import { deleteSeriesOf } from './series.js';

export const toDashboard = (r: Row): DashboardRow => ({
  id: r.id as string,
  ownerId: r.owner_id as string,
  title: r.title as string,
  version: Number(r.version),
  document: r.head,
  createdAt: date(r.created_at),
  updatedAt: date(r.updated_at),
});

/** A dashboard row joined with the reader's `collaborators` row. */
const toMembership = (r: Row): DashboardRow & { role: Role } => ({ ...toDashboard(r), role: r.role as Role });

const toCollaborator = (r: Row): CollaboratorRow => ({
  dashboardId: r.dashboard_id as string,
  userId: r.user_id as string,
  role: r.role as Role,
  addedAt: date(r.added_at),
  expiresAt: dateOrNull(r.expires_at),
});

/** SC2: a membership counts until its expiresAt, by the database's clock. */
export const LIVE_MEMBER = '(c.expires_at IS NULL OR c.expires_at > now())';

export function createSqlDashboards(db: SqlDb): DashboardStore {
  return {
    async createDashboard({ id, ownerId, title, document, now }) {
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<Row>(
          `INSERT INTO dashboards (id, owner_id, title, version, head, created_at, updated_at)
           VALUES ($1, $2, $3, 0, $4::jsonb, $5, $5) RETURNING *`,
          [id, ownerId, title, json(document), now],
        );
        await tx.query(
          `INSERT INTO collaborators (dashboard_id, user_id, role, added_at) VALUES ($1, $2, 'OWNER', $3)`,
          [id, ownerId, now],
        );
        await tx.query(`INSERT INTO snapshots (dashboard_id, version, document) VALUES ($1, 0, $2::jsonb)`, [
          id,
          json(document),
        ]);
        return toDashboard(rows[0]!);
      });
    },

    async findDashboardForUser(id, userId) {
      const { rows } = await db.query<Row>(
        `SELECT d.*, c.role FROM dashboards d JOIN collaborators c ON c.dashboard_id = d.id
         WHERE d.id = $1 AND c.user_id = $2 AND d.deleted_at IS NULL AND ${LIVE_MEMBER}`,
        [id, userId],
      );
      return rows[0] ? toMembership(rows[0]) : null;
    },

    async getDashboard(id) {
      const { rows } = await db.query<Row>('SELECT * FROM dashboards WHERE id = $1 AND deleted_at IS NULL', [id]);
      return rows[0] ? toDashboard(rows[0]) : null;
    },

    async dashboardVersions(ids) {
      if (ids.length === 0) return new Map();
      const { rows } = await db.query<Row>(
        'SELECT id, version FROM dashboards WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL',
        [[...ids]],
      );
      return new Map(rows.map((r) => [r.id as string, Number(r.version)]));
    },

    async listDashboardsForUser(userId) {
      const { rows } = await db.query<Row>(
        `SELECT d.*, c.role FROM dashboards d JOIN collaborators c ON c.dashboard_id = d.id
         WHERE c.user_id = $1 AND d.deleted_at IS NULL AND ${LIVE_MEMBER} ORDER BY d.updated_at DESC, d.id`,
        [userId],
      );
      return rows.map(toMembership);
    },

    async softDeleteDashboard(id, now) {
      // Its series go with it (LD1), in the same transaction.
      return db.transaction(async (tx) => {
        const { rowCount } = await tx.query(
          'UPDATE dashboards SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL',
          [id, now],
        );
        if (rowCount === 0) return false;
        await deleteSeriesOf(tx, id);
        return true;
      });
    },

    async getRole(dashboardId, userId) {
      const { rows } = await db.query<Row>(
        `SELECT c.role FROM collaborators c JOIN dashboards d ON d.id = c.dashboard_id
         WHERE c.dashboard_id = $1 AND c.user_id = $2 AND d.deleted_at IS NULL AND ${LIVE_MEMBER}`,
        [dashboardId, userId],
      );
      return (rows[0]?.role as Role | undefined) ?? null;
    },

    async listCollaborators(dashboardId) {
      const { rows } = await db.query<Row>(
        `SELECT * FROM collaborators c WHERE dashboard_id = $1 AND ${LIVE_MEMBER}
         ORDER BY CASE role WHEN 'OWNER' THEN 0 WHEN 'EDITOR' THEN 1 ELSE 2 END, added_at, user_id`,
        [dashboardId],
      );
      return rows.map(toCollaborator);
    },

    async addCollaborator(dashboardId, userId, role, now, expiresAt = null) {
      // A membership that expired but was not swept yet is replaced, as if it were gone.
      const { rows } = await db.query<Row>(
        `INSERT INTO collaborators AS c (dashboard_id, user_id, role, added_at, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (dashboard_id, user_id) DO UPDATE
           SET role = EXCLUDED.role, added_at = EXCLUDED.added_at, expires_at = EXCLUDED.expires_at
           WHERE c.expires_at IS NOT NULL AND c.expires_at <= now()
         RETURNING *`,
        [dashboardId, userId, role, now, expiresAt],
      );
      return rows[0] ? toCollaborator(rows[0]) : null;
    },

    async updateCollaboratorRole(dashboardId, userId, role, expiresAt) {
      const { rows } = await db.query<Row>(
        `UPDATE collaborators c SET role = $3, expires_at = CASE WHEN $4 THEN $5::timestamptz ELSE expires_at END
         WHERE dashboard_id = $1 AND user_id = $2 AND ${LIVE_MEMBER} RETURNING *`,
        [dashboardId, userId, role, expiresAt !== undefined, expiresAt ?? null],
      );
      return rows[0] ? toCollaborator(rows[0]) : null;
    },

    async expireCollaborators() {
      const { rows } = await db.query<Row>(
        `DELETE FROM collaborators WHERE expires_at IS NOT NULL AND expires_at <= now() RETURNING *`,
      );
      return rows.map(toCollaborator);
    },

    async removeCollaborator(dashboardId, userId) {
      const { rowCount } = await db.query('DELETE FROM collaborators WHERE dashboard_id = $1 AND user_id = $2', [
        dashboardId,
        userId,
      ]);
      return rowCount > 0;
    },
  };
}
