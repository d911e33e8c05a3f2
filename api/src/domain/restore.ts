/**
 * The op that turns one document into another (restoreVersion). It touches only what
 * differs, field by field of each widget, and turns a note's text back with a text edit of
 * the changed region, so concurrent edits to anything it does not change survive it (someone
 * typing elsewhere in the note, or in a widget the restore only moves).
 */
import { insertOp, removeOp, replaceOp, type Doc as JsonValue } from 'ot-json1';
import { composeOps, jsonEqual, textDiff, type JSONOp } from '@collab-dashboards/core';

type Doc = { title: string; widgets: Record<string, Record<string, unknown>>; layout: unknown[] };

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
    const before = from.widgets[id];
    if (!before) parts.push(insertOp(['widgets', id], widget as JsonValue));
    else if (!jsonEqual(before, widget)) parts.push(...diffWidget(id, before, widget));
  }
  if (!jsonEqual(from.layout, to.layout)) {
    parts.push(replaceOp(['layout'], from.layout as JsonValue, to.layout as JsonValue));
  }
  return parts.reduce<JSONOp | null>((acc, part) => (acc === null ? part : composeOps(acc, part)), null);
}

/** The fields of one widget that differ, each changed alone; text by its changed region. */
function diffWidget(id: string, from: Record<string, unknown>, to: Record<string, unknown>): JSONOp[] {
  const parts: JSONOp[] = [];
  for (const key of Object.keys(from)) {
    if (!(key in to)) parts.push(removeOp(['widgets', id, key], from[key] as unknown as boolean));
  }
  for (const [key, value] of Object.entries(to)) {
    if (!(key in from)) {
      parts.push(insertOp(['widgets', id, key], value as JsonValue));
    } else if (key === 'text' && typeof value === 'string' && typeof from[key] === 'string') {
      const edit = textDiff(from[key], value);
      if (edit) parts.push(['widgets', id, 'text', { es: edit }] as JSONOp);
    } else if (!jsonEqual(from[key], value)) {
      parts.push(replaceOp(['widgets', id, key], from[key] as JsonValue, value as JsonValue));
    }
  }
  return parts;
}
