/**
 * What a bound metric tile and table draw from their live data (DESIGN.md 10, LD4), pure and
 * shared by both clients (CONVENTIONS.md 17). Charts draw `LiveSeriesState` directly
 * (series-chart.ts).
 */
import { metricView, type MetricView } from './metric-format.js';
import type { LiveSeriesState } from './live-series.js';
import { labelEntries, legendNames, seriesLabel, sparklinePath, windowPoints } from './series-data.js';
import type { TableView } from './widget-view.js';

export const SPARKLINE_BOX = { width: 120, height: 28 } as const;

export interface LiveMetricView {
  /** The tile: the last value, and its change over the window as the delta. */
  metric: MetricView;
  /** `d` of the sparkline in SPARKLINE_BOX; '' without points. */
  sparkline: string;
  /** Shown instead of the value when the window holds no point; else null. */
  placeholder: string | null;
}

/** Shown while the first read is in flight. */
export const LOADING_TEXT = 'Loading…';

/**
 * The metric of the first matching series: its newest point as the value (when it lies in
 * the window), its change since the window's first point as the delta, a sparkline of the
 * window. `config` keeps the tile's own unit, label and lowerIsBetter.
 */
export function liveMetricView(
  config: Record<string, unknown>,
  state: LiveSeriesState,
  locale?: string,
): LiveMetricView {
  const first = state.data[0];
  const points = first ? windowPoints(first.points, state.window) : [];
  const newest = first ? state.last.get(first.series.id) : undefined;
  const lastInWindow = newest && newest.t >= state.window.from ? newest : undefined;
  const value = lastInWindow?.v ?? points[points.length - 1]?.[1];
  const placeholder =
    value === undefined
      ? state.status === 'loading'
        ? LOADING_TEXT
        : !first
          ? 'No series match'
          : 'No data in this window'
      : null;
  const start = points[0]?.[1];
  // A change needs a value later than the window's first bucket: the newest raw point lies
  // in that bucket when the window holds one bucket, and is no change from it.
  const firstBucket = points[0]?.[0];
  const later =
    points.length > 1 ||
    (lastInWindow !== undefined &&
      firstBucket !== undefined &&
      lastInWindow.t >= firstBucket + (state.window.step ?? 0));
  const delta = value !== undefined && start !== undefined && later ? value - start : undefined;
  const label =
    typeof config.label === 'string' && config.label !== '' ? config.label : first ? fullName(first.series) : null;
  return {
    metric: metricView({ ...config, value: value ?? 0, delta, label }, locale),
    sparkline: first ? sparklinePath(first.points, state.window, SPARKLINE_BOX.width, SPARKLINE_BOX.height) : '',
    placeholder,
  };
}

/**
 * One row per matching series: its name when the rows' names differ (a query returning several
 * metrics) or no series has labels, its labels (one column per label name), its newest value
 * and that value's time in the viewer's time zone.
 */
export function liveTableView(
  state: LiveSeriesState,
  options: { locale?: string; timeZone?: string; unit?: string | null } = {},
): TableView {
  const keys = [...new Set(state.data.flatMap((d) => labelEntries(d.series.labels).map(([key]) => key)))];
  const names = legendNames(state.data);
  const named = keys.length === 0 || new Set(state.data.map((d) => d.series.name)).size > 1;
  const columns = [...(named ? ['series'] : []), ...keys, 'value', 'time'];
  const time = new Intl.DateTimeFormat(options.locale, {
    dateStyle: 'short',
    timeStyle: 'medium',
    timeZone: options.timeZone,
  });
  const number = new Intl.NumberFormat(options.locale, { maximumSignificantDigits: 6 });
  const rows = state.data.map((d, i) => {
    const labels = Object.fromEntries(labelEntries(d.series.labels));
    const newest = state.last.get(d.series.id) ?? lastPoint(d.points);
    const head = [
      ...(named ? [keys.length > 0 ? d.series.name : (names[i] ?? d.series.name)] : []),
      ...keys.map((key) => labels[key] ?? ''),
    ];
    if (!newest) return [...head, '', ''];
    const value = options.unit ? `${number.format(newest.v)} ${options.unit}` : number.format(newest.v);
    return [...head, value, time.format(new Date(newest.t))];
  });
  return { columns, rows };
}

function lastPoint(points: ReadonlyArray<ReadonlyArray<number>>): { t: number; v: number } | undefined {
  const p = points[points.length - 1];
  return p ? { t: p[0]!, v: p[1]! } : undefined;
}

/** A series named in full, as Prometheus writes it: `cpu{host="a"}`, or `up`. */
function fullName(series: LiveSeriesState['data'][number]['series']): string {
  return labelEntries(series.labels).length > 0 ? `${series.name}${seriesLabel(series)}` : series.name;
}

/**
 * Whether a bound widget draws nothing but what it says about its state: it failed, or its
 * data source cannot be queried, and it holds no data (an empty chart or "No series match"
 * would mislead).
 */
export function nothingToDraw(state: LiveSeriesState): boolean {
  return state.data.length === 0 && (state.status === 'error' || state.sourceError !== null);
}

/**
 * What a bound widget's container says about its data, for tests and tools: `data-points`,
 * the points it draws (all its series, in the window), `data-last`, the newest raw value
 * of any of its series (absent without one), and `data-source-error` while its data source
 * cannot be queried (LD5).
 */
export function liveDataAttributes(state: LiveSeriesState): {
  'data-points': number;
  'data-last': number | undefined;
  'data-source-error': 'true' | undefined;
} {
  let newest: { t: number; v: number } | undefined;
  for (const point of state.last.values()) if (!newest || point.t > newest.t) newest = point;
  return {
    'data-points': state.data.reduce((sum, d) => sum + d.points.length, 0),
    'data-last': newest?.v,
    'data-source-error': state.sourceError ? 'true' : undefined,
  };
}
