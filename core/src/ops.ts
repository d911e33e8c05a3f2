/**
 * Typed op builders: no caller hand-writes an op tree. Each takes the current document
 * (to resolve layout indices and check its arguments, throwing on misuse) and returns an
 * ot-json1 op, or null when nothing would change.
 *
 * The builders that place a widget (addWidget, moveWidget, resizeWidget) keep the grid
 * free of hidden widgets: their one op also pushes down every widget the placed one now
 * overlaps, cascading (layout.ts pushDown), so one undo takes back the move and the pushes.
 *
 * Removals and replacements do not embed the old value (`{ r: true }`, `{ d: 5 }`): it
 * would make ops as large as what they delete (a note of 100k code points could not be
 * deleted under the 256 KB op limit) and invertOp() restores it from the document anyway.
 */
import { insertOp, moveOp, removeOp, replaceOp, editOp } from 'ot-json1';
import { MAX_TITLE_LENGTH, isPlainObject, validateWidget, type DashboardDocument, type Widget } from './document.js';
import { layoutChangesOp, pushDown } from './layout.js';
import {
  applyOp,
  applyTextOp,
  checkOp,
  composeOps,
  type JSONOp,
  type JSONValue,
  type Path,
  type TextOp,
} from './ot.js';
import { codePointLength, isHighSurrogate, isLowSurrogate, toUtf16Index } from './text.js';

/**
 * Adds `widget` to the document and to the layout at `index` (default: the end), pushing
 * down the widgets it overlaps. An id already in the layout (a dangling id, rule OP5) is
 * not inserted twice.
 */
export function addWidget(doc: DashboardDocument, widget: Widget, index = doc.layout.length): JSONOp {
  const problem = validateWidget(widget);
  if (problem) throw new TypeError(problem);
  if (Object.hasOwn(doc.widgets, widget.id)) throw new Error(`widget ${widget.id} already exists`);
  const add = insertOp(['widgets', widget.id], widget as unknown as JSONValue);
  const listed = doc.layout.includes(widget.id);
  const place = listed ? null : insertOp(['layout', clamp(index, 0, doc.layout.length)], widget.id);
  return withPushes(doc, widget.id, composeOps(add, place));
}

/** Removes a widget from the document and from the layout. */
export function removeWidget(doc: DashboardDocument, id: string): JSONOp {
  widgetOf(doc, id);
  const index = doc.layout.indexOf(id);
  return composeOps(removeOp(['widgets', id]), index >= 0 ? removeOp(['layout', index]) : null);
}

/**
 * Moves a widget on the grid (x, y >= 0), pushing down the widgets it lands on. Null when
 * the widget is already there (existing overlaps are then left to resolveOverlaps).
 */
export function moveWidget(doc: DashboardDocument, id: string, x: number, y: number): JSONOp {
  if (!(x >= 0 && y >= 0 && Number.isFinite(x) && Number.isFinite(y))) {
    throw new RangeError('x and y must be finite and not negative');
  }
  return withPushes(doc, id, setFields(doc, id, { x, y }));
}

/**
 * Resizes a widget (w, h > 0), its top-left corner fixed, pushing down the widgets it now
 * covers. Null when the size is unchanged.
 */
export function resizeWidget(doc: DashboardDocument, id: string, w: number, h: number): JSONOp {
  if (!(w > 0 && h > 0 && Number.isFinite(w) && Number.isFinite(h))) {
    throw new RangeError('w and h must be finite and greater than 0');
  }
  return withPushes(doc, id, setFields(doc, id, { w, h }));
}

/** `op` (which places widget `id`) composed with the pushes clearing the widget's overlaps. */
function withPushes(doc: DashboardDocument, id: string, op: JSONOp): JSONOp {
  if (op === null) return null;
  const after = applyOp(doc, op);
  return composeOps(op, layoutChangesOp(after, pushDown(after, id)));
}

/** Sets a widget's title (at most 200 code points). */
export function renameWidget(doc: DashboardDocument, id: string, title: string): JSONOp {
  checkTitle(title);
  return setFields(doc, id, { title });
}

/** Sets the dashboard title (at most 200 code points; `Dashboard.title` follows it). */
export function setTitle(doc: DashboardDocument, title: string): JSONOp {
  checkTitle(title);
  return title === doc.title ? null : replaceOp(['title'], true, title);
}

/**
 * Sets the value at `path` inside a widget's config: replaces an existing value, inserts a
 * missing object key, appends at an array index equal to the length; `undefined` removes
 * the value. The parent of `path` must exist. An empty path replaces the whole config.
 */
export function setWidgetConfig(doc: DashboardDocument, id: string, path: (string | number)[], value: unknown): JSONOp {
  const config = widgetOf(doc, id).config;
  const full: Path = ['widgets', id, 'config', ...path];
  if (path.length === 0) {
    if (!isPlainObject(value)) throw new TypeError('config must be an object');
    return replaceOp(full, true, value as JSONValue);
  }
  let parent: unknown = config;
  for (const key of path.slice(0, -1)) {
    parent = childOf(parent, key);
    if (parent === undefined) throw new Error(`config path ${path.join('.')} has no parent`);
  }
  const key = path[path.length - 1]!;
  if (typeof key === 'number' ? !Array.isArray(parent) : !isPlainObject(parent)) {
    throw new TypeError(`config path ${path.join('.')} does not match the config's shape`);
  }
  const existing = childOf(parent, key);
  if (value === undefined) return existing === undefined ? null : removeOp(full);
  if (existing !== undefined) return existing === value ? null : replaceOp(full, true, value as JSONValue);
  if (typeof key === 'number' && key !== (parent as unknown[]).length) {
    throw new RangeError(`config path ${path.join('.')} is out of bounds`);
  }
  return insertOp(full, value as JSONValue);
}

/**
 * Applies an ot-text-unicode op (code point offsets) to a widget's text. Throws when the
 * op is malformed or does not fit the text.
 */
export function editText(doc: DashboardDocument, id: string, textOp: TextOp): JSONOp {
  const current = widgetOf(doc, id).text;
  const op = editOp(['widgets', id, 'text'], 'text-unicode', textOp);
  const problem = checkOp(op);
  if (problem) throw new TypeError(problem);
  applyTextOp(current, textOp);
  return op;
}

/** Inserts `str` at code point `offset` in a widget's text. */
export function insertText(doc: DashboardDocument, id: string, offset: number, str: string): JSONOp {
  checkRange(widgetOf(doc, id).text, offset, 0);
  return str === '' ? null : editText(doc, id, offset > 0 ? [offset, str] : [str]);
}

/** Deletes `length` code points at code point `offset` in a widget's text. */
export function deleteText(doc: DashboardDocument, id: string, offset: number, length: number): JSONOp {
  checkRange(widgetOf(doc, id).text, offset, length);
  return length === 0 ? null : editText(doc, id, offset > 0 ? [offset, { d: length }] : [{ d: length }]);
}

/**
 * The smallest ot-text-unicode op turning `oldText` into `newText`: one changed region
 * between the common prefix and suffix, in code points, never splitting a surrogate pair.
 * An ambiguous edit ("aa" -> "aaa") goes as late as possible, or, given `cursorHint` (the
 * caret's code point offset in `newText`), where the caret says the user typed: with the
 * caret at 1 it inserts at 0. Returns null when the texts are equal.
 */
export function textDiff(oldText: string, newText: string, cursorHint?: number): TextOp | null {
  if (oldText === newText) return null;
  const shorter = Math.min(oldText.length, newText.length);
  const commonPrefix = (limit: number): number => {
    let n = 0;
    while (n < limit && oldText.charCodeAt(n) === newText.charCodeAt(n)) n++;
    return n > 0 && isHighSurrogate(oldText.charCodeAt(n - 1)) ? n - 1 : n;
  };
  const commonSuffix = (limit: number): number => {
    let n = 0;
    while (n < limit && oldText.charCodeAt(oldText.length - 1 - n) === newText.charCodeAt(newText.length - 1 - n)) n++;
    return n > 0 && isLowSurrogate(oldText.charCodeAt(oldText.length - n)) ? n - 1 : n;
  };
  let prefix: number;
  let suffix: number;
  if (cursorHint === undefined) {
    prefix = commonPrefix(shorter);
    suffix = commonSuffix(shorter - prefix);
  } else {
    // The changed region ends at the caret, so the suffix may not reach before it.
    suffix = commonSuffix(Math.min(shorter, newText.length - toUtf16Index(newText, cursorHint)));
    prefix = commonPrefix(shorter - suffix);
  }

  const skip = codePointLength(oldText.slice(0, prefix));
  const removed = codePointLength(oldText.slice(prefix, oldText.length - suffix));
  const inserted = newText.slice(prefix, newText.length - suffix);
  const op: TextOp = [];
  if (skip > 0) op.push(skip);
  if (removed > 0) op.push({ d: removed });
  if (inserted !== '') op.push(inserted);
  return op;
}

/**
 * Moves a widget within the layout so it ends up at `toIndex` (clamped). A widget missing
 * from the layout (rule OP5) is inserted there instead.
 */
export function reorderWidget(doc: DashboardDocument, id: string, toIndex: number): JSONOp {
  const from = doc.layout.indexOf(id);
  if (from < 0) {
    widgetOf(doc, id);
    return insertOp(['layout', clamp(toIndex, 0, doc.layout.length)], id);
  }
  const to = clamp(toIndex, 0, doc.layout.length - 1);
  return from === to ? null : moveOp(['layout', from], ['layout', to]);
}

function setFields(
  doc: DashboardDocument,
  id: string,
  fields: Partial<Pick<Widget, 'x' | 'y' | 'w' | 'h' | 'title'>>,
): JSONOp {
  const widget = widgetOf(doc, id);
  const parts = Object.entries(fields)
    .filter(([key, value]) => widget[key as keyof Widget] !== value)
    .map(([key, value]) => replaceOp(['widgets', id, key], true, value));
  return composeOps(...parts);
}

function widgetOf(doc: DashboardDocument, id: string): Widget {
  if (!Object.hasOwn(doc.widgets, id)) throw new Error(`no widget ${id}`);
  return doc.widgets[id]!;
}

function childOf(container: unknown, key: string | number): unknown {
  if (typeof key === 'number') return Array.isArray(container) ? container[key] : undefined;
  return isPlainObject(container) && Object.hasOwn(container, key) ? container[key] : undefined;
}

function checkTitle(title: string): void {
  if (codePointLength(title) > MAX_TITLE_LENGTH) {
    throw new RangeError(`title must be at most ${MAX_TITLE_LENGTH} characters`);
  }
}

function checkRange(text: string, offset: number, length: number): void {
  const size = codePointLength(text);
  if (!(
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= size
  )) {
    throw new RangeError(`text range ${offset}+${length} is outside 0..${size}`);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.trunc(value)));
}
