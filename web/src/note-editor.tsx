import { useLayoutEffect, useRef } from 'react';
import { editText, textDiff, toCodePointOffset, type JSONOp, type Widget } from '../../core/src/index.js';
import type { CollabSession } from './collab-session.js';
import { transformSelectionRange } from './caret.js';

/**
 * A note's text, edited collaboratively. The textarea is uncontrolled: what the user types
 * goes out as a textDiff op (never a whole-string replace); a remote edit rewrites the
 * value and moves the selection through the edit so the caret stays where it was.
 */
export function NoteEditor(props: {
  widget: Widget;
  collab: CollabSession;
  readOnly: boolean;
  onSubmit(op: JSONOp): void;
}) {
  const { widget, collab } = props;
  const ref = useRef<HTMLTextAreaElement>(null);

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

  const reportCursor = () => {
    const el = ref.current;
    if (!el || document.activeElement !== el) return;
    collab.setCursor({ widgetId: widget.id, offset: toCodePointOffset(el.value, el.selectionStart) });
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

  return (
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
      onBlur={() => collab.setCursor(null)}
    />
  );
}
