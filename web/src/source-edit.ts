/**
 * What the series picker (source-picker.tsx) shows and writes, pure: the next value of a
 * widget's `config.source` (LD4) for each choice, the options' text, and the search the
 * server runs, mirrored so the list narrows while a query is still on its way.
 */
import type { Aggregation } from '../shared/gql/graphql.js';
import { WINDOW_CHOICES, type WidgetSource } from '../shared/live-series.js';
import { formatSeriesValue, labelEntries, seriesLabel } from '../shared/series-data.js';

/** A series as the picker lists it (the SeriesSearch query's selection). */
export interface PickerSeries {
  id: string;
  name: string;
  /** The JSON scalar: an object of strings from the server, checked anyway. */
  labels: unknown;
  last: { t: number; v: number } | null;
}

/** How the aggregation select names each choice. */
export const AGGREGATION_LABELS: Record<Aggregation, string> = {
  AVG: 'Average',
  MIN: 'Minimum',
  MAX: 'Maximum',
  SUM: 'Sum',
  LAST: 'Last',
  COUNT: 'Count',
};

type RawSource = Record<string, unknown>;

/** `config.source` as it is in the document when it is an object (else null). */
function rawSource(current: unknown): RawSource | null {
  return typeof current === 'object' && current !== null && !Array.isArray(current) ? (current as RawSource) : null;
}

/**
 * The source bound to `series`: its name and all its labels, keeping the window,
 * aggregation and step the widget had (only those it had: no default is written for it).
 * Null when the widget is bound to exactly that series already (nothing to change).
 */
export function bindSeries(current: unknown, series: Pick<PickerSeries, 'name' | 'labels'>): RawSource | null {
  const raw = rawSource(current) ?? {};
  const labels = Object.fromEntries(labelEntries(series.labels));
  const next: RawSource = { series: series.name, labels };
  for (const key of ['window', 'agg', 'step']) if (raw[key] !== undefined) next[key] = raw[key];
  return JSON.stringify(next) === JSON.stringify(raw) ? null : next;
}

/**
 * The source bound to every series named `name` (no labels: a chart draws one line per
 * series, a table one row), keeping the window, aggregation and step; null when it is already.
 */
export function bindName(current: unknown, name: string): RawSource | null {
  const raw = rawSource(current) ?? {};
  const next: RawSource = { series: name };
  for (const key of ['window', 'agg', 'step']) if (raw[key] !== undefined) next[key] = raw[key];
  return JSON.stringify(next) === JSON.stringify(raw) ? null : next;
}

/** Whether `source` reads every series named `name` (no label to narrow it). */
export function isBoundToName(source: WidgetSource | null, name: string): boolean {
  return source?.kind === 'series' && source.series === name && source.labels === null;
}

/** One row of the picker: every series of a name, or one series. */
export type PickerRow = { kind: 'name'; name: string; count: number } | { kind: 'series'; series: PickerSeries };

/**
 * The picker's rows, in the list's order (by name, then labels): before the series of a name
 * that has several in the list, one row binding all of them.
 */
export function pickerRows(list: readonly PickerSeries[]): PickerRow[] {
  const counts = new Map<string, number>();
  for (const series of list) counts.set(series.name, (counts.get(series.name) ?? 0) + 1);
  const rows: PickerRow[] = [];
  let previous: string | null = null;
  for (const series of list) {
    const count = counts.get(series.name)!;
    if (series.name !== previous && count > 1) rows.push({ kind: 'name', name: series.name, count });
    previous = series.name;
    rows.push({ kind: 'series', series });
  }
  return rows;
}

/**
 * The source with `key` set to `value` (the window in seconds, or the aggregation); null
 * when the widget has no source to change or already has that value.
 */
export function withSourceField(
  current: unknown,
  key: 'window' | 'agg',
  value: number | Aggregation,
): RawSource | null {
  const raw = rawSource(current);
  if (!raw || raw[key] === value) return null;
  return { ...raw, [key]: value };
}

/**
 * The window select's choices: WINDOW_CHOICES, and the source's own window among them when
 * it is another (set through the API: kept visible rather than silently shown as another).
 */
export function windowChoices(seconds: number): ReadonlyArray<{ seconds: number; label: string }> {
  if (WINDOW_CHOICES.some((choice) => choice.seconds === seconds)) return WINDOW_CHOICES;
  return [...WINDOW_CHOICES, { seconds, label: `${seconds} s` }].sort((a, b) => a.seconds - b.seconds);
}

/** Whether `source` reads exactly `series` (its name and the same labels; none equals `{}`). */
export function isBoundTo(source: WidgetSource | null, series: Pick<PickerSeries, 'name' | 'labels'>): boolean {
  if (source?.kind !== 'series' || source.series !== series.name) return false;
  const mine = Object.entries(source.labels ?? {});
  const theirs = new Map(labelEntries(series.labels));
  return mine.length === theirs.size && mine.every(([key, value]) => theirs.get(key) === value);
}

/**
 * The text the server searches (the series key: name, then label names and values sorted by
 * name, as JSON), lower-cased: a word matches wherever it occurs in it.
 */
export function searchText(series: Pick<PickerSeries, 'name' | 'labels'>): string {
  const entries = labelEntries(series.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([series.name, ...entries.flat()]).toLowerCase();
}

/** Whether every word of `search` occurs, in any case, in the series' name or labels. */
export function matchesSearch(series: Pick<PickerSeries, 'name' | 'labels'>, search: string): boolean {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const text = searchText(series);
  return words.every((word) => text.includes(word));
}

export interface SeriesOptionView {
  name: string;
  /** `{job="api", instance="a"}`; '' for a series without labels. */
  labels: string;
  /** The newest value ("1.5K"), or null when the series has none. */
  last: string | null;
  /** The newest value exactly, and when it was written, for a tooltip. */
  lastTitle: string | null;
}

/** What one option of the picker says about its series. */
export function seriesOptionView(
  series: PickerSeries,
  options: { locale?: string; timeZone?: string } = {},
): SeriesOptionView {
  const labels = labelEntries(series.labels).length > 0 ? seriesLabel(series) : '';
  if (!series.last) return { name: series.name, labels, last: null, lastTitle: null };
  const exact = new Intl.NumberFormat(options.locale, { maximumSignificantDigits: 15 }).format(series.last.v);
  const time = new Intl.DateTimeFormat(options.locale, {
    dateStyle: 'medium',
    timeStyle: 'medium',
    timeZone: options.timeZone,
  }).format(new Date(series.last.t));
  return {
    name: series.name,
    labels,
    last: formatSeriesValue(series.last.v, null, options.locale),
    lastTitle: `Last: ${exact} at ${time}`,
  };
}

/** How to push points into a dashboard that has none yet (LD1's REST ingest). */
export function pushHint(dashboardId: string): { request: string; auth: string; body: string } {
  return {
    request: `POST /api/dashboards/${encodeURIComponent(dashboardId)}/points`,
    auth: 'Authorization: Bearer <API token>',
    body: '{"points": [{"series": "cpu_usage", "labels": {"host": "web-1"}, "v": 0.42}]}',
  };
}
