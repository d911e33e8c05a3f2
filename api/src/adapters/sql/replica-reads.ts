/**
 * The reads a PostgreSQL store with read replicas answers from a replica (issue #17), each
 * in a way that returns exactly what the primary would have returned: never a gap, never a
 * stale read (OP1, SUB1). Everything else (commits and their locks, the dedupe screen,
 * clientIds, accounts, roles, dashboardVersions, getDashboard, migrations, ping) stays on the
 * primary. Which replica, and its failures, are `./replica-set.ts`'s.
 *
 * - History (listOperations, listOperationRange; catch-up, gap fills, history pages,
 *   documentAt's replay): a streaming replica holds a prefix of the primary's history, and
 *   versions are contiguous (OP1). A replica that has replayed as far as the primary's
 *   position when the read began answers alone. A lagging one answers what it has, and the
 *   primary tops it up: one indexed read of the same range that returns the rows after the
 *   replica's last version in full, and for the replica's rows only their small columns.
 *   An op's bytes (op, inverse) never change once committed, but its undo state does (UN1: a
 *   later commit undoes it, or clears it from the redo stack), so that state comes from the
 *   primary too: the answer is the primary's own, with the replica's copy of the bytes.
 * - latestSnapshot, listAudit, readPoints, lastPoints: a replica that has replayed as far as
 *   the primary's position when the read began, else the primary ("lagging").
 * - The cold open (findDashboardForUser, the `dashboard` query a client loads before it
 *   subscribes): the membership and the row without its document on the primary (the role
 *   is decided there), the document from a replica whose row is at the same version (a
 *   dashboard's head changes only with its version), else everything from the primary.
 */
import type { Role } from '../../domain/permissions.js';
import type { OperationRow } from '../../ports/operation-log.js';
import type { Store } from '../../ports/store.js';
import type { Queryable, SqlDb } from '../sql-db.js';
import { createSqlAudit } from './audit.js';
import { LIVE_MEMBER, toDashboard } from './dashboards.js';
import { createSqlOperationLog } from './operation-log.js';
import type { ReplicaReader, ReplicaSet } from './replica-set.js';
import { date, OPERATION_COLUMNS, toOperation, type Row } from './rows.js';
import { createSqlSeries } from './series.js';

export type ReadTarget = 'replica' | 'primary';
/**
 * replica: caught_up (it answered alone), topped_up (the primary added what it lacked);
 * primary: lagging (the replica is behind the read), down (no replica answered), error (the
 * replica refused the statement).
 */
export type ReadReason = 'caught_up' | 'topped_up' | 'lagging' | 'down' | 'error';
export type OnRead = (target: ReadTarget, reason: ReadReason) => void;

/** The Store members answered from replicas. */
export type ReplicaReads = Pick<
  Store,
  | 'listOperations'
  | 'listOperationRange'
  | 'latestSnapshot'
  | 'listAudit'
  | 'readPoints'
  | 'lastPoints'
  | 'findDashboardForUser'
>;

/** A replica connection as the SQL parts' database: reads only. */
function readOnly(db: Queryable): SqlDb {
  return {
    ...db,
    transaction: () => Promise.reject(new Error('a read replica runs no transaction')),
    close: async () => {},
    commitConcurrency: 1,
  };
}

/** The op columns with op and inverse left out ($n: the replica's last version) where the replica has them. */
const TOP_UP_COLUMNS = (n: number) =>
  OPERATION_COLUMNS.split(', ')
    .map((c) => (c === 'op' || c === 'inverse' ? `CASE WHEN version > $${n} THEN ${c} END AS ${c}` : c))
    .join(', ');

const TOP_UP_PAGE = `SELECT ${TOP_UP_COLUMNS(4)} FROM operations
  WHERE dashboard_id = $1 AND version > $2 ORDER BY version LIMIT $3`;
const TOP_UP_RANGE = `SELECT ${TOP_UP_COLUMNS(4)} FROM operations
  WHERE dashboard_id = $1 AND version > $2 AND version <= $3 ORDER BY version`;

/** The cold open's primary half: findDashboardForUser's read without the document. */
const MEMBERSHIP = `SELECT d.id, d.owner_id, d.title, d.version, d.created_at, d.updated_at, c.role
  FROM dashboards d JOIN collaborators c ON c.dashboard_id = d.id
  WHERE d.id = $1 AND c.user_id = $2 AND d.deleted_at IS NULL AND ${LIVE_MEMBER}`;

export function createReplicaReads(deps: {
  /** The same members on the primary. */
  primary: ReplicaReads;
  /** The primary's database, for the top-up and the cold open. */
  primaryDb: Queryable;
  replicas: ReplicaSet;
  onRead?: OnRead;
}): ReplicaReads {
  const { primary, primaryDb, replicas } = deps;
  const count = (target: ReadTarget, reason: ReadReason) => deps.onRead?.(target, reason);

  /** The primary's answer, counted with why the replica did not give it. */
  function onPrimary<T>(reason: ReadReason, read: () => Promise<T>): Promise<T> {
    count('primary', reason);
    return read();
  }

  /** A read a replica may answer once it has replayed what the primary had when the read began. */
  async function causal<T>(onReplica: (db: SqlDb) => Promise<T>, onPrimaryRead: () => Promise<T>): Promise<T> {
    const needed = await replicas.primaryLsn();
    const outcome = await replicas.withReplica(async (replica) =>
      (await replica.replayedTo(needed)) ? { rows: await onReplica(readOnly(replica.db)) } : null,
    );
    if ('miss' in outcome) return onPrimary(outcome.miss, onPrimaryRead);
    if (!outcome.value) return onPrimary('lagging', onPrimaryRead);
    count('replica', 'caught_up');
    return outcome.value.rows;
  }

  /**
   * A history read: `bound` is a page (at most `limit` ops after `from`) or a range (up to
   * `to`). The replica's rows, complete when it has replayed as far as the read needs, else
   * topped up by the primary.
   */
  async function history(
    dashboardId: string,
    from: number,
    bound: { limit: number } | { to: number },
    onPrimaryRead: () => Promise<OperationRow[]>,
  ): Promise<OperationRow[]> {
    const needed = await replicas.primaryLsn();
    const outcome = await replicas.withReplica(async (replica: ReplicaReader) => {
      const caughtUp = await replica.replayedTo(needed);
      const log = createSqlOperationLog(readOnly(replica.db));
      const rows =
        'limit' in bound
          ? await log.listOperations(dashboardId, from, bound.limit)
          : await log.listOperationRange(dashboardId, from, bound.to);
      return { caughtUp, rows };
    });
    if ('miss' in outcome) return onPrimary(outcome.miss, onPrimaryRead);
    const { caughtUp, rows } = outcome.value;
    if (caughtUp) {
      count('replica', 'caught_up');
      return rows;
    }
    if (rows.length === 0) return onPrimary('lagging', onPrimaryRead);
    // version -> the replica's copy, for its bytes
    const held = new Map(rows.map((row) => [row.version, row]));
    const last = rows[rows.length - 1]!.version;
    const { rows: fresh } =
      'limit' in bound
        ? await primaryDb.query<Row>(TOP_UP_PAGE, [dashboardId, from, bound.limit, last])
        : await primaryDb.query<Row>(TOP_UP_RANGE, [dashboardId, from, bound.to, last]);
    const merged: OperationRow[] = [];
    for (const row of fresh.map(toOperation)) {
      if (row.version > last) {
        merged.push(row);
        continue;
      }
      const copy = held.get(row.version);
      // A version the replica did not hold below its last one would contradict OP1: trust the primary alone.
      if (!copy) return onPrimary('lagging', onPrimaryRead);
      merged.push({ ...row, op: copy.op, inverse: copy.inverse });
    }
    count('replica', 'topped_up');
    return merged;
  }

  return {
    listOperations: (dashboardId, fromVersion, limit) =>
      history(dashboardId, fromVersion, { limit }, () => primary.listOperations(dashboardId, fromVersion, limit)),

    listOperationRange: (dashboardId, from, to) =>
      history(dashboardId, from, { to }, () => primary.listOperationRange(dashboardId, from, to)),

    latestSnapshot: (dashboardId, atOrBefore) =>
      causal(
        (db) => createSqlOperationLog(db).latestSnapshot(dashboardId, atOrBefore),
        () => primary.latestSnapshot(dashboardId, atOrBefore),
      ),

    listAudit: (dashboardId, limit) =>
      causal(
        (db) => createSqlAudit(db).listAudit(dashboardId, limit),
        () => primary.listAudit(dashboardId, limit),
      ),

    readPoints: (dashboardId, match, range) =>
      causal(
        (db) => createSqlSeries(db).readPoints(dashboardId, match, range),
        () => primary.readPoints(dashboardId, match, range),
      ),

    lastPoints: (seriesIds) =>
      causal(
        (db) => createSqlSeries(db).lastPoints(seriesIds),
        () => primary.lastPoints(seriesIds),
      ),

    async findDashboardForUser(id, userId) {
      const { rows } = await primaryDb.query<Row>(MEMBERSHIP, [id, userId]);
      const member = rows[0];
      if (!member) return null;
      const version = Number(member.version);
      const updatedAt = date(member.updated_at).getTime();
      const outcome = await replicas.withReplica(async (replica) => {
        const found = await replica.db.query<Row>('SELECT version, updated_at, head FROM dashboards WHERE id = $1', [
          id,
        ]);
        return found.rows[0] ?? null;
      });
      const read = () => primary.findDashboardForUser(id, userId);
      if ('miss' in outcome) return onPrimary(outcome.miss, read);
      const head = outcome.value;
      if (!head || Number(head.version) !== version || date(head.updated_at).getTime() !== updatedAt) {
        return onPrimary('lagging', read);
      }
      count('replica', 'caught_up');
      return { ...toDashboard({ ...member, head: head.head }), role: member.role as Role };
    },
  };
}
