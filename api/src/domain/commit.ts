/**
 * Pure steps of committing an op (rules OP3, OP5, UN1): rebuild the document an op was
 * made against, validate it there, transform it over what was committed since, invert it.
 */
import {
  applyOp,
  checkOp,
  invertOp,
  transformWithConflictInfo,
  validateDocument,
  type DashboardDocument,
  type JSONOp,
} from '@collab-dashboards/core';

/** A committed op as the commit path needs it. */
export interface HistoryOp {
  version: number;
  op: JSONOp | null;
  inverse: JSONOp | null;
  /** 'undo' and 'redo' ops revert the op at `refVersion`. */
  kind?: string;
  /** For undo and redo ops: the version of the op they revert (the newest, for a step). */
  refVersion?: number | null;
  /** Rule UN2: the first version of the op's undo step; on an undo, the step it reverted. */
  undoGroup?: number | null;
}

/**
 * Drops pairs that cancel out exactly: an op immediately followed (once inner pairs are
 * gone) by the undo or redo that reverted it. Such an undo was committed as the exact
 * inverse, so the pair is the identity, and transforming across it would only lose work:
 * an edit rebased over "remove widget" then "re-insert widget" is absorbed by the removal
 * though the widget is back. Pairs with other people's ops between them are kept, since
 * dropping them would misplace those ops (list indices shift). Used when rebasing an undo or
 * a redo (rule UN1: undo then redo is the identity).
 *
 * An undo of a whole step (rule UN2: the ops of `undoGroup` up to `refVersion`) cancels the
 * step only when all of it stands right before it: from the op at `refVersion` down to the
 * step's first op (version `undoGroup`), with nobody else's op in between.
 */
export function withoutCancelledPairs<T extends HistoryOp>(later: readonly T[]): T[] {
  const kept: T[] = [];
  for (const row of later) {
    const top = kept[kept.length - 1];
    const reverts = row.kind === undefined || row.kind === 'undo' || row.kind === 'redo'; // a restore names a version too
    if (!top || !reverts || row.refVersion == null || row.refVersion !== top.version || row.op === null) {
      kept.push(row);
      continue;
    }
    const group = row.kind === 'undo' ? row.undoGroup : null;
    if (group == null || group === top.version) {
      kept.pop();
      continue;
    }
    // The step, newest first, down to its first op.
    let start = kept.length - 1;
    while (start > 0 && kept[start - 1]!.undoGroup === group && kept[start]!.version !== group) start--;
    if (kept[start]!.version === group && kept.slice(start).every((r) => r.undoGroup === group)) {
      kept.length = start;
    } else {
      kept.push(row);
    }
  }
  return kept;
}

/**
 * The document at the version just before `later[0]`, from the document after the last of
 * `later` and the stored inverses (each inverse undoes its op on the document after it).
 * Cheaper than a replay from a snapshot: later ops are the ones the commit transforms over
 * anyway. `visit` sees each document on the way down (the version before each op).
 */
export function documentBefore(
  head: unknown,
  later: readonly HistoryOp[],
  visit?: (version: number, doc: unknown) => void,
): unknown {
  let doc = head;
  for (let i = later.length - 1; i >= 0; i--) {
    const row = later[i]!;
    if (row.inverse !== null) doc = applyOp(doc, row.inverse);
    visit?.(row.version - 1, doc);
  }
  return doc;
}

export type Validation = { ok: true; after: unknown } | { ok: false; message: string };

/** Rule OP5: a well-formed ot-json1 op that applies and keeps the document shape. */
export function validateSubmittedOp(op: unknown, docAtBase: unknown): Validation {
  if (op === null) return { ok: false, message: 'op must not be null' };
  const structural = checkOp(op);
  if (structural) return { ok: false, message: `not a valid ot-json1 op: ${structural}` };
  let after: unknown;
  try {
    after = applyOp(docAtBase, op as JSONOp);
  } catch (error) {
    return { ok: false, message: `op does not apply to the document: ${(error as Error).message}` };
  }
  const shape = validateDocument(after, docAtBase as DashboardDocument);
  if (shape) return { ok: false, message: `op breaks the document shape: ${shape}` };
  return { ok: true, after };
}

/**
 * Transforms `op` over every later op, incoming on the left (rule OP3). Returns the op as
 * it will be committed (null when absorbed, rule OP1a) and how many transforms had to
 * resolve a conflict.
 */
export function rebase(op: JSONOp | null, later: readonly HistoryOp[]): { op: JSONOp | null; conflicts: number } {
  let current = op;
  let conflicts = 0;
  for (const committed of later) {
    if (current === null) break;
    if (committed.op === null) continue;
    const result = transformWithConflictInfo(current, committed.op, 'left');
    current = result.op;
    if (result.conflicted) conflicts++;
  }
  return { op: current, conflicts };
}

/** Applies a committed op to the head and computes its inverse against the head before it. */
export function applyCommitted(head: unknown, op: JSONOp | null): { after: unknown; inverse: JSONOp | null } {
  if (op === null) return { after: head, inverse: null };
  return { after: applyOp(head, op), inverse: invertOp(op, head) };
}

/**
 * The widget whose text `op` edits, when that is all it does (a keystroke, or a run of them
 * composed), else null. Rule UN2 groups such ops into one undo step.
 */
export function textEditTarget(op: unknown): string | null {
  if (!Array.isArray(op) || op.length !== 4 || op[0] !== 'widgets' || op[2] !== 'text') return null;
  const edit = op[3] as unknown;
  if (typeof op[1] !== 'string' || typeof edit !== 'object' || edit === null) return null;
  const keys = Object.keys(edit);
  return keys.length === 1 && keys[0] === 'es' ? op[1] : null;
}
