/**
 * The op that turns one document into another (restoreVersion). It touches only what
 * differs, widget by widget, so concurrent edits to untouched widgets survive it.
 */
import { insertOp, removeOp, replaceOp, type Doc as JsonValue } from 'ot-json1';
import { composeOps, type JSONOp } from '../../../core/src/index.js';

type Doc = { title: string; widgets: Record<string, unknown>; layout: unknown[] };

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** An op from `from` to `to`, or null when they are equal. */
export function diffDocuments(fromDoc: unknown, toDoc: unknown): JSONOp | null {
  const from = fromDoc as Doc;
  const to = toDoc as Doc;
  const parts: JSONOp[] = [];
  if (from.title !== to.title) parts.push(replaceOp(['title'], from.title, to.title));
  for (const id of Object.keys(from.widgets)) {
    if (!(id in to.widgets)) parts.push(removeOp(['widgets', id], from.widgets[id] as unknown as boolean));
  }
  for (const [id, widget] of Object.entries(to.widgets)) {
    if (!(id in from.widgets)) parts.push(insertOp(['widgets', id], widget as JsonValue));
    else if (!same(from.widgets[id], widget)) {
      parts.push(replaceOp(['widgets', id], from.widgets[id] as JsonValue, widget as JsonValue));
    }
  }
  if (!same(from.layout, to.layout)) {
    parts.push(replaceOp(['layout'], from.layout as JsonValue, to.layout as JsonValue));
  }
  return parts.reduce<JSONOp | null>((acc, part) => (acc === null ? part : composeOps(acc, part)), null);
}
