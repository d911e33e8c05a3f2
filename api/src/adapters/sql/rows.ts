/**
 * What the SQL store's parts (`../sql-store.ts`) share: the JSON and date conversions both
 * drivers need, and the `operations` row (its columns and mapper), which the op log reads and
 * the commit statements screen and write (OP1, OP2, UN1, UN2). Each part maps its other tables
 * itself. jsonb parameters are always passed as JSON text (pg would turn a JS array into a
 * PostgreSQL array).
 */
import type { OperationRow, UndoState } from '../../ports/operation-log.js';

export type Row = Record<string, unknown>;

export const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
export const date = (value: unknown) => (value instanceof Date ? value : new Date(value as string));
export const dateOrNull = (value: unknown) => (value == null ? null : date(value));

export const toOperation = (r: Row): OperationRow => ({
  dashboardId: r.dashboard_id as string,
  version: Number(r.version),
  op: r.op ?? null,
  inverse: r.inverse ?? null,
  authorId: r.author_id as string,
  clientId: r.client_id as string,
  seq: Number(r.seq),
  kind: r.kind as OperationRow['kind'],
  undoState: (r.undo_state as UndoState | null) ?? null,
  refVersion: r.ref_version == null ? null : Number(r.ref_version),
  undoGroup: r.undo_group == null ? null : Number(r.undo_group),
  createdAt: date(r.created_at),
});

/** The columns of `operations`, in the order both reads and the commit's insert use. */
export const OPERATION_COLUMNS =
  'dashboard_id, version, op, inverse, author_id, client_id, seq, kind, undo_state, ref_version, undo_group, created_at';
