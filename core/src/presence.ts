/**
 * Cursors and selections, and their transform through ops (rule PR2). Text positions are
 * code point offsets into a widget's `text` and refer to one document version; they move
 * with concurrent edits and become null when their widget is removed.
 */
import { isFiniteNumber, isPlainObject, type DashboardDocument } from './document.js';
import { applyOp, textEditAt, textType, transformPath, type JSONOp } from './ot.js';
import { codePointLength } from './text.js';

/** A point on the canvas, in grid units. Ops never move it. */
export interface CanvasPoint {
  x: number;
  y: number;
}
/** A caret in a widget's text. */
export interface TextCursor {
  widgetId: string;
  offset: number;
}
/** A range in a widget's text; `anchor` stays put, `head` moves with the caret. */
export interface TextSelection {
  widgetId: string;
  anchor: number;
  head: number;
}
export type Cursor = CanvasPoint | TextCursor;
/** A text range, or the ids of the selected widgets. */
export type Selection = TextSelection | string[];
export type PresencePosition = Cursor | Selection;

export const MAX_SELECTED_WIDGETS = 100;

/**
 * Where `cursor` is after `op`. A canvas point does not move; a text cursor follows
 * inserts and deletes before it (text inserted exactly at it lands after it) and is
 * null once its widget or text is removed. Given `docBefore`, a text that was replaced
 * wholesale (e.g. by restoreVersion) keeps the cursor, clamped to its new length.
 */
export function transformCursor(cursor: Cursor | null, op: JSONOp, docBefore?: DashboardDocument): Cursor | null {
  if (cursor === null || !('widgetId' in cursor)) return cursor;
  const moved = transformTextOffsets(cursor.widgetId, [cursor.offset], op, docBefore);
  return moved && { widgetId: moved.widgetId, offset: moved.offsets[0]! };
}

/**
 * Where `selection` is after `op`: a text range moves like two cursors (null once its
 * widget is removed); a widget-id list drops removed widgets and stays a list, possibly
 * empty, because "nothing selected" is still a selection.
 */
export function transformSelection(
  selection: Selection | null,
  op: JSONOp,
  docBefore?: DashboardDocument,
): Selection | null {
  if (selection === null) return null;
  if (Array.isArray(selection)) {
    let after: DashboardDocument | undefined; // only needed when a widget seems gone
    return selection.flatMap((id) => {
      const path = transformPath(['widgets', id], op);
      if (path?.length === 2 && typeof path[1] === 'string') return [path[1]];
      if (!docBefore) return [];
      after ??= applyOp(docBefore, op);
      return Object.hasOwn(after.widgets, id) ? [id] : [];
    });
  }
  const moved = transformTextOffsets(selection.widgetId, [selection.anchor, selection.head], op, docBefore);
  return moved && { widgetId: moved.widgetId, anchor: moved.offsets[0]!, head: moved.offsets[1]! };
}

/**
 * Transforms a cursor or selection through `ops` in order (e.g. from the version a
 * remote presence refers to up to the local document). `docBefore` is the document
 * before `ops[0]`; see transformCursor for what it adds.
 */
export function transformThrough<T extends PresencePosition>(
  position: T | null,
  ops: readonly JSONOp[],
  docBefore?: DashboardDocument,
): T | null {
  let current: PresencePosition | null = position;
  let doc = docBefore;
  for (const op of ops) {
    if (current === null) return null;
    current = isSelection(current) ? transformSelection(current, op, doc) : transformCursor(current, op, doc);
    if (doc) doc = applyOp(doc, op);
  }
  return current as T | null;
}

function isSelection(position: PresencePosition): position is Selection {
  return Array.isArray(position) || 'anchor' in position;
}

function transformTextOffsets(
  widgetId: string,
  offsets: number[],
  op: JSONOp,
  docBefore: DashboardDocument | undefined,
): { widgetId: string; offsets: number[] } | null {
  const path = transformPath(['widgets', widgetId, 'text'], op);
  if (path === null) {
    // Removed, or replaced wholesale: only the document after the op can tell which.
    const after = docBefore && applyOp(docBefore, op);
    const text = after && Object.hasOwn(after.widgets, widgetId) ? after.widgets[widgetId]!.text : undefined;
    if (typeof text !== 'string') return null;
    const length = codePointLength(text);
    return { widgetId, offsets: offsets.map((offset) => Math.min(offset, length)) };
  }
  if (path.length !== 3 || path[0] !== 'widgets' || typeof path[1] !== 'string' || path[2] !== 'text') return null;
  const edit = textEditAt(op, path);
  return {
    widgetId: path[1],
    offsets: edit ? offsets.map((offset) => textType.transformPosition(offset, edit)) : offsets,
  };
}

/**
 * Checks an untrusted cursor: null (no cursor), `{ x, y }` with finite numbers, or
 * `{ widgetId, offset }` with a non-empty id and a non-negative integer offset. Extra keys
 * are rejected: cursors are broadcast to every member.
 */
export function validateCursor(value: unknown): string | null {
  if (value === null) return null;
  if (!isPlainObject(value)) return 'cursor must be an object or null';
  if ('widgetId' in value) return validateTextPosition(value, ['widgetId', 'offset'], 'cursor');
  if (!hasExactly(value, ['x', 'y'])) return 'cursor must be { x, y } or { widgetId, offset }';
  if (!isFiniteNumber(value.x) || !isFiniteNumber(value.y)) return 'cursor.x and cursor.y must be finite numbers';
  return null;
}

/**
 * Checks an untrusted selection: null (none), `{ widgetId, anchor, head }` with
 * non-negative integer offsets, or a list of at most 100 widget ids.
 */
export function validateSelection(value: unknown): string | null {
  if (value === null) return null;
  if (Array.isArray(value)) {
    if (value.length > MAX_SELECTED_WIDGETS) return `selection must list at most ${MAX_SELECTED_WIDGETS} widgets`;
    return value.every((id) => typeof id === 'string') ? null : 'selection must list widget ids (strings)';
  }
  if (!isPlainObject(value)) return 'selection must be an object, a list of widget ids or null';
  return validateTextPosition(value, ['widgetId', 'anchor', 'head'], 'selection');
}

function validateTextPosition(value: Record<string, unknown>, keys: string[], name: string): string | null {
  if (!hasExactly(value, keys)) return `${name} must be { ${keys.join(', ')} }`;
  if (typeof value.widgetId !== 'string' || value.widgetId === '') return `${name}.widgetId must be a non-empty string`;
  const bad = keys.slice(1).find((key) => !(Number.isSafeInteger(value[key]) && (value[key] as number) >= 0));
  return bad ? `${name}.${bad} must be a non-negative integer` : null;
}

function hasExactly(value: Record<string, unknown>, keys: string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((key) => Object.hasOwn(value, key));
}
