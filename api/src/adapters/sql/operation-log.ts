/**
 * The OperationLog on SQL: `operations`, `snapshots` and `client_ids`, and the commit
 * transaction that locks `dashboards` rows and writes them (statements in
 * `./commit-statements.ts`). Rules: OP1 (one gapless history per dashboard; a commit is all or
 * nothing), OP1a (an absorbed op is stored as null), OP2 (a clientId belongs to the first user
 * who claims it; the committed (clientId, seq) pairs are screened under the lock), UN1 (undo
 * and redo stacks by undo_state), UN2 (undo steps by undo_group), SUB1 (catch-up reads ops
 * after a version, in order).
 */
import type { Role } from '../../domain/permissions.js';
import type { CommitTx, CommitWrite, OperationLog } from '../../ports/operation-log.js';
import type { Queryable, SqlDb } from '../sql-db.js';
import { commitStatement, LOCK, RESCREEN } from './commit-statements.js';
import { OPERATION_COLUMNS, toOperation, type Row } from './rows.js';

/** Reads on the pool or on the commit transaction. */
async function rangeOn(q: Queryable, dashboardId: string, from: number, to: number) {
  const { rows } = await q.query<Row>(
    `SELECT ${OPERATION_COLUMNS} FROM operations
     WHERE dashboard_id = $1 AND version > $2 AND version <= $3 ORDER BY version`,
    [dashboardId, from, to],
  );
  return rows.map(toOperation);
}

export function createSqlOperationLog(db: SqlDb): OperationLog {
  const withDashboardLocks: OperationLog['withDashboardLocks'] = async (requests, fn) => {
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
    commitConcurrency: db.commitConcurrency,

    async claimClientId(clientId, userId) {
      const inserted = await db.query<Row>(
        `INSERT INTO client_ids (client_id, user_id) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING
         RETURNING user_id`,
        [clientId, userId],
      );
      if (inserted.rows[0]) return inserted.rows[0].user_id as string;
      const { rows } = await db.query<Row>('SELECT user_id FROM client_ids WHERE client_id = $1', [clientId]);
      return rows[0]!.user_id as string;
    },

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
  };
}
