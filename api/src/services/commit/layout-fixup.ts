/**
 * Rules LY1, LY2: widgets never hide one another. A client pushes widgets out of the way of
 * the one it moves, in the same op (LY1); what concurrent moves (or an undo putting a widget
 * back where another now stands) still leave overlapping, the server pushes apart in one
 * more op, committed with the batch, so every client sees the same layout (LY2).
 */
import { layoutChangesOp, resolveOverlaps, type DashboardDocument, type JSONOp } from '@collab-dashboards/core';
import { commitOp, type Batch } from './batch.js';

/** The clientId of the server's layout fix-ups (rule LY2); their seq is their version. */
export const LAYOUT_CLIENT = 'server:layout';

/**
 * Whether an op may change where widgets stand: anything but an edit of a widget's text,
 * config or title, or of the dashboard's title (those never move a widget).
 */
function mayMoveWidgets(op: JSONOp): boolean {
  if (!Array.isArray(op)) return true;
  if (op[0] === 'title') return false;
  return !(op[0] === 'widgets' && typeof op[1] === 'string' && ['text', 'config', 'title'].includes(op[2] as string));
}

/**
 * After a batch is decided: when any of its ops may have moved widgets and the head has
 * overlaps, commits the fix-up, authored by the author of the batch's last such op.
 */
export function fixLayout(b: Batch) {
  const mover = [...b.rows].reverse().find((r) => r.op !== null && mayMoveWidgets(r.op as JSONOp));
  if (mover) {
    const changes = resolveOverlaps(b.head as DashboardDocument);
    if (changes.size > 0) {
      const op = layoutChangesOp(b.head as DashboardDocument, changes);
      const fix = { kind: 'layout', clientId: LAYOUT_CLIENT, seq: b.version + 1, authorId: mover.authorId } as const;
      commitOp(b, fix, op, { kind: 'layout', undoState: null, refVersion: null, undoGroup: null });
    }
  }
}
