import { useLayoutEffect, useRef } from 'react';
import { editText, textDiff, toCodePointOffset, type JSONOp, type Widget } from '@collab-dashboards/core';
import type { CollabSession } from '../shared/collab-session.js';
import { transformSelectionRange } from './caret.js';
import { mirrorPieces, remoteTextMarks, type RemoteTextMark } from './remote-text.js';

/**
 * A note's text, edited collaboratively. The textarea is uncontrolled: what the user types
 * goes out as a textDiff op (never a whole-string replace); a remote edit rewrites the
 * value and moves the selection through the edit so the caret stays where it was.
 * Other people's carets and selections are drawn by a mirror laid over the textarea.
 */
export function NoteEditor(props: {
  widget: Widget;
  collab: CollabSession;
  readOnly: boolean;
  onSubmit(op: JSONOp): void;
}) {
  const { widget, collab } = props;
  const ref = useRef<HTMLTextAreaElement>(null);
  const mirrorRef = useRef<HTMLDivElement>(null);

  // React never owns the value (a defaultValue prop would be rewritten on re-renders and
  // move the caret): it is set here, once and on every remote change.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || el.value === widget.text) return;
    const focused = document.activeElement === el;
    const { start, end } = transformSelectionRange(el.value, widget.text, el.selectionStart, el.selectionEnd);
    el.value = widget.text;
    if (focused) el.setSelectionRange(start, end);
  }, [widget.text]);

  // Sent while the note has focus: the caret, and the selection as { widgetId, anchor, head }
  // (collapsed when nothing is selected, so the caret survives pointer moves on the canvas).
  const reportCursor = () => {
    const el = ref.current;
    if (!el || document.activeElement !== el) return;
    const start = toCodePointOffset(el.value, el.selectionStart);
    const end = toCodePointOffset(el.value, el.selectionEnd);
    const backward = el.selectionDirection === 'backward';
    const head = backward ? start : end;
    collab.setTextPresence(
      { widgetId: widget.id, offset: head },
      { widgetId: widget.id, anchor: backward ? end : start, head },
    );
  };

  const onInput = () => {
    const el = ref.current!;
    if (props.readOnly) return;
    const doc = collab.engine.document;
    const current = doc.widgets[widget.id]?.text;
    if (current === undefined) return;
    const op = textDiff(current, el.value, toCodePointOffset(el.value, el.selectionStart));
    if (op) props.onSubmit(editText(doc, widget.id, op));
    // Rejected locally (e.g. too long): show what the document holds.
    const after = collab.engine.document.widgets[widget.id]?.text;
    if (after !== undefined && after !== el.value) el.value = after;
    reportCursor();
  };

  const marks = remoteTextMarks(widget.id, widget.text, collab.presence.values(), (position, version) =>
    collab.place(position, version),
  );

  const hasMarks = marks.length > 0;
  // Keeps the mirror on the textarea: same box, font, wrapping and scroll offset.
  useLayoutEffect(() => {
    const el = ref.current;
    const mirror = mirrorRef.current;
    if (!el || !mirror) return;
    const sync = () => syncMirror(el, mirror);
    sync();
    const observer = new ResizeObserver(sync);
    observer.observe(el);
    return () => observer.disconnect();
  }, [hasMarks]);
  useLayoutEffect(() => {
    const el = ref.current;
    const mirror = mirrorRef.current;
    if (el && mirror) syncMirror(el, mirror);
  });

  return (
    <div className="note-editor">
      <textarea
        ref={ref}
        className="note-text"
        readOnly={props.readOnly}
        placeholder={props.readOnly ? '' : 'Write something…'}
        aria-label={`${widget.title || 'Note'} text`}
        data-testid="note-text"
        onInput={onInput}
        onSelect={reportCursor}
        onKeyUp={reportCursor}
        onFocus={reportCursor}
        onScroll={() => {
          if (ref.current && mirrorRef.current) syncMirror(ref.current, mirrorRef.current);
        }}
        onBlur={() => collab.setTextPresence(null, null)}
      />
      {marks.length > 0 && <RemoteMarks mirrorRef={mirrorRef} text={widget.text} marks={marks} />}
    </div>
  );
}

function RemoteMarks(props: {
  mirrorRef: React.RefObject<HTMLDivElement | null>;
  text: string;
  marks: RemoteTextMark[];
}) {
  return (
    <div ref={props.mirrorRef} className="note-mirror" aria-hidden="true" data-testid="note-mirror">
      {mirrorPieces(props.text, props.marks).map((piece) => {
        if (piece.kind === 'caret') {
          const { mark } = piece;
          // Keyed by position too: a caret that moves is a new element, so its name label
          // shows again and fades anew (styles.css).
          return (
            <span
              key={`c-${mark.clientId}-${piece.at}`}
              className={`remote-caret ${mark.idle ? 'idle' : ''}`}
              style={{ '--who': mark.color } as React.CSSProperties}
              data-testid={`remote-caret-${mark.clientId}`}
              data-name={mark.name}
              data-index={piece.at}
            >
              <span className="remote-caret-label">{mark.name}</span>
            </span>
          );
        }
        const by = piece.selectedBy;
        if (by.length === 0) return <span key={`t-${piece.start}`}>{piece.text}</span>;
        // Overlapping selections stack their translucent colors.
        const background = by
          .map((m) => `linear-gradient(color-mix(in srgb, ${m.color} 28%, transparent) 0 0)`)
          .join(', ');
        return (
          <span
            key={`t-${piece.start}`}
            className="remote-selection"
            style={{ backgroundImage: background }}
            data-selected-by={by.map((m) => m.clientId).join(' ')}
          >
            {piece.text}
          </span>
        );
      })}
      {/* A textarea shows a line after a trailing newline; a div needs something on it. */}
      {'\u200b'}
    </div>
  );
}

const COPIED = [
  'fontFamily',
  'fontSize',
  'fontWeight',
  'fontStyle',
  'fontStretch',
  'fontVariant',
  'fontFeatureSettings',
  'lineHeight',
  'letterSpacing',
  'wordSpacing',
  'textIndent',
  'textTransform',
  'tabSize',
  'whiteSpace',
  'wordBreak',
  'overflowWrap',
  'direction',
  'paddingTop',
  'paddingRight',
  'paddingBottom',
  'paddingLeft',
] as const;

/** Lays `mirror` over the text area of `el` (inside its border, beside any scrollbar). */
function syncMirror(el: HTMLTextAreaElement, mirror: HTMLDivElement): void {
  const style = getComputedStyle(el);
  for (const key of COPIED) mirror.style[key] = style[key];
  const pad = (side: string) => parseFloat(style.getPropertyValue(`padding-${side}`)) || 0;
  mirror.style.left = `${el.offsetLeft + el.clientLeft}px`;
  mirror.style.top = `${el.offsetTop + el.clientTop}px`;
  mirror.style.width = `${Math.max(0, el.clientWidth - pad('left') - pad('right'))}px`;
  mirror.style.height = `${Math.max(0, el.clientHeight - pad('top') - pad('bottom'))}px`;
  syncScroll(el, mirror);
  // Name labels sit above the caret, or below it on a line too close to the top.
  const top = mirror.getBoundingClientRect().top;
  for (const caret of mirror.querySelectorAll<HTMLElement>('.remote-caret')) {
    caret.toggleAttribute('data-below', caret.getBoundingClientRect().top - top < 14);
  }
}

function syncScroll(el: HTMLTextAreaElement, mirror: HTMLDivElement): void {
  mirror.scrollTop = el.scrollTop;
  mirror.scrollLeft = el.scrollLeft;
}
