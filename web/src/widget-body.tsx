import type { ChartKind, DashboardDocument, JSONOp, Widget } from '../../core/src/index.js';
import type { CollabSession } from './collab-session.js';
import { chartShapes } from './chart.js';
import { NoteEditor } from './note-editor.js';
import { metricView } from './metric-format.js';

export function WidgetBody(props: {
  widget: Widget;
  collab: CollabSession | null;
  readOnly: boolean;
  doc: DashboardDocument;
  onSubmit(op: JSONOp): void;
}) {
  const { widget } = props;
  switch (widget.type) {
    case 'note':
      return props.collab ? (
        <NoteEditor widget={widget} collab={props.collab} readOnly={props.readOnly} onSubmit={props.onSubmit} />
      ) : (
        <div className="note-static">{widget.text}</div>
      );
    case 'metric':
      return <MetricView config={widget.config} />;
    case 'chart':
      return <ChartView config={widget.config} />;
    case 'table':
      return <TableView config={widget.config} />;
    default:
      return <p className="muted">Unsupported widget type “{widget.type}”.</p>;
  }
}

function MetricView({ config }: { config: Record<string, unknown> }) {
  const view = metricView(config);
  const { delta } = view;
  // Compact figures for the eye, the exact ones for tooltips and screen readers; the
  // delta's meaning is spelled out, not left to its colour.
  return (
    <div className="metric" data-testid="metric">
      <div className="metric-value" title={view.unit ? `${view.fullValue} ${view.unit}` : view.fullValue}>
        <span aria-hidden="true" data-testid="metric-value">
          {view.value}
        </span>
        <span className="sr-only">{view.fullValue}</span>
        {view.unit && <span className="metric-unit">{view.unit}</span>}
      </div>
      {(view.label || delta) && (
        <div className="metric-foot">
          {view.label && <span className="metric-label">{view.label}</span>}
          {delta && (
            <span
              className={`metric-delta ${delta.direction} ${delta.tone}`}
              title={delta.full}
              data-testid="metric-delta"
              data-tone={delta.tone}
            >
              <span aria-hidden="true">{delta.text}</span>
              <span className="sr-only">{delta.spoken}</span>
            </span>
          )}
        </div>
      )}
    </div>
  );
}

function ChartView({ config }: { config: Record<string, unknown> }) {
  const kind = (['line', 'bar', 'area'].includes(config.kind as string) ? config.kind : 'line') as ChartKind;
  const shapes = chartShapes(kind, config.series, 300, 140);
  if (shapes.length === 0) return <p className="muted">No data yet.</p>;
  return (
    <div className="chart" data-testid="chart" data-kind={kind}>
      <svg viewBox="0 0 300 140" preserveAspectRatio="none" role="img" aria-label={`${kind} chart`}>
        {shapes.map((s) => (
          <g key={s.name}>
            {s.fill && <path d={s.fill} fill={s.color} opacity={0.18} />}
            <path
              d={s.path}
              fill={kind === 'bar' ? s.color : 'none'}
              stroke={kind === 'bar' ? 'none' : s.color}
              strokeWidth={2}
              vectorEffect="non-scaling-stroke"
            />
          </g>
        ))}
      </svg>
      <div className="legend">
        {shapes.map((s) => (
          <span key={s.name}>
            <i style={{ background: s.color }} /> {s.name}
          </span>
        ))}
      </div>
    </div>
  );
}

function TableView({ config }: { config: Record<string, unknown> }) {
  const columns = Array.isArray(config.columns) ? (config.columns as unknown[]).map(String) : [];
  const rows = Array.isArray(config.rows) ? (config.rows as unknown[]).filter(Array.isArray) : [];
  return (
    <div className="table-wrap" data-testid="table">
      <table>
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, r) => (
            <tr key={r}>
              {(row as unknown[]).map((cell, c) => (
                <td key={c}>{cell === null || cell === undefined ? '' : String(cell)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
