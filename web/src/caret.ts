/**
 * Keeps a textarea's caret in place when the text under it changes remotely: the change
 * is recovered as one text edit (core's textDiff) and the selection is moved through it,
 * in code points, like ot-text-unicode's transformPosition.
 */
import { textDiff, toCodePointOffset, toUtf16Index, type TextOp } from '@collab-dashboards/core';

/** Where code point `offset` lands after `op`. Text inserted exactly at it goes after it. */
export function transformOffset(offset: number, op: TextOp): number {
  let pos = 0; // position in the old text
  let shift = 0;
  for (const part of op) {
    if (pos > offset) break;
    if (typeof part === 'number') pos += part;
    else if (typeof part === 'string') {
      if (pos < offset) shift += [...part].length;
    } else {
      const length = typeof part.d === 'number' ? part.d : [...part.d].length;
      const end = pos + length;
      shift -= Math.max(0, Math.min(end, offset) - pos);
      pos = end;
    }
  }
  return Math.max(0, offset + shift);
}

/** A textarea selection (UTF-16 indices) in `oldText`, moved into `newText`. */
export function transformSelectionRange(
  oldText: string,
  newText: string,
  start: number,
  end: number,
): { start: number; end: number } {
  const op = textDiff(oldText, newText);
  if (!op) return { start, end };
  const move = (index: number): number => toUtf16Index(newText, transformOffset(toCodePointOffset(oldText, index), op));
  return { start: move(start), end: move(end) };
}
