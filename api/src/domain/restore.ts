/**
 * The op that turns one document into another (restoreVersion). It touches only what
 * differs, widget by widget, so concurrent edits to untouched widgets survive it.
 */
import json1 from 'ot-json1';
import { composeOps, type JSONOp } from '../../../core/src/index.js';

type Doc = { title: string; widgets: Record<string, unknown>; layout: unknown[] };

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** An op from `from` to `to`, or null when they are equal. */
export function diffDocuments(fromDoc: unknown, toDoc: unknown): JSONOp | null {
  const from = fromDoc as Doc;
  const to = toDoc as Doc;
  const parts: JSONOp[] = [];
  if (from.title !== to.title) parts.push(json1.replaceOp(['title'], from.title, to.title));
  for (const id of Object.keys(from.widgets)) {
    if (!(id in to.widgets)) parts.push(json1.removeOp(['widgets', id], from.widgets[id] as unknown as boolean));
  }
  for (const [id, widget] of Object.entries(to.widgets)) {
    if (!(id in from.widgets)) parts.push(json1.insertOp(['widgets', id], widget as json1.Doc));
    else if (!same(from.widgets[id], widget)) {
      parts.push(json1.replaceOp(['widgets', id], from.widgets[id] as json1.Doc, widget as json1.Doc));
    }
  }
  if (!same(from.layout, to.layout)) {
    parts.push(json1.replaceOp(['layout'], from.layout as json1.Doc, to.layout as json1.Doc));
  }
  return parts.reduce<JSONOp | null>((acc, part) => (acc === null ? part : composeOps(acc, part)), null);
}
