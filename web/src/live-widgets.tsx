/**
 * A metric, chart or table bound to live data (DESIGN.md 10, LD4, LD5): the series or the
 * data source query its `config.source` names, read over the editor's socket (use-live-series.ts) and drawn from
 * the shared view models (live-widget-view.ts, series-chart.ts) with the same markup as a
 * hand-typed widget (widget-parts.tsx). The config keeps the rest of the tile's look: a
 * chart's kind, the unit, a metric's label and lowerIsBetter.
 */
import { useRef, type ReactNode } from 'react';
import type { ChartKind, Widget } from '@collab-dashboards/core';
import { describeSource, type LiveSeriesState, type WidgetSource } from '../shared/live-series.js';
import {
  LOADING_TEXT,
  SPARKLINE_BOX,
  liveDataAttributes,
  liveMetricView,
  liveTableView,
  nothingToDraw,
} from '../shared/live-widget-view.js';
import { NO_SERIES_TEXT } from '../shared/series-chart.js';
import { SeriesChart } from './series-chart.js';
import { useElementWidth } from './use-element-width.js';
import type { LiveContext } from '../shared/live-binding.js';
import { useLiveSeries } from './use-live-series.js';
import { MetricView, TableView } from './widget-parts.js';

const CHART_KINDS: readonly ChartKind[] = ['line', 'bar', 'area'];

type Config = Record<string, unknown>;

function unitOf(config: Config): string | null {
  return typeof config.unit === 'string' && config.unit !== '' ? config.unit : null;
}

/**
 * The body of a bound widget: `data-testid="live-<type>"` with `data-state` loading, live or
 * error, `data-points` (points drawn) and `data-last` (newest value); the live state's error
 * under it as muted text, and over it a banner while its data source cannot be queried
 * (`data-testid="live-source-error"`: the last data stays drawn under it). Its width fits the step (resizing the widget may reopen the series
 * at another step); without `live` (no socket here) it only names its source.
 */
export function LiveWidgetBody({
  widget,
  source,
  live,
}: {
  widget: Widget;
  source: WidgetSource;
  live: LiveContext | null;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const width = useElementWidth(ref);
  const state = useLiveSeries(live, source, width);
  const config = widget.config;
  // Nothing to draw but the error or the banner: an empty chart or "No series match" would mislead.
  const failed = nothingToDraw(state);
  let body: ReactNode = null;
  if (!live) {
    body = <p className="muted">Live data from {describeSource(source)}</p>;
  } else if (state.status === 'loading') {
    body = <p className="muted">{LOADING_TEXT}</p>;
  } else if (!failed) {
    if (widget.type === 'chart') body = <LiveChart state={state} config={config} />;
    else if (widget.type === 'metric') body = <LiveMetric state={state} config={config} />;
    else body = <LiveTable state={state} config={config} />;
  }
  return (
    <div
      ref={ref}
      className={`live-widget live-${widget.type}`}
      data-testid={`live-${widget.type}`}
      data-state={state.status}
      {...liveDataAttributes(state)}
    >
      {state.sourceError && (
        <p className="live-banner" role="status" title={state.sourceError} data-testid="live-source-error">
          {state.sourceError}
        </p>
      )}
      {body}
      {state.error && (
        <p className="muted small live-error" role="status" data-testid="live-error">
          {state.error}
        </p>
      )}
    </div>
  );
}

function LiveChart({ state, config }: { state: LiveSeriesState; config: Config }) {
  const kind = CHART_KINDS.includes(config.kind as ChartKind) ? (config.kind as ChartKind) : 'line';
  return <SeriesChart data={state.data} window={state.window} kind={kind} unit={unitOf(config)} />;
}

function LiveMetric({ state, config }: { state: LiveSeriesState; config: Config }) {
  const view = liveMetricView(config, state);
  if (view.placeholder) {
    return (
      <div className="metric" data-testid="metric">
        <p className="muted metric-placeholder" data-testid="metric-placeholder">
          {view.placeholder}
        </p>
      </div>
    );
  }
  return (
    <MetricView view={view.metric}>
      <svg
        className="sparkline"
        data-testid="sparkline"
        viewBox={`0 0 ${SPARKLINE_BOX.width} ${SPARKLINE_BOX.height}`}
        preserveAspectRatio="none"
        aria-hidden="true"
      >
        <path d={view.sparkline} />
      </svg>
    </MetricView>
  );
}

function LiveTable({ state, config }: { state: LiveSeriesState; config: Config }) {
  if (state.data.length === 0) return <p className="muted">{NO_SERIES_TEXT}</p>;
  return <TableView table={liveTableView(state, { unit: unitOf(config) })} />;
}
