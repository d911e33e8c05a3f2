/**
 * Thin wrappers over ot-json1 that close its traps: the default transform throws on
 * conflicts, invert() of a non-invertible op silently returns a wrong op, `[]` is not a
 * no-op, and checkValidOp() checks neither embedded text ops nor number edits.
 *
 * Embedded text edits are ot-text-unicode ops in an `es` component
 * (`['widgets', id, 'text', { es: [2, 'hi'] }]`); ot-json1 registers that subtype itself.
 * Its apply silently truncates a delete that runs past the end of the text and never
 * compares a `{ d: 'old text' }` with the text, so applyOp checks both itself.
 */
import { type as json1, type Doc, type JSONOp, type JSONOpComponent, type Path } from 'ot-json1';
import { type as text, type TextOp } from 'ot-text-unicode';
import { codePointLength, toUtf16Index } from './text.js';

export type { JSONOp, JSONOpComponent, JSONOpList, Key, Path } from 'ot-json1';
export type { TextOp } from 'ot-text-unicode';
/** A JSON value as ot-json1 sees it. */
export type JSONValue = Doc;
/** Tie-break side of a transform: the left op goes first (rule OP3). */
export type Side = 'left' | 'right';

/**
 * Applies `op` to `doc` and returns the new document; `doc` is never mutated (unchanged
 * parts are shared). Throws when the op does not apply, including a text edit that does
 * not fit its text. The caller vouches that the result keeps the shape `T`: for
 * dashboards, check it with validateDocument.
 */
export function applyOp<T>(doc: T, op: JSONOp): T {
  if (op === null) return doc;
  registerStrictText();
  return json1.apply(doc as Doc, withStrictText(op) as JSONOp) as T;
}

/**
 * @internal ot-text-unicode's apply, but throwing when `op` skips or deletes past the end
 * of `doc` or a `{ d: string }` does not match the text it deletes.
 */
export function applyTextOp(doc: string, op: TextOp): string {
  if (typeof doc !== 'string') throw new TypeError('a text edit must target a string');
  const length = codePointLength(doc);
  let position = 0;
  for (const component of op) {
    if (typeof component === 'number') position += component;
    else if (typeof component === 'object') {
      if (typeof component.d === 'number') position += component.d;
      else {
        if (!doc.startsWith(component.d, toUtf16Index(doc, position))) {
          throw new Error('a text delete does not match the text it deletes');
        }
        position += codePointLength(component.d);
      }
    }
    if (position > length) throw new Error('a text edit runs past the end of the text');
  }
  return text.apply(doc, op);
}

const STRICT_TEXT = 'text-unicode-strict';
let strictTextRegistered = false;

// Registered on first use (not at import) under its own name, so ot-json1's own
// 'text-unicode' entry, which transform and compose use, stays untouched.
function registerStrictText(): void {
  if (strictTextRegistered) return;
  json1.registerSubtype({ ...text, name: STRICT_TEXT, uri: undefined, apply: applyTextOp });
  strictTextRegistered = true;
}

// Routes every `es` edit through the strict subtype; the op is copied, never mutated.
function withStrictText(list: unknown): unknown {
  if (Array.isArray(list)) return list.map(withStrictText);
  if (typeof list !== 'object' || list === null || !('es' in list)) return list;
  const { es, ...rest } = list as JSONOpComponent;
  return { ...rest, et: STRICT_TEXT, e: es };
}

/** Composes ops left to right into one op with the same effect (null when they cancel). */
export function composeOps(...ops: JSONOp[]): JSONOp {
  return ops.reduce<JSONOp>((acc, op) => json1.compose(acc, op), null);
}

/**
 * Transforms `op` so it applies after `other`, resolving conflicts instead of throwing
 * (rule OP3): the left op wins a write/write conflict, and an edit inside something the
 * other op removed becomes null (rule OP1a).
 */
export function transformOp(op: JSONOp, other: JSONOp, side: Side): JSONOp {
  return transformWithConflictInfo(op, other, side).op;
}

/** The path an op is confined to: its leading keys, before any branch or component. */
function confinedPath(op: JSONOp): Path {
  const path: Path = [];
  if (!Array.isArray(op)) return path;
  for (const part of op) {
    if (typeof part !== 'string' && typeof part !== 'number') break;
    path.push(part);
  }
  return path;
}

/**
 * Whether two ops are confined to sibling subtrees under one object (they part at two
 * different object keys, e.g. two widgets): such ops commute, so transforming one by the
 * other leaves it as it is. The common case of a busy dashboard, checked in O(depth)
 * instead of a full transform. Ops that part at list indices shift each other: no.
 */
function disjoint(a: JSONOp, b: JSONOp): boolean {
  const pa = confinedPath(a);
  const pb = confinedPath(b);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return typeof pa[i] === 'string' && typeof pb[i] === 'string';
  }
  return false;
}

/** A flat replace of one object-keyed value: `[...keys, { r, i }]`, nothing else. */
function flatReplace(op: JSONOp): { path: Path; insert: unknown; removeIsTrue: boolean } | null {
  if (!Array.isArray(op)) return null;
  const last = op[op.length - 1];
  if (typeof last !== 'object' || last === null || Array.isArray(last)) return null;
  if (Object.keys(last).length !== 2 || !('r' in last) || !('i' in last)) return null;
  const path = confinedPath(op);
  if (path.length === 0 || path.length !== op.length - 1 || path.some((key) => typeof key !== 'string')) return null;
  return { path, insert: (last as { i: unknown }).i, removeIsTrue: (last as { r: unknown }).r === true };
}

/** Deep equality of JSON values (ops, documents), as ot-json1 compares them. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => k in b && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Two replaces of the same object-keyed value with different values, the stream of ops a
 * user makes dragging or resizing a widget (their own ops in flight rebase over each other):
 * the left one wins and replaces whatever is there, the right one is absorbed, and
 * ot-json1 reports a conflict either way. Decided in O(depth) instead of a full transform
 * (checked against ot-json1 in ot.test.ts). Equal values and list positions take the full
 * transform. Null when the fast path does not apply.
 */
function sameValueReplaced(op: JSONOp, other: JSONOp, side: Side): { op: JSONOp; conflicted: boolean } | null {
  const a = flatReplace(op);
  if (!a) return null;
  const b = flatReplace(other);
  if (!b || a.path.length !== b.path.length || a.path.some((key, i) => key !== b.path[i])) return null;
  if (jsonEqual(a.insert, b.insert)) return null;
  if (side === 'right') return { op: null, conflicted: true };
  return { op: a.removeIsTrue ? op : ([...a.path, { r: true, i: a.insert }] as JSONOp), conflicted: true };
}

/**
 * transformOp that also says whether the plain transform would have reported a conflict
 * (the server counts them in `dash_transform_conflicts_total`).
 */
export function transformWithConflictInfo(op: JSONOp, other: JSONOp, side: Side): { op: JSONOp; conflicted: boolean } {
  if (op === null || other === null || disjoint(op, other)) return { op, conflicted: false };
  const replaced = sameValueReplaced(op, other, side);
  if (replaced) return replaced;
  // One pass that resolves conflicts like transformNoConflict and notes whether it met one
  // (rather than tryTransform, then transformNoConflict again on a conflict).
  conflictSeen = false;
  const result = noticingConflicts.transform(op, other, side) as JSONOp;
  return { op: result, conflicted: conflictSeen };
}

let conflictSeen = false;
const noticingConflicts = json1.typeAllowingConflictsPred(() => {
  conflictSeen = true;
  return true;
});

/**
 * The op that undoes `op`, given the document it was applied to. Always fills in removed
 * content from `docBefore` first: transformed and composed ops have lost it, and inverting
 * without it yields a wrong op without any error.
 */
export function invertOp(op: JSONOp, docBefore: unknown): JSONOp {
  return op === null ? null : json1.invert(json1.makeInvertible(op, docBefore as Doc));
}

/** True for the no-op (null). */
export function isNoop(op: JSONOp): boolean {
  return json1.isNoop(op);
}

/** The canonical form of `op` (sorted descents, merged components; null when empty). */
export function normalizeOp(op: JSONOp): JSONOp {
  return json1.normalize(op);
}

/**
 * Structural validity of an untrusted op: null when valid, else a message. Beyond
 * ot-json1's checkValidOp this rejects `[]` (not a no-op: it throws later), validates
 * embedded text ops, and rejects number edits (`ena`) and custom subtypes (`e`/`et`):
 * the document has no use for them and `ena` on a string silently concatenates.
 */
export function checkOp(op: unknown): string | null {
  if (op === null) return null;
  if (!Array.isArray(op)) return 'op must be null or an array';
  if (op.length === 0) return 'op must not be empty (the no-op is null)';
  try {
    json1.checkValidOp(op as JSONOp);
  } catch (error) {
    return (error as Error).message || 'invalid op';
  }
  return checkComponents(op);
}

function checkComponents(list: unknown[]): string | null {
  for (const item of list) {
    if (Array.isArray(item)) {
      const problem = checkComponents(item);
      if (problem) return problem;
    } else if (typeof item === 'object' && item !== null) {
      const component = item as JSONOpComponent;
      if ('ena' in component || 'e' in component || 'et' in component) {
        return 'only text edits (es) are supported; replace numbers instead of editing them';
      }
      if ('es' in component) {
        const problem = checkTextOp(component.es);
        if (problem) return `invalid text edit: ${problem}`;
      }
    }
  }
  return null;
}

/** ot-text-unicode's checkOp, plus integer skips and deletes (it accepts `1.5`). */
function checkTextOp(op: unknown): string | null {
  if (!Array.isArray(op)) return 'text op must be an array';
  try {
    text.checkOp(op as TextOp);
  } catch (error) {
    return (error as Error).message;
  }
  const fractional = op.some((c) =>
    typeof c === 'number'
      ? !Number.isSafeInteger(c)
      : typeof c === 'object' && typeof c.d === 'number' && !Number.isSafeInteger(c.d),
  );
  return fractional ? 'skips and deletes must be integers' : null;
}

/**
 * @internal The embedded text op at output path `path` in `op`, if any. Edits live at
 * their post-op location, so `path` must already be transformed by `op`.
 */
export function textEditAt(op: JSONOp, path: Path): TextOp | null {
  if (op === null) return null;
  const cursor = json1.readCursor(op);
  for (const key of path) {
    if (!cursor.descendFirst()) return null;
    while (cursor.getKey() !== key) if (!cursor.nextSibling()) return null;
  }
  return cursor.getComponent()?.es ?? null;
}

/** @internal json1's path transform: where `path` ends up after `op`, null if removed. */
export function transformPath(path: Path, op: JSONOp): Path | null {
  return op === null ? path : json1.transformPosition(path, op);
}

/** @internal The ot-text-unicode type (cursor transform, invertible deletes). */
export const textType = text;
