/**
 * Where other people's text carets and selections are in one note, and the note's text cut
 * into the pieces the mirror overlay renders (see note-editor.tsx). Positions arrive in code
 * points at the presence's version; they are placed on the local document first (the
 * engine's transformPresence), then turned into UTF-16 indices of the local text.
 */
import { codePointLength, toUtf16Index, type TextCursor, type TextSelection } from '@collab-dashboards/core';

/** The parts of a presence entry this module reads (untrusted JSON in cursor/selection). */
export interface RemotePresence {
  clientId: string;
  cursor: unknown;
  selection: unknown;
  version: number;
  status?: string;
  user: { name: string; color: string };
}

/** One person's marks in the note, as UTF-16 indices into the local text. */
export interface RemoteTextMark {
  clientId: string;
  name: string;
  color: string;
  idle: boolean;
  /** The caret (the cursor, or the selection's head). */
  caret: number | null;
  /** A non-empty selected range, start < end. */
  range: { start: number; end: number } | null;
}

export type Place = <T extends TextCursor | TextSelection>(position: T | null, version: number) => T | null;

const isIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

export function isTextCursor(value: unknown): value is TextCursor {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.widgetId === 'string' && isIndex(v.offset);
}

export function isTextSelection(value: unknown): value is TextSelection {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.widgetId === 'string' && isIndex(v.anchor) && isIndex(v.head);
}

/**
 * The carets and selections of `presence` that fall in widget `widgetId`, whose local text
 * is `text`. `place` maps a position from its version onto the local document (null when it
 * cannot be placed: the entry is then skipped rather than drawn in the wrong place).
 */
export function remoteTextMarks(
  widgetId: string,
  text: string,
  presence: Iterable<RemotePresence>,
  place: Place,
): RemoteTextMark[] {
  const length = codePointLength(text);
  const index = (offset: number) => toUtf16Index(text, Math.min(offset, length));
  const marks: RemoteTextMark[] = [];
  for (const p of presence) {
    const cursor =
      isTextCursor(p.cursor) && p.cursor.widgetId === widgetId
        ? place({ widgetId: p.cursor.widgetId, offset: p.cursor.offset }, p.version)
        : null;
    const selection =
      isTextSelection(p.selection) && p.selection.widgetId === widgetId
        ? place({ widgetId: p.selection.widgetId, anchor: p.selection.anchor, head: p.selection.head }, p.version)
        : null;
    const caretAt =
      cursor?.widgetId === widgetId ? cursor.offset : selection?.widgetId === widgetId ? selection.head : null;
    let range: RemoteTextMark['range'] = null;
    if (selection?.widgetId === widgetId && selection.anchor !== selection.head) {
      const start = index(Math.min(selection.anchor, selection.head));
      const end = index(Math.max(selection.anchor, selection.head));
      if (start < end) range = { start, end };
    }
    if (caretAt === null && range === null) continue;
    marks.push({
      clientId: p.clientId,
      name: p.user.name,
      color: p.user.color,
      idle: p.status === 'IDLE',
      caret: caretAt === null ? null : index(caretAt),
      range,
    });
  }
  return marks;
}

export type MirrorPiece =
  | { kind: 'text'; start: number; text: string; selectedBy: RemoteTextMark[] }
  | { kind: 'caret'; at: number; mark: RemoteTextMark };

/**
 * `text` cut at every caret and selection boundary: text pieces (with whose selections
 * cover them) and zero-width caret pieces in between, in document order. Concatenating the
 * text pieces gives `text` back.
 */
export function mirrorPieces(text: string, marks: readonly RemoteTextMark[]): MirrorPiece[] {
  const cuts = new Set<number>([0, text.length]);
  for (const m of marks) {
    if (m.caret !== null) cuts.add(m.caret);
    if (m.range) {
      cuts.add(m.range.start);
      cuts.add(m.range.end);
    }
  }
  const points = [...cuts].filter((i) => i >= 0 && i <= text.length).sort((a, b) => a - b);
  const pieces: MirrorPiece[] = [];
  points.forEach((at, i) => {
    for (const mark of marks) if (mark.caret === at) pieces.push({ kind: 'caret', at, mark });
    const next = points[i + 1];
    if (next === undefined || next === at) return;
    const selectedBy = marks.filter((m) => m.range !== null && m.range.start <= at && next <= m.range.end);
    pieces.push({ kind: 'text', start: at, text: text.slice(at, next), selectedBy });
  });
  return pieces;
}
