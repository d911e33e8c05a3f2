/**
 * Undo stacks within a batch: rule UN1 (undo takes the client's newest active op, redo its
 * newest redoable undo; a new edit or restore clears the redo stack) and rule UN2 (a typing
 * run is one undo step, undone and redone whole, as one op).
 */
import { composeOps, type JSONOp } from '@collab-dashboards/core';
import { rebase, textEditTarget, withoutCancelledPairs, type HistoryOp } from '../../domain/commit.js';
import type { OperationRow, UndoState } from '../../ports/operation-log.js';
import { later, type Batch, type RowExtra } from './batch.js';

/**
 * Rule UN2: a client's text edits of one widget join one undo step while each follows the
 * one before within RUN_GAP_MS, for at most RUN_SPAN_MS from the step's first op.
 */
export const RUN_GAP_MS = 2_000;

export const RUN_SPAN_MS = 20_000;

/** Records a row's new undo state: on the row when this batch made it, else as a write. */
export function setState(b: Batch, row: OperationRow, state: UndoState) {
  if (row.version > b.dbVersion) row.undoState = state;
  else b.stateChanges.set(row.version, state);
}

/** A new edit or restore (committed as `fromVersion`) empties the client's redo stack. */
export function clearRedo(b: Batch, clientId: string, fromVersion: number) {
  b.clearRedoFor.add(clientId);
  for (const r of b.rows) {
    if (r.clientId === clientId && r.undoState === 'redoable' && r.version < fromVersion) r.undoState = 'cleared';
  }
}

/** The top of the client's undo ('active') or redo ('redoable') stack, this batch first. */
export async function stackTop(b: Batch, clientId: string, state: 'active' | 'redoable') {
  for (let i = b.rows.length - 1; i >= 0; i--) {
    const r = b.rows[i]!;
    if (r.clientId === clientId && r.undoState === state) return r;
  }
  // An edit earlier in this batch emptied the redo stack kept in the database.
  if (state === 'redoable' && b.clearRedoFor.has(clientId)) return null;
  return b.tx.stackTop(clientId, state, [...b.stateChanges.keys()]);
}

/** The client's newest op this batch knows (its own, then the recent cache), if any. */
function lastOf(b: Batch, clientId: string): OperationRow | undefined {
  for (let i = b.rows.length - 1; i >= 0; i--) if (b.rows[i]!.clientId === clientId) return b.rows[i];
  for (let i = b.history.length - 1; i >= 0; i--) if (b.history[i]!.clientId === clientId) return b.history[i];
  return undefined;
}
function known(b: Batch, version: number): OperationRow | undefined {
  return b.rows.find((r) => r.version === version) ?? b.history.find((r) => r.version === version);
}

/**
 * Rule UN2: the undo step an edit committed now as `at` joins. A text edit joins its
 * client's previous op when that is an active edit of the same widget's text, made less
 * than RUN_GAP_MS ago, in a step begun less than RUN_SPAN_MS ago. Decided from what this
 * instance remembers: when it does not know the previous op, the edit starts a step.
 */
export function undoGroupFor(b: Batch, clientId: string, op: JSONOp | null, at: number): number | null {
  if (op === null) return null;
  const now = b.now.getTime();
  const target = textEditTarget(op);
  const previous = target === null ? undefined : lastOf(b, clientId);
  if (!previous || previous.kind !== 'edit' || previous.undoState !== 'active' || previous.op === null) return at;
  if (textEditTarget(previous.op) !== target || now - previous.createdAt.getTime() > RUN_GAP_MS) {
    return at;
  }
  const group = previous.undoGroup ?? previous.version;
  const first = group === previous.version ? previous : known(b, group);
  return first && now - first.createdAt.getTime() <= RUN_SPAN_MS ? group : at;
}

/** An undo or redo to commit: its op and its row's undo bookkeeping. */
export interface Step {
  op: JSONOp | null;
  extra: RowExtra;
}

/**
 * Rule UN1/UN2: reverts the client's newest undo step (every op of it still active,
 * newest first) as one op: each op's inverse is rebased over everything after it,
 * including the reverts already made for the newer ops of the step, and the reverts are
 * composed. It goes on the redo stack. Null when the stack is empty.
 */
export async function undoStep(b: Batch, clientId: string): Promise<Step | null> {
  const top = await stackTop(b, clientId, 'active');
  if (!top) return null;
  const group = top.undoGroup;
  const members: OperationRow[] = [top];
  if (group !== null && group !== top.version) {
    for (let i = b.rows.length - 1; i >= 0; i--) {
      const r = b.rows[i]!;
      if (r !== top && r.clientId === clientId && r.undoState === 'active' && r.undoGroup === group) {
        members.push(r);
      }
    }
    if (group <= b.dbVersion) {
      const exclude = [...b.stateChanges.keys(), ...members.map((r) => r.version)];
      members.push(...(await b.tx.undoStep(clientId, group, exclude)));
    }
    members.sort((m, n) => n.version - m.version);
  }
  // Read what follows the oldest member once: the newer members' histories are its tail.
  if (members.length > 1) await later(b, members[members.length - 1]!.version);
  const reverts: HistoryOp[] = []; // made for the newer members, as if committed after the head
  let reverted: JSONOp | null = null;
  for (const member of members) {
    const history = [...((await later(b, member.version)) as unknown as HistoryOp[]), ...reverts];
    const revert = rebase(member.inverse as JSONOp | null, withoutCancelledPairs(history)).op;
    if (revert !== null) reverted = reverted === null ? revert : composeOps(reverted, revert);
    // Only its op and what it reverts matter to the rebases of the older members.
    reverts.push({
      version: b.version + 1 + reverts.length,
      op: revert,
      inverse: null,
      kind: 'undo',
      refVersion: member.version,
    });
    setState(b, member, 'undone');
  }
  return { op: reverted, extra: { kind: 'undo', undoState: 'redoable', refVersion: top.version, undoGroup: group } };
}

/**
 * Rule UN1: gives back the client's newest undo (marked redone) as its inverse rebased over
 * everything after it, undoable again as a step of its own. Null when the redo stack is empty.
 */
export async function redoStep(b: Batch, clientId: string): Promise<Step | null> {
  const target = await stackTop(b, clientId, 'redoable');
  if (!target) return null;
  const history = (await later(b, target.version)) as unknown as HistoryOp[];
  const rebased = rebase(target.inverse as JSONOp | null, withoutCancelledPairs(history));
  setState(b, target, 'redone');
  return {
    op: rebased.op,
    extra: { kind: 'redo', undoState: 'active', refVersion: target.version, undoGroup: b.version + 1 },
  };
}
