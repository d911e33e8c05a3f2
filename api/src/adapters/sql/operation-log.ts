/**
 * The op log on SQL: `operations`, `snapshots` and `checkpoints`, and the commit transaction
 * that locks `dashboards` rows and writes them (statements in `./commit-statements.ts`).
 * Rules: OP1 (one gapless history per dashboard; a commit is all or nothing), OP1a (an
 * absorbed op is stored as null), OP2 (the committed (clientId, seq) pairs are screened under
 * the lock), UN1 (undo and redo stacks by undo_state), UN2 (undo steps by undo_group), SUB1
 * (catch-up reads ops after a version, in order).
 */
import { notFound } from '../../errors.js';
import type { Role } from '../../domain/permissions.js';
import type { CheckpointRow, CommitTx, CommitWrite, Store } from '../../ports/store.js';
import type { Queryable, SqlDb } from '../sql-db.js';
import { commitStatement, LOCK, RESCREEN } from './commit-statements.js';
import { date, OPERATION_COLUMNS, toOperation, type Row } from './rows.js';

const toCheckpoint = (r: Row): CheckpointRow => ({
  id: r.id as string,
  dashboardId: r.dashboard_id as string,
  name: r.name as string,
  version: Number(r.version),
  createdBy: r.created_by as string,
  createdAt: date(r.created_at),
});

/** Reads on the pool or on the commit transaction. */
async function rangeOn(q: Queryable, dashboardId: string, from: number, to: number) {
  const { rows } = await q.query<Row>(
    `SELECT ${OPERATION_COLUMNS} FROM operations
     WHERE dashboard_id = $1 AND version > $2 AND version <= $3 ORDER BY version`,
    [dashboardId, from, to],
  );
  return rows.map(toOperation);
}

async function findOperationOn(q: Queryable, dashboardId: string, clientId: string, seq: number) {
  const { rows } = await q.query<Row>(
    `SELECT ${OPERATION_COLUMNS} FROM operations WHERE dashboard_id = $1 AND client_id = $2 AND seq = $3`,
    [dashboardId, clientId, seq],
  );
  return rows[0] ? toOperation(rows[0]) : null;
}

export type SqlOperationLog = Pick<
  Store,
  | 'findOperation'
  | 'listOperations'
  | 'listOperationRange'
  | 'latestSnapshot'
  | 'withDashboardLocks'
  | 'withDashboardLock'
  | 'insertCheckpoint'
  | 'listCheckpoints'
  | 'getCheckpoint'
>;

export function createSqlOperationLog(db: SqlDb): SqlOperationLog {
  const withDashboardLocks: Store['withDashboardLocks'] = async (requests, fn) => {
    const ids = requests.map((r) => r.dashboardId);
    // PostgreSQL answers with lower-case ids; the caller's spelling keys the answer.
    const spelled = new Map(ids.map((id) => [id.toLowerCase(), id]));
    if (spelled.size !== ids.length) throw new Error('withDashboardLocks: a dashboard appears twice');
    const roleKeys: Array<[string, string]> = [];
    const opKeys: Array<[string, string, number]> = [];
    for (const { dashboardId, screen } of requests) {
      for (const userId of new Set(screen?.userIds ?? [])) roleKeys.push([dashboardId, userId]);
      for (const k of screen?.keys ?? []) opKeys.push([dashboardId, k.clientId, k.seq]);
    }
    const screenParams = [
      roleKeys.map((k) => k[0]),
      roleKeys.map((k) => k[1]),
      opKeys.map((k) => k[0]),
      opKeys.map((k) => k[1]),
      opKeys.map((k) => k[2]),
    ];
    return db.transaction(async (tx) => {
      const { rows } = await tx.query<Row>(LOCK, [ids, ...screenParams]);
      // A screen is read in the statement's snapshot, taken before the locks were granted:
      // where another commit landed during the wait, read it again (now seeing it).
      const stale = rows.filter((r) => Number(r.seen_version) !== Number(r.version)).map((r) => String(r.id));
      const screens = new Map(rows.map((r) => [String(r.id), r]));
      if (stale.length > 0 && (roleKeys.length > 0 || opKeys.length > 0)) {
        for (const r of (await tx.query<Row>(RESCREEN, [stale, ...screenParams])).rows) screens.set(String(r.id), r);
      }
      const writes: Array<[string, CommitWrite]> = [];
      const txs = new Map<string, CommitTx>();
      for (const locked of rows) {
        const screened = screens.get(String(locked.id))!;
        const dashboardId = spelled.get(String(locked.id).toLowerCase())!;
        let written = false;
        txs.set(dashboardId, {
          version: Number(locked.version),
          roles: new Map(((screened.roles ?? []) as Array<[string, Role]>).map(([id, role]) => [String(id), role])),
          committed: ((screened.committed ?? []) as Row[]).map(toOperation),
          async document() {
            const r = await tx.query<Row>('SELECT head FROM dashboards WHERE id = $1', [dashboardId]);
            return r.rows[0]!.head;
          },
          operations: (from, to) => rangeOn(tx, dashboardId, from, to),
          async stackTop(clientId, state, exclude) {
            const r = await tx.query<Row>(
              `SELECT ${OPERATION_COLUMNS} FROM operations
               WHERE dashboard_id = $1 AND client_id = $2 AND undo_state = $3 AND NOT (version = ANY($4::int[]))
               ORDER BY version DESC LIMIT 1`,
              [dashboardId, clientId, state, exclude],
            );
            return r.rows[0] ? toOperation(r.rows[0]) : null;
          },
          async undoStep(clientId, group, exclude) {
            const r = await tx.query<Row>(
              `SELECT ${OPERATION_COLUMNS} FROM operations
               WHERE dashboard_id = $1 AND client_id = $2 AND undo_state = 'active' AND undo_group = $3
                 AND NOT (version = ANY($4::int[]))
               ORDER BY version DESC`,
              [dashboardId, clientId, group, exclude],
            );
            return r.rows.map(toOperation);
          },
          write(changes) {
            if (written) throw new Error(`dashboard ${dashboardId}: a commit writes once`);
            written = true;
            writes.push([dashboardId, changes]);
          },
        });
      }
      const value = await fn(txs);
      if (writes.length > 0) {
        const { sql, params } = commitStatement(writes);
        await tx.query(sql, params);
      }
      return value;
    });
  };

  return {
    findOperation: (dashboardId, clientId, seq) => findOperationOn(db, dashboardId, clientId, seq),

    async listOperations(dashboardId, fromVersion, limit) {
      const { rows } = await db.query<Row>(
        `SELECT ${OPERATION_COLUMNS} FROM operations WHERE dashboard_id = $1 AND version > $2
         ORDER BY version LIMIT $3`,
        [dashboardId, fromVersion, limit],
      );
      return rows.map(toOperation);
    },

    listOperationRange: (dashboardId, from, to) => rangeOn(db, dashboardId, from, to),

    async latestSnapshot(dashboardId, atOrBefore) {
      const { rows } = await db.query<Row>(
        `SELECT version, document FROM snapshots WHERE dashboard_id = $1 AND version <= $2
         ORDER BY version DESC LIMIT 1`,
        [dashboardId, atOrBefore],
      );
      return rows[0] ? { version: Number(rows[0].version), document: rows[0].document } : null;
    },

    withDashboardLocks,

    async withDashboardLock(dashboardId, fn, screen) {
      return withDashboardLocks([{ dashboardId, screen }], (txs) => {
        const tx = txs.get(dashboardId);
        if (!tx) throw notFound();
        return fn(tx);
      });
    },

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
