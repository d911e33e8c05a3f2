/**
 * The CheckpointStore on SQL: `checkpoints`, named versions of a dashboard (listed newest
 * first). Rule UN1: restoring one commits an op of its own (the op log's); a checkpoint only
 * names its version.
 */
import type { CheckpointRow, CheckpointStore } from '../../ports/checkpoint-store.js';
import type { SqlDb } from '../sql-db.js';
import { date, type Row } from './rows.js';

const toCheckpoint = (r: Row): CheckpointRow => ({
  id: r.id as string,
  dashboardId: r.dashboard_id as string,
  name: r.name as string,
  version: Number(r.version),
  createdBy: r.created_by as string,
  createdAt: date(r.created_at),
});

export function createSqlCheckpoints(db: SqlDb): CheckpointStore {
  return {
    async insertCheckpoint(row) {
      const { rows } = await db.query<Row>(
        `INSERT INTO checkpoints (id, dashboard_id, name, version, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        [row.id, row.dashboardId, row.name, row.version, row.createdBy, row.createdAt],
      );
      return toCheckpoint(rows[0]!);
    },

    async getCheckpoint(id) {
      const { rows } = await db.query<Row>('SELECT * FROM checkpoints WHERE id = $1', [id]);
      return rows[0] ? toCheckpoint(rows[0]) : null;
    },

    async listCheckpoints(dashboardId) {
      const { rows } = await db.query<Row>(
        'SELECT * FROM checkpoints WHERE dashboard_id = $1 ORDER BY created_at DESC, id',
        [dashboardId],
      );
      return rows.map(toCheckpoint);
    },
  };
}
