/**
 * What the history panel lists: ops grouped into entries (an undo step of one client, rule
 * UN2, is one entry) and described from their kind and structure. No React here.
 */
import type { HistoryQuery } from '../shared/gql/graphql.js';

/** One op of the history as the History query reads it. */
export type HistoryOp = NonNullable<HistoryQuery['dashboard']>['operations'][number];

/** One line of the history: an undo step of one client (rule UN2), or a single op. */
export interface HistoryEntry {
  /** The newest op of the entry: what Preview and Restore act on. */
  newest: HistoryOp;
  /** How many ops it stands for. */
  count: number;
  /** The oldest version in it. */
  oldest: number;
}

/**
 * Groups history ops, newest first, into entries: ops of one client in one undo step
 * (a typing run) make one entry, even when other people's ops fall between them.
 */
export function groupHistory(ops: readonly HistoryOp[]): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  const byStep = new Map<string, HistoryEntry>();
  for (const op of [...ops].sort((a, b) => b.version - a.version)) {
    const key = op.kind === 'EDIT' && op.undoGroup !== null ? `${op.clientId}\u0000${op.undoGroup}` : null;
    const entry = key ? byStep.get(key) : undefined;
    if (entry) {
      entry.count++;
      entry.oldest = op.version;
      continue;
    }
    const created = { newest: op, count: 1, oldest: op.version };
    entries.push(created);
    if (key) byStep.set(key, created);
  }
  return entries;
}

/** What an entry says it did: the kind of op first, then what the op touched. */
export function describeEntry(entry: HistoryEntry): string {
  const { newest, count } = entry;
  switch (newest.kind) {
    case 'RESTORE':
      return newest.refVersion === null ? 'Restored an earlier version' : `Restored version ${newest.refVersion}`;
    case 'UNDO':
      return newest.op === null ? 'Undo (nothing left to change)' : 'Undid a change';
    case 'REDO':
      return 'Redid a change';
    case 'RENAME':
      return 'Renamed the dashboard';
    case 'LAYOUT':
      return 'Moved widgets apart (they overlapped)';
  }
  const what = describeOp(newest.op);
  return count > 1 ? `${what} (${count} edits)` : what;
}

/** A short description of an ot-json1 op, for the history list, read from its structure. */
export function describeOp(op: unknown): string {
  if (op === null) return 'No change (absorbed by a concurrent edit)';
  const touched = { added: false, removed: false, text: false, config: false, moved: false, resized: false };
  let title = false;
  let layout = false;
  const component = (c: Record<string, unknown>, path: Array<string | number>): void => {
    const [root, , field] = path;
    if (root === 'title') title = true;
    else if (root === 'layout') layout = true;
    if (root !== 'widgets') return;
    if (path.length === 2) {
      if ('i' in c && !('r' in c)) touched.added = true;
      else if ('r' in c && !('i' in c)) touched.removed = true;
      else touched.config = true; // the whole widget replaced
    } else if (field === 'text') touched.text = true;
    else if (field === 'config' || field === 'title') touched.config = true;
    else if (field === 'x' || field === 'y') touched.moved = true;
    else if (field === 'w' || field === 'h') touched.resized = true;
  };
  // Walks the op tree: keys extend the path, objects are components, arrays are branches.
  const visit = (node: unknown, path: Array<string | number>): void => {
    if (!Array.isArray(node)) return;
    const here = [...path];
    for (const item of node) {
      if (Array.isArray(item)) visit(item, here);
      else if (typeof item === 'string' || typeof item === 'number') here.push(item);
      else if (item && typeof item === 'object') component(item as Record<string, unknown>, here);
    }
  };
  visit(op, []);
  if (touched.added) return 'Added a widget';
  if (touched.removed) return 'Removed a widget';
  if (touched.text) return 'Edited note text';
  if (touched.config) return 'Changed widget settings';
  if (touched.moved && touched.resized) return 'Moved and resized a widget';
  if (touched.moved) return 'Moved a widget';
  if (touched.resized) return 'Resized a widget';
  if (title) return 'Renamed';
  if (layout) return 'Reordered widgets';
  return 'Edited the dashboard';
}
