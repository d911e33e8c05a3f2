/**
 * The markup of a widget's body, from the shared view models (web/shared/widget-view.ts,
 * live-widget-view.ts): used for hand-typed configs (widget-body.tsx) and for live data
 * (live-widgets.tsx) alike, so a bound widget looks like the one it replaced.
 */
import type { ReactNode } from 'react';
import type { MetricView as Metric } from '../shared/metric-format.js';
import type { ChartView as Chart, TableView as Table } from '../shared/widget-view.js';

/** A metric tile; `children` (a live sparkline) go under the figures. */
export function MetricView({ view, children }: { view: Metric; children?: ReactNode }) {
  const { delta } = view;
  // Compact figures for the eye, the exact ones for tooltips and screen readers; the
  // delta's meaning is spelled out, not left to its colour.
  return (
    <div className="metric" data-testid="metric">
      <div className="metric-value" title={view.fullText}>
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
      {children}
    </div>
  );
}

export function ChartView({ chart }: { chart: Chart }) {
  if (chart.placeholder) return <p className="muted">{chart.placeholder}</p>;
  return (
    <div className="chart" data-testid="chart" data-kind={chart.kind}>
      <svg viewBox={chart.viewBox} preserveAspectRatio="none" role="img" aria-label={chart.label}>
        {chart.series.map((s) => (
          <g key={s.name}>
            {s.area && <path d={s.area.path} fill={s.color} opacity={s.area.opacity} />}
            <path
              d={s.path}
              fill={s.paint.fill}
              stroke={s.paint.stroke}
              strokeWidth={s.paint.strokeWidth}
              vectorEffect="non-scaling-stroke"
            />
          </g>
        ))}
      </svg>
      <div className="legend">
        {chart.legend.map((entry) => (
          <span key={entry.name}>
            <i style={{ background: entry.color }} /> {entry.name}
          </span>
        ))}
      </div>
    </div>
  );
}

export function TableView({ table }: { table: Table }) {
  return (
    <div className="table-wrap" data-testid="table">
      <table>
        <thead>
          <tr>
            {table.columns.map((c, i) => (
              <th key={i}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((row, r) => (
            <tr key={r}>
              {row.map((cell, c) => (
                <td key={c}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
