import { useEffect, useRef, useState } from 'react';
import {
  removeWidget,
  renameWidget,
  reorderWidget,
  setWidgetConfig,
  type DashboardDocument,
  type JSONOp,
  type Widget,
} from '@collab-dashboards/core';
import { TitleInput } from './title-input.js';
import { SourcePicker } from './source-picker.js';
import { parseSource } from '../shared/live-series.js';
import { kindLabel } from '../shared/widget-view.js';
import { formatCsvRow, formatTableRows, parseTableColumns, parseTableRows } from './csv.js';

const NOT_TYPED_INTO = ['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file', 'image'];

/** Fields that handle Escape themselves (a title field reverts its draft, a note keeps it). */
function isEditable(target: EventTarget | null): boolean {
  if (target instanceof HTMLInputElement) return !NOT_TYPED_INTO.includes(target.type);
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT';
}

/**
 * Escape closes the panel wherever focus is (the widget frame, the panel's buttons, the
 * page), except in a text field or a note, which keep Escape for themselves, and while a
 * modal dialog is open, which closes first. Focus goes back to the widget's frame.
 */
function useEscapeToClose(widgetId: string, onClose: () => void): void {
  const close = useRef(onClose);
  useEffect(() => {
    close.current = onClose;
  });
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape' || event.defaultPrevented || isEditable(event.target)) return;
      if (document.querySelector('[role=dialog][aria-modal=true]')) return;
      event.preventDefault();
      const frame = document.querySelector<HTMLElement>(
        `[data-testid=canvas] [data-widget-id="${CSS.escape(widgetId)}"]`,
      );
      close.current();
      frame?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [widgetId]);
}

/** The side panel configuring the selected widget; each field commits one op. */
export function ConfigPanel(props: {
  widget: Widget;
  doc: DashboardDocument;
  dashboardId: string;
  onSubmit(op: JSONOp): void;
  onClose(): void;
}) {
  const { widget, doc, onSubmit } = props;
  // A bound widget draws its series: the values typed for it are kept, but not shown.
  const bound = parseSource(widget.config) !== null;
  const set = (key: string, value: unknown) => onSubmit(setWidgetConfig(doc, widget.id, [key], value));
  useEscapeToClose(widget.id, props.onClose);
  return (
    <aside className="side-panel" aria-label="Widget settings" data-testid="config-panel">
      <div className="side-head">
        <h2>{kindLabel(widget.type)} settings</h2>
        <button
          className="icon-btn"
          onClick={props.onClose}
          aria-label="Close settings"
          aria-keyshortcuts="Escape"
          title="Close (Esc)"
        >
          ×
        </button>
      </div>
      <label>
        Title
        <TitleInput
          value={widget.title}
          label="Widget title"
          onCommit={(title) => onSubmit(renameWidget(doc, widget.id, title))}
          testId="widget-title-input"
        />
      </label>
      {widget.type === 'metric' && <MetricFields widget={widget} set={set} bound={bound} />}
      {widget.type === 'chart' && <ChartFields widget={widget} set={set} bound={bound} />}
      {widget.type === 'table' && !bound && <TableFields widget={widget} set={set} />}
      {(widget.type === 'metric' || widget.type === 'chart' || widget.type === 'table') && (
        <SourcePicker dashboardId={props.dashboardId} widget={widget} set={set} />
      )}
      <div className="side-actions">
        <button
          className="btn"
          onClick={() => onSubmit(reorderWidget(doc, widget.id, doc.layout.length))}
          data-testid="bring-front"
        >
          Bring to front
        </button>
        <button
          className="btn danger"
          onClick={() => {
            onSubmit(removeWidget(doc, widget.id));
            props.onClose();
          }}
          data-testid="remove-widget"
        >
          Remove widget
        </button>
      </div>
    </aside>
  );
}

type Setter = (key: string, value: unknown) => void;

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function MetricFields({ widget, set, bound }: { widget: Widget; set: Setter; bound: boolean }) {
  const c = widget.config;
  const number = (key: string) => (value: string) => {
    const n = Number(value);
    if (value.trim() === '') set(key, key === 'value' ? 0 : undefined);
    else if (Number.isFinite(n)) set(key, n);
  };
  return (
    <>
      {!bound && (
        <label>
          Value
          <TitleInput value={text(c.value)} label="Metric value" onCommit={number('value')} testId="metric-value" />
        </label>
      )}
      <label>
        Unit
        <TitleInput value={text(c.unit)} label="Metric unit" onCommit={(v) => set('unit', v || undefined)} />
      </label>
      <label>
        Label
        <TitleInput value={text(c.label)} label="Metric label" onCommit={(v) => set('label', v || undefined)} />
      </label>
      {!bound && (
        <label>
          Change (delta)
          <TitleInput
            value={text(c.delta)}
            label="Metric delta"
            onCommit={number('delta')}
            testId="metric-delta-input"
          />
        </label>
      )}
      <label className="check">
        <input
          type="checkbox"
          checked={c.lowerIsBetter === true}
          onChange={(e) => set('lowerIsBetter', e.target.checked)}
          aria-describedby="lower-is-better-hint"
          data-testid="metric-lower-is-better"
        />
        Lower is better
      </label>
      <span id="lower-is-better-hint" className="muted small">
        A falling value shows as good (green), as for latency or error rates.
      </span>
    </>
  );
}

function JsonField(props: { label: string; value: unknown; onCommit(value: unknown): void; testId?: string }) {
  const initial = JSON.stringify(props.value ?? [], null, 1);
  const [draft, setDraft] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  return (
    <label>
      {props.label}
      <textarea
        className="code"
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={() => {
          try {
            const value = JSON.parse(draft) as unknown;
            setError(null);
            if (JSON.stringify(value) !== JSON.stringify(props.value)) props.onCommit(value);
          } catch {
            setError('This is not valid JSON.');
          }
        }}
        rows={6}
        data-testid={props.testId}
      />
      {error && <span className="error">{error}</span>}
    </label>
  );
}

function ChartFields({ widget, set, bound }: { widget: Widget; set: Setter; bound: boolean }) {
  const kind = text(widget.config.kind) || 'line';
  return (
    <>
      <label>
        Kind
        <select value={kind} onChange={(e) => set('kind', e.target.value)} data-testid="chart-kind">
          <option value="line">Line</option>
          <option value="bar">Bar</option>
          <option value="area">Area</option>
        </select>
      </label>
      {!bound && (
        <JsonField
          label='Series (JSON: [{"name": "…", "points": [[x, y], …]}])'
          value={widget.config.series}
          onCommit={(v) => set('series', v)}
          testId="chart-series"
        />
      )}
    </>
  );
}

function TableFields({ widget, set }: { widget: Widget; set: Setter }) {
  const columns = Array.isArray(widget.config.columns) ? (widget.config.columns as unknown[]).map(String) : [];
  const rows = Array.isArray(widget.config.rows) ? (widget.config.rows as unknown[][]) : [];
  const [draft, setDraft] = useState(formatTableRows(rows));
  // Only a real change commits (a blur alone would replace the rows with an equal copy).
  const commit = (key: 'columns' | 'rows', value: unknown[]) => {
    if (JSON.stringify(value) !== JSON.stringify(widget.config[key])) set(key, value);
  };
  return (
    <>
      <label>
        Columns (comma separated; quote a name holding a comma)
        <TitleInput
          value={formatCsvRow(columns)}
          label="Table columns"
          onCommit={(v) => commit('columns', parseTableColumns(v))}
          testId="table-columns"
        />
      </label>
      <label>
        Rows (one per line, cells separated by commas; quote a cell holding a comma: "a, b")
        <textarea
          className="code"
          rows={6}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onBlur={() => commit('rows', parseTableRows(draft))}
          data-testid="table-rows"
        />
      </label>
    </>
  );
}
