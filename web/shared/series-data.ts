/**
 * Live series as the widgets draw them (DESIGN.md 10, LD4), pure: legend names, the aligned
 * table uPlot draws (series-chart.ts), the step that fits a widget's width, and a metric
 * tile's numbers and sparkline. Framework-free, so both clients share it (CONVENTIONS.md 17).
 */
import { formatMetricNumber } from './metric-format.js';

/**
 * One series and its points as the API returns them (`SeriesData`, LD2/LD3): `points` are
 * `[t, v]`, t in ms since the epoch. Typed loosely enough that the generated GraphQL types
 * fit (`labels` is the JSON scalar, `unknown` in codegen).
 */
export interface SeriesData {
  series: { id: string; name: string; labels?: unknown; last?: { t: number; v: number } | null };
  points: ReadonlyArray<ReadonlyArray<number>>;
}

/** The time range a widget shows, in ms; `step` (ms) is the one the data was read with, if any. */
export interface TimeWindow {
  from: number;
  to: number;
  step?: number | null;
}

/** A series breaks where it has no point for this long at least (Prometheus' staleness period). */
export const STALE_MS = 5 * 60_000;

/** Steps a chart picks from (ms): each a whole number of seconds, as `config.source.step` is. */
export const NICE_STEPS_MS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
].map((seconds) => seconds * 1000);

const DAY_MS = 86_400_000;

/** The label pairs of a series (the JSON scalar, so checked), in the order the API gave them. */
export function labelEntries(labels: unknown): [string, string][] {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return [];
  return Object.entries(labels as Record<string, unknown>).map(([key, value]) => [key, String(value)]);
}

/** A label value quoted as Prometheus writes it: `"a \"b\"\n"`. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * How a legend names a series (as Grafana does): its labels, `{job="api", instance="a"}`,
 * or its name when it has none.
 */
export function seriesLabel(series: SeriesData['series']): string {
  const entries = labelEntries(series.labels);
  if (entries.length === 0) return series.name;
  return `{${entries.map(([key, value]) => `${key}=${quote(value)}`).join(', ')}}`;
}

/**
 * The legend names of `list`, in order: `seriesLabel`, prefixed with the series' name where
 * two series of different names would otherwise read the same (`up{job="a"}`).
 */
export function legendNames(list: readonly SeriesData[]): string[] {
  const labels = list.map((data) => seriesLabel(data.series));
  const seen = new Map<string, number>(); // label -> how many series carry it
  for (const label of labels) seen.set(label, (seen.get(label) ?? 0) + 1);
  return labels.map((label, i) => {
    const { name } = list[i]!.series;
    return seen.get(label)! > 1 && label !== name ? `${name}${label}` : label;
  });
}

/**
 * The points of one series inside `window` (both ends included), ascending by t with one
 * point per t. Points may arrive late or out of order (LD3), so the input is sorted if need
 * be; when a t repeats, the later point wins (it is the newer write). Malformed points
 * (not two finite numbers) are skipped.
 */
export function windowPoints(points: SeriesData['points'], window: TimeWindow): [number, number][] {
  const out: [number, number][] = [];
  let sorted = true;
  for (const point of points) {
    const t = point[0];
    const v = point[1];
    if (t === undefined || v === undefined || !Number.isFinite(t) || !Number.isFinite(v)) continue;
    if (t < window.from || t > window.to) continue;
    const previous = out[out.length - 1];
    if (previous && t <= previous[0]) {
      if (t === previous[0]) {
        previous[1] = v;
        continue;
      }
      sorted = false;
    }
    out.push([t, v]);
  }
  if (sorted) return out;
  // Stable sort: of points with the same t, the last one written stays last and wins.
  out.sort((a, b) => a[0] - b[0]);
  const unique: [number, number][] = [];
  for (const point of out) {
    const previous = unique[unique.length - 1];
    if (previous && previous[0] === point[0]) previous[1] = point[1];
    else unique.push(point);
  }
  return unique;
}

/**
 * How long a series may go without a point before its line breaks: the staleness period,
 * or two steps when the data was read in larger steps (a bucket with no point is not yet a
 * gap: at 1 h steps one hour may well have none).
 */
export function gapThreshold(step?: number | null): number {
  return Math.max(STALE_MS, 2 * (step ?? 0));
}

/** Series on one shared time axis: uPlot's aligned data. */
export interface AlignedSeries {
  /** Every series' timestamps inside the window (ms), ascending, once each. */
  x: number[];
  /**
   * Per series, its value at each x: a number where it has a point; `null` inside a gap
   * (no point for longer than the gap threshold: uPlot breaks the line there, spanGaps off);
   * `undefined` where only other series have a point (uPlot skips it and joins the line).
   */
  ys: (number | null | undefined)[][];
  /** Points inside the window, over all series. */
  points: number;
}

/**
 * Joins the series' timestamps inside `window` into one x array (uPlot wants one) and
 * lines each series' values up with it. Where a series has a gap longer than `gapMs`, the
 * gap's midpoint joins the x array too, so the series has a null to break at even when no
 * other series has a point there.
 */
export function alignSeries(list: readonly SeriesData[], window: TimeWindow, gapMs = Infinity): AlignedSeries {
  const each = list.map((data) => windowPoints(data.points, window));
  const stamps: number[] = [];
  let points = 0;
  for (const series of each) {
    points += series.length;
    for (let i = 0; i < series.length; i++) {
      const t = series[i]![0];
      stamps.push(t);
      const next = series[i + 1];
      if (next && next[0] - t > gapMs) stamps.push(t + Math.floor((next[0] - t) / 2));
    }
  }
  const sorted = Float64Array.from(stamps).sort();
  const x: number[] = [];
  for (const t of sorted) if (x.length === 0 || x[x.length - 1] !== t) x.push(t);

  const ys = each.map((series) => {
    const values: (number | null | undefined)[] = new Array(x.length);
    let j = 0; // the series' first point at or after x[k]
    for (let k = 0; k < x.length; k++) {
      const t = x[k]!;
      while (j < series.length && series[j]![0] < t) j++;
      const point = series[j];
      if (point && point[0] === t) values[k] = point[1];
      else if (point && j > 0 && point[0] - series[j - 1]![0] > gapMs) values[k] = null;
      else values[k] = undefined;
    }
    return values;
  });
  return { x, ys, points };
}

/**
 * The step (ms) for a window drawn `widthPx` wide, when the source sets none (LD4): about
 * one point per `pxPerPoint` pixels, rounded up to a nice step (1 s, 5 s, 1 min, 1 h, ...;
 * whole days beyond a day), so a series never has more points than the width can show.
 */
export function fitStep(windowMs: number, widthPx: number, pxPerPoint = 2): number {
  const slots = Math.max(1, Math.floor(widthPx / pxPerPoint));
  const raw = Math.max(0, windowMs) / slots;
  const nice = NICE_STEPS_MS.find((step) => step >= raw);
  return nice ?? Math.ceil(raw / DAY_MS) * DAY_MS;
}

/** A value as charts show it: compact (metric-format.ts), with its unit: "1.5K req/s". */
export function formatSeriesValue(value: number, unit?: string | null, locale?: string): string {
  const number = formatMetricNumber(value, locale);
  return unit ? `${number} ${unit}` : number;
}

/** A metric tile's numbers, from the first matching series (LD4). */
export interface SeriesMetric {
  /** The last value in the window, and its time (ms). */
  value: number;
  time: number;
  /** Last minus first value in the window; null with fewer than two points. */
  change: number | null;
  /** `change` in percent of the first value; null when that is 0 (or change is null). */
  changePercent: number | null;
}

/** The metric numbers of the first series of `list` inside `window`; null when it has no point there. */
export function seriesMetric(list: readonly SeriesData[], window: TimeWindow): SeriesMetric | null {
  const first = list[0];
  if (!first) return null;
  const points = windowPoints(first.points, window);
  const last = points[points.length - 1];
  if (!last) return null;
  const [, start] = points[0]!;
  const change = points.length > 1 ? last[1] - start : null;
  return {
    value: last[1],
    time: last[0],
    change,
    changePercent: change === null || start === 0 ? null : (change / Math.abs(start)) * 100,
  };
}

/**
 * A sparkline: `d` of an SVG path through the points of `window`, x spanning the window
 * and y the points' range, in a `width` x `height` box (`pad` px kept clear at top and
 * bottom for the stroke). Empty when there is no point; a lone point is a dot (`h0`, seen
 * with a round line cap).
 */
export function sparklinePath(
  points: SeriesData['points'],
  window: TimeWindow,
  width: number,
  height: number,
  pad = 1,
): string {
  const inside = windowPoints(points, window);
  if (inside.length === 0) return '';
  let min = Infinity;
  let max = -Infinity;
  for (const [, v] of inside) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const span = window.to - window.from || 1;
  const round = (n: number) => Math.round(n * 10) / 10;
  const sx = (t: number) => round(((t - window.from) / span) * width);
  // A flat series runs through the middle.
  const sy = (v: number) =>
    round(max === min ? height / 2 : height - pad - ((v - min) / (max - min)) * (height - 2 * pad));
  const path = inside.map(([t, v], i) => `${i ? 'L' : 'M'}${sx(t)} ${sy(v)}`).join('');
  return inside.length === 1 ? `${path}h0` : path;
}
