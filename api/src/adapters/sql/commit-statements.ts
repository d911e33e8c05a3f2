/**
 * The SQL of the commit transaction (`./operation-log.ts`): LOCK and RESCREEN lock the
 * `dashboards` rows and screen `collaborators` and `operations` as of the lock (roles for AC1
 * and RO1, committed (clientId, seq) pairs for OP2), and `commitStatement` writes a group's
 * `operations`, undo states (UN1, UN2), `snapshots` and `dashboards` heads in one statement
 * (OP1: all of it or none; OP4).
 */
import type { CommitWrite, OperationRow, UndoState } from '../../ports/operation-log.js';
import { json, OPERATION_COLUMNS } from './rows.js';

/**
 * What a commit screens its submissions against, per locked dashboard `d`: the authors'
 * roles ($2/$3: dashboard and user ids, zipped; a membership past its expiresAt is none, SC2) and the (clientId, seq) pairs already
 * committed ($4/$5/$6: dashboard, client and seq, zipped).
 */
const SCREEN = `
  (SELECT json_agg(json_build_array(c.user_id, c.role))
    FROM unnest($2::uuid[], $3::uuid[]) AS k(d, u)
    JOIN collaborators c ON c.dashboard_id = k.d AND c.user_id = k.u
      AND (c.expires_at IS NULL OR c.expires_at > now())
    WHERE k.d = d.id) AS roles,
  (SELECT json_agg(r) FROM (
    SELECT ${OPERATION_COLUMNS.split(', ')
      .map((c) => `o.${c}`)
      .join(', ')}
    FROM unnest($4::uuid[], $5::text[], $6::int[]) AS k(d, c, s)
    JOIN operations o ON o.dashboard_id = k.d AND o.client_id = k.c AND o.seq = k.s
    WHERE k.d = d.id) r) AS committed`;

/**
 * Locks the dashboard rows ($1) in id order and screens each in the same round trip.
 * `version` is the locked row's (re-read after waiting for the lock), `seen_version` the
 * statement snapshot's: they differ when a commit landed during the wait, and that
 * dashboard's screen then has to be read again. (`seen_version` must stay a subquery of its
 * own: joined into the locking scan it would be re-read with the row.)
 */
export const LOCK = `
  SELECT d.id, d.version, (SELECT s.version FROM dashboards s WHERE s.id = d.id) AS seen_version, ${SCREEN}
  FROM dashboards d WHERE d.id = ANY($1::uuid[]) AND d.deleted_at IS NULL
  ORDER BY d.id FOR UPDATE OF d`;

/** LOCK's screen alone, read again for the dashboards whose lock waited on another commit. */
export const RESCREEN = `SELECT d.id, ${SCREEN} FROM dashboards d WHERE d.id = ANY($1::uuid[])`;

/**
 * A group's commits as one statement with a fixed number of parameters (arrays, zipped by
 * unnest): data-modifying CTEs for the redo stacks, undo states, snapshots and heads, then
 * the ops. The CTEs all see the snapshot before the statement, so clearing never touches
 * the new ops, and rows with an undo-state change are left to that change (a row must not
 * be updated twice in one statement). JSON and times travel as text and are cast.
 */
export function commitStatement(writes: ReadonlyArray<readonly [string, CommitWrite]>) {
  const params: unknown[] = [];
  const p = (value: unknown[]) => `$${params.push(value)}`;
  const cleared: Array<[string, string]> = [];
  const states: Array<[string, number, UndoState]> = [];
  const snaps: Array<[string, number, string | null]> = [];
  const heads: Array<[string, number, string | null, string, string]> = [];
  const ops: OperationRow[] = [];
  for (const [dashboardId, w] of writes) {
    for (const clientId of w.clearRedo) cleared.push([dashboardId, clientId]);
    for (const [version, state] of w.undoStates) states.push([dashboardId, version, state]);
    for (const snap of w.snapshots) snaps.push([dashboardId, snap.version, json(snap.document)]);
    heads.push([dashboardId, w.head.version, json(w.head.document), w.head.title, w.head.at.toISOString()]);
    ops.push(...w.operations);
  }
  const column = <R extends unknown[]>(rows: R[], i: number) => rows.map((r) => r[i]);
  const ctes: string[] = [];
  const stateList = states.length > 0 ? `${p(column(states, 0))}::uuid[], ${p(column(states, 1))}::int[]` : '';
  if (cleared.length > 0) {
    ctes.push(`cleared AS (
      UPDATE operations o SET undo_state = 'cleared'
      FROM unnest(${p(column(cleared, 0))}::uuid[], ${p(column(cleared, 1))}::text[]) AS k(d, c)
      WHERE o.dashboard_id = k.d AND o.client_id = k.c AND o.undo_state = 'redoable'${
        stateList
          ? ` AND NOT EXISTS (SELECT 1 FROM unnest(${stateList}) AS e(d, v) WHERE e.d = o.dashboard_id AND e.v = o.version)`
          : ''
      })`);
  }
  if (states.length > 0) {
    ctes.push(`states AS (
      UPDATE operations o SET undo_state = s.state
      FROM unnest(${stateList}, ${p(column(states, 2))}::text[]) AS s(d, v, state)
      WHERE o.dashboard_id = s.d AND o.version = s.v)`);
  }
  if (snaps.length > 0) {
    ctes.push(`snaps AS (
      INSERT INTO snapshots (dashboard_id, version, document)
      SELECT d, v, doc::jsonb FROM unnest(${p(column(snaps, 0))}::uuid[], ${p(column(snaps, 1))}::int[],
        ${p(column(snaps, 2))}::text[]) AS t(d, v, doc)
      ON CONFLICT DO NOTHING)`);
  }
  ctes.push(`heads AS (
    UPDATE dashboards d SET version = h.v, head = h.doc::jsonb, title = h.title, updated_at = h.at::timestamptz
    FROM unnest(${p(column(heads, 0))}::uuid[], ${p(column(heads, 1))}::int[], ${p(column(heads, 2))}::text[],
      ${p(column(heads, 3))}::text[], ${p(column(heads, 4))}::text[]) AS h(id, v, doc, title, at)
    WHERE d.id = h.id)`);
  const main =
    ops.length === 0
      ? 'SELECT 1'
      : `INSERT INTO operations (${OPERATION_COLUMNS})
    SELECT d, v, op::jsonb, inv::jsonb, author, client, seq, kind, undo, ref, grp, at::timestamptz
    FROM unnest(${p(ops.map((o) => o.dashboardId))}::uuid[], ${p(ops.map((o) => o.version))}::int[],
      ${p(ops.map((o) => json(o.op)))}::text[], ${p(ops.map((o) => json(o.inverse)))}::text[],
      ${p(ops.map((o) => o.authorId))}::uuid[], ${p(ops.map((o) => o.clientId))}::text[],
      ${p(ops.map((o) => o.seq))}::int[], ${p(ops.map((o) => o.kind))}::text[],
      ${p(ops.map((o) => o.undoState))}::text[], ${p(ops.map((o) => o.refVersion))}::int[],
      ${p(ops.map((o) => o.undoGroup))}::int[], ${p(ops.map((o) => o.createdAt.toISOString()))}::text[])
      AS t(d, v, op, inv, author, client, seq, kind, undo, ref, grp, at)`;
  return { sql: `WITH ${ctes.join(',\n')}\n${main}`, params };
}
