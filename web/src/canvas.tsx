import { useEffect, useMemo, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react';
import {
  moveWidget,
  normalizeLayout,
  pushDown,
  removeWidget,
  resizeWidget,
  type DashboardDocument,
  type JSONOp,
  type LayoutChanges,
  type Widget,
} from '@collab-dashboards/core';
import type { CollabSession, Presence } from '../shared/collab-session.js';
import { WidgetBody } from './widget-body.js';
import type { LiveContext } from '../shared/live-binding.js';
import { widgetTitle } from '../shared/widget-view.js';

export const COLS = 12;
export const ROW_HEIGHT = 56;

interface Drag {
  id: string;
  mode: 'move' | 'resize';
  startX: number;
  startY: number;
  from: { x: number; y: number; w: number; h: number };
  to: { x: number; y: number; w: number; h: number };
}

const KEY_SHORTCUTS = [
  ...['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight'].flatMap((key) => [key, `Shift+${key}`]),
  'Delete',
].join(' ');

/**
 * Where the widgets the dragged one lands on would be pushed if it were dropped now
 * (widget id -> y): the same pushDown the move or resize op will carry (rule LY1).
 */
function previewPushes(doc: DashboardDocument, drag: Drag | null): LayoutChanges | null {
  if (!drag || !Object.hasOwn(doc.widgets, drag.id)) return null;
  const { from, to } = drag;
  if (to.x === from.x && to.y === from.y && to.w === from.w && to.h === from.h) return null;
  const widgets = { ...doc.widgets, [drag.id]: { ...doc.widgets[drag.id]!, ...to } };
  return pushDown({ ...doc, widgets }, drag.id);
}

function useWidth(ref: React.RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(960);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => setWidth(entry!.contentRect.width));
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

export function Canvas(props: {
  collab: CollabSession | null;
  doc: DashboardDocument;
  readOnly: boolean;
  selected: string | null;
  onSelect(id: string | null): void;
  onSubmit(op: JSONOp): void;
  /** Where bound widgets read their live data; without it they only name their source. */
  live?: LiveContext | null;
  testId?: string;
}) {
  const { collab, doc, readOnly } = props;
  const ref = useRef<HTMLDivElement>(null);
  const width = useWidth(ref);
  const col = Math.max(40, width / COLS);
  const [drag, setDrag] = useState<Drag | null>(null);
  const pushed = useMemo(() => previewPushes(doc, drag), [doc, drag]);
  const ids = normalizeLayout(doc);
  const presence = collab ? [...collab.presence.values()] : [];
  // Where each widget is drawn: the dragged one under the pointer, the ones it would push
  // where the drop will put them, the rest where the document has them.
  const boxOf = (widget: Widget) => {
    if (drag?.id === widget.id) return drag.to;
    const y = pushed?.get(widget.id);
    return y === undefined ? widget : { ...widget, y };
  };
  const bottom =
    Math.max(
      8,
      ...ids.map((id) => {
        const box = boxOf(doc.widgets[id]!);
        return box.y + box.h;
      }),
    ) + 3;

  const toGrid = (event: { clientX: number; clientY: number }) => {
    const rect = ref.current!.getBoundingClientRect();
    return { x: (event.clientX - rect.left) / col, y: (event.clientY - rect.top) / ROW_HEIGHT };
  };

  const onPointerMove = (event: ReactPointerEvent) => {
    if (collab && ref.current) {
      const { x, y } = toGrid(event);
      collab.setCursor({ x: Math.max(0, round2(x)), y: Math.max(0, round2(y)) });
    }
    if (!drag) return;
    const dx = Math.round((event.clientX - drag.startX) / col);
    const dy = Math.round((event.clientY - drag.startY) / ROW_HEIGHT);
    const { from } = drag;
    const to =
      drag.mode === 'move'
        ? { ...from, x: clamp(from.x + dx, 0, COLS - from.w), y: Math.max(0, from.y + dy) }
        : { ...from, w: clamp(from.w + dx, 1, COLS - from.x), h: Math.max(1, from.h + dy) };
    if (to.x !== drag.to.x || to.y !== drag.to.y || to.w !== drag.to.w || to.h !== drag.to.h) setDrag({ ...drag, to });
  };

  const endDrag = () => {
    if (!drag) return;
    setDrag(null);
    if (!Object.hasOwn(doc.widgets, drag.id)) return; // removed meanwhile by someone else
    const { to, from } = drag;
    if (drag.mode === 'move' && (to.x !== from.x || to.y !== from.y)) {
      props.onSubmit(moveWidget(doc, drag.id, to.x, to.y));
    } else if (drag.mode === 'resize' && (to.w !== from.w || to.h !== from.h)) {
      props.onSubmit(resizeWidget(doc, drag.id, to.w, to.h));
    }
  };

  const startDrag = (widget: Widget, mode: Drag['mode']) => (event: ReactPointerEvent) => {
    if (readOnly || event.button !== 0) return;
    if ((event.target as HTMLElement).closest('button')) return;
    event.preventDefault();
    ref.current?.setPointerCapture(event.pointerId);
    const from = { x: widget.x, y: widget.y, w: widget.w, h: widget.h };
    setDrag({ id: widget.id, mode, startX: event.clientX, startY: event.clientY, from, to: from });
    props.onSelect(widget.id);
  };

  // Keys act on the focused widget frame itself, never on a field or note inside it.
  const onKeyDown = (widget: Widget) => (event: React.KeyboardEvent) => {
    if (readOnly || event.target !== event.currentTarget) return;
    if (event.key === 'Delete') {
      event.preventDefault();
      removeFocused(widget.id);
      return;
    }
    const step: Record<string, [number, number]> = {
      ArrowLeft: [-1, 0],
      ArrowRight: [1, 0],
      ArrowUp: [0, -1],
      ArrowDown: [0, 1],
    };
    const delta = step[event.key];
    if (!delta) return;
    event.preventDefault();
    if (event.shiftKey) {
      const w = clamp(widget.w + delta[0], 1, COLS - widget.x);
      const h = Math.max(1, widget.h + delta[1]);
      props.onSubmit(resizeWidget(doc, widget.id, w, h));
    } else {
      const x = clamp(widget.x + delta[0], 0, COLS - widget.w);
      const y = Math.max(0, widget.y + delta[1]);
      props.onSubmit(moveWidget(doc, widget.id, x, y));
    }
  };

  // The same op as the settings panel's remove button; focus moves on to a neighbour so
  // keyboard users are not dropped at the top of the page.
  const removeFocused = (id: string) => {
    const at = ids.indexOf(id);
    const next = ids[at + 1] ?? ids[at - 1];
    props.onSubmit(removeWidget(doc, id));
    if (props.selected === id) props.onSelect(null);
    if (next === undefined) return;
    requestAnimationFrame(() =>
      ref.current?.querySelector<HTMLElement>(`[data-widget-id="${CSS.escape(next)}"]`)?.focus(),
    );
  };

  return (
    <div className="canvas-scroll">
      <div
        ref={ref}
        className={`canvas ${readOnly ? 'read-only' : ''}`}
        style={{ height: bottom * ROW_HEIGHT, backgroundSize: `${col}px ${ROW_HEIGHT}px` }}
        data-testid={props.testId ?? 'canvas'}
        onPointerMove={onPointerMove}
        onPointerUp={endDrag}
        onPointerCancel={() => setDrag(null)}
        onPointerLeave={() => collab?.setCursor(null)}
        onPointerDown={(event) => {
          if (event.target === event.currentTarget) props.onSelect(null);
        }}
      >
        {ids.length === 0 && (
          <p className="canvas-empty muted">
            {readOnly ? 'This dashboard is empty.' : 'Add a note, metric, chart or table from the toolbar.'}
          </p>
        )}
        {ids.map((id) => {
          const widget = doc.widgets[id]!;
          const box = boxOf(widget);
          const selectors = presence.filter((p) => Array.isArray(p.selection) && p.selection.includes(id));
          const typing = presence.filter((p) => {
            const cursor = collab?.place(p.cursor as { widgetId: string; offset: number } | null, p.version);
            return cursor !== null && cursor !== undefined && (cursor as { widgetId?: string }).widgetId === id;
          });
          const outline = selectors[0]?.user.color;
          return (
            <div
              key={id}
              className={`widget widget-${widget.type} ${props.selected === id ? 'selected' : ''} ${drag?.id === id ? 'dragging' : ''} ${pushed?.has(id) ? 'pushed' : ''}`}
              style={{
                left: box.x * col,
                top: box.y * ROW_HEIGHT,
                width: box.w * col,
                height: box.h * ROW_HEIGHT,
                ...(outline ? { outlineColor: outline } : {}),
              }}
              data-testid="widget"
              data-widget-id={id}
              data-type={widget.type}
              data-x={box.x}
              data-y={box.y}
              data-selected-by={selectors.map((p) => p.user.name).join(',')}
              tabIndex={0}
              aria-label={`${widget.type} ${widget.title}`}
              aria-keyshortcuts={readOnly ? undefined : KEY_SHORTCUTS}
              onKeyDown={onKeyDown(widget)}
              onPointerDown={() => props.selected !== id && props.onSelect(id)}
            >
              <div className={`widget-card ${outline ? 'remote-selected' : ''}`}>
                <div className="widget-head" onPointerDown={startDrag(widget, 'move')} data-testid="widget-handle">
                  <span className="widget-title">{widgetTitle(widget)}</span>
                  {selectors.map((p) => (
                    <span key={p.clientId} className="chip" style={{ background: p.user.color }}>
                      {p.user.name}
                    </span>
                  ))}
                  {typing.map((p) => (
                    <span
                      key={`t-${p.clientId}`}
                      className="chip typing"
                      style={{ borderColor: p.user.color, color: p.user.color }}
                      data-testid="text-cursor-chip"
                    >
                      ✎ {p.user.name}
                    </span>
                  ))}
                </div>
                <div className="widget-body">
                  <WidgetBody
                    widget={widget}
                    collab={collab}
                    readOnly={readOnly}
                    doc={doc}
                    live={props.live}
                    onSubmit={props.onSubmit}
                  />
                </div>
                {!readOnly && (
                  <div
                    className="resize-handle"
                    onPointerDown={startDrag(widget, 'resize')}
                    data-testid="resize-handle"
                    aria-hidden="true"
                  />
                )}
              </div>
            </div>
          );
        })}
        {presence.map((p) => (
          <RemoteCursor key={p.clientId} presence={p} col={col} />
        ))}
      </div>
    </div>
  );
}

function RemoteCursor({ presence, col }: { presence: Presence; col: number }) {
  const cursor = presence.cursor as { x?: unknown; y?: unknown } | null;
  if (!cursor || typeof cursor.x !== 'number' || typeof cursor.y !== 'number') return null;
  return (
    <div
      className={`remote-cursor ${presence.status === 'IDLE' ? 'idle' : ''}`}
      style={{ transform: `translate(${cursor.x * col}px, ${cursor.y * ROW_HEIGHT}px)` }}
      data-testid="remote-cursor"
      data-name={presence.user.name}
    >
      <svg width="16" height="20" viewBox="0 0 16 20" aria-hidden="true">
        <path d="M1 1 L1 16 L5 12 L8 19 L11 18 L8 11 L14 11 Z" fill={presence.user.color} stroke="#fff" />
      </svg>
      <span className="cursor-label" style={{ background: presence.user.color }}>
        {presence.user.name}
      </span>
    </div>
  );
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(Math.max(min, max), value));
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
