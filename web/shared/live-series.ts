/**
 * A widget's live data (DESIGN.md 10, LD4), framework-free so the React editor and the Vue
 * viewer share it (CONVENTIONS.md 17): `config.source` read from the document (stored series,
 * or a data source's query, LD5, which live-query.ts follows), then, for series, the
 * window's history (seriesData, one aggregated point per step) and the points written from
 * then on (seriesUpdates), merged into what series-chart.ts, the metric tile and the table draw.
 *
 * Steps are aligned to the epoch, so a bucket is the same for every viewer and every reload.
 * History asks for the window's buckets up to a couple of minutes ago (RAW_KEEP_MS, or two
 * steps); the stream starts there (`since`), and the client aggregates its raw points per
 * bucket with the source's aggregation, keeping the raw points of that recent stretch, so a
 * point that arrives late (Prometheus sends samples seconds after their time; a backfill) or
 * again refolds its bucket exactly. A point later still, for an older bucket, has that stretch
 * of buckets read again from the server (aggregated there, once a second at most).
 * After a reconnect the stream resumes from its last batch's cursor (exactly the points written
 * meanwhile, late ones included); a point held already replaces itself, so nothing doubles.
 */
import { print } from 'graphql';
import { ApiError, isStreamFatal, request, type GraphQLSubscriber } from '@collab-dashboards/core';
import {
  SeriesUpdatesDocument,
  SeriesWindowDocument,
  type Aggregation,
  type SeriesUpdatesSubscription,
  type SeriesWindowQuery,
} from './gql/graphql.js';
import { errorCode, errorMessage } from './errors.js';
import { fitStep, seriesLabel, type SeriesData, type TimeWindow } from './series-data.js';

/** The windows a user picks from (seconds), as the source editor lists them. */
export const WINDOW_CHOICES: ReadonlyArray<{ seconds: number; label: string }> = [
  { seconds: 300, label: '5 m' },
  { seconds: 900, label: '15 m' },
  { seconds: 3600, label: '1 h' },
  { seconds: 21_600, label: '6 h' },
  { seconds: 86_400, label: '24 h' },
  { seconds: 604_800, label: '7 d' },
];
export const DEFAULT_WINDOW_SECONDS = 900;
export const AGGREGATIONS: readonly Aggregation[] = ['AVG', 'MIN', 'MAX', 'SUM', 'LAST', 'COUNT'] as Aggregation[];
const MAX_WINDOW_SECONDS = 604_800;
/** Raw points are kept (and streamed from the start) for this long at least before now. */
const RAW_KEEP_MS = 120_000;
/** Late points for older buckets are gathered this long before their buckets are read again. */
const REFETCH_DELAY_MS = 1000;
/** After a failed open, the first wait before the next, doubling up to the last. */
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 30_000;

/** `config.source` bound to stored series (LD4), checked (the document is untrusted JSON). */
export interface SeriesSource {
  kind: 'series';
  series: string;
  /** A subset of labels to match; null matches every series of that name. */
  labels: Record<string, string> | null;
  /** Seconds shown up to now. */
  window: number;
  agg: Aggregation;
  /** Seconds per point; null: the step that fits the widget's width. */
  step: number | null;
}

/**
 * `config.source` bound to a PromQL query of a configured data source (LD5). `window` and
 * `step` are seconds, as a series source's are: one key means one unit in every source.
 */
export interface QuerySource {
  kind: 'query';
  datasource: string;
  expr: string;
  /** Seconds shown up to now. */
  window: number;
  /** Seconds per point; null: the step that fits the widget's width. */
  step: number | null;
}

/** What a bound widget reads: stored series or a data source's query. */
export type WidgetSource = SeriesSource | QuerySource;

/** The longest expression the server takes (MAX_EXPR_LENGTH there): a longer one cannot bind. */
export const MAX_EXPR_LENGTH = 4000;

/**
 * The source of a widget config, or null when it has none (or a malformed one). A source
 * naming a `datasource` is a query (LD5), else it names stored series (LD4).
 */
export function parseSource(config: Record<string, unknown>): WidgetSource | null {
  const raw = config.source;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const source = raw as Record<string, unknown>;
  const window =
    typeof source.window === 'number' && Number.isFinite(source.window) && source.window > 0
      ? Math.min(Math.round(source.window), MAX_WINDOW_SECONDS)
      : DEFAULT_WINDOW_SECONDS;
  const step =
    typeof source.step === 'number' && Number.isInteger(source.step) && source.step >= 1 ? source.step : null;
  if (source.datasource !== undefined) {
    const expr = typeof source.expr === 'string' ? source.expr.trim() : '';
    if (typeof source.datasource !== 'string' || source.datasource === '') return null;
    if (expr === '' || expr.length > MAX_EXPR_LENGTH) return null;
    return { kind: 'query', datasource: source.datasource, expr, window, step };
  }
  if (typeof source.series !== 'string' || source.series === '') return null;
  let labels: Record<string, string> | null = null;
  if (typeof source.labels === 'object' && source.labels !== null && !Array.isArray(source.labels)) {
    const entries = Object.entries(source.labels as Record<string, unknown>).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    );
    if (entries.length > 0) labels = Object.fromEntries(entries);
  }
  const agg = AGGREGATIONS.includes(source.agg as Aggregation) ? (source.agg as Aggregation) : ('AVG' as Aggregation);
  return { kind: 'series', series: source.series, labels, window, agg, step };
}

/** A key that changes exactly when what a source reads changes. */
export function sourceKey(source: WidgetSource | null): string {
  if (!source) return '';
  return source.kind === 'query'
    ? JSON.stringify(['query', source.datasource, source.expr, source.window, source.step])
    : JSON.stringify([source.series, source.labels, source.window, source.agg, source.step]);
}

/** What a source reads, as a person names it: `cpu{host="a"}`, or the query's expression. */
export function describeSource(source: WidgetSource): string {
  return source.kind === 'query' ? source.expr : seriesLabel({ id: '', name: source.series, labels: source.labels });
}

/**
 * The step (ms) a source is read with in a widget `widthPx` wide: its own, or one that fits
 * the width (fitStep's steps are whole seconds, 1 s at least, as a data source needs).
 */
export function sourceStep(source: WidgetSource, widthPx: number): number {
  return source.step !== null ? source.step * 1000 : fitStep(source.window * 1000, widthPx);
}

export interface LiveSeriesState {
  /** loading: reading the window; live: following; error: stopped (see `error`). */
  status: 'loading' | 'live' | 'error';
  /** One entry per matching series, points `[bucket start, value]` ascending. */
  data: SeriesData[];
  /** The newest raw point of each series, by series id (a metric's value, a table's cells). */
  last: ReadonlyMap<string, { t: number; v: number }>;
  /** What the widget shows: the window up to now, and the step the data is in. */
  window: TimeWindow;
  error: string | null;
  /**
   * A data source that could not be queried (LD5's `SeriesBatch.error`): the stream stays
   * open and the last data stays drawn; null again once a batch says it answers.
   */
  sourceError: string | null;
}

export interface LiveSeries {
  readonly state: LiveSeriesState;
  /** Called after every change of `state`; returns the unsubscribe function. */
  subscribe(listener: (state: LiveSeriesState) => void): () => void;
  close(): void;
}

export interface LiveSeriesOptions {
  dashboardId: string;
  source: SeriesSource;
  /** The step is fitted to this width when the source sets none. */
  widthPx: number;
  now?: () => number;
}

type SeriesInfo = SeriesData['series'];

interface Track {
  series: SeriesInfo;
  /** Folded buckets: start -> value. */
  buckets: Map<number, number>;
  /** Raw points of the buckets not folded yet, and of folded ones kept for refolding: t -> v. */
  raw: Map<number, number>;
}

function aggregate(agg: Aggregation, values: number[]): number {
  switch (agg) {
    case 'MIN':
      return Math.min(...values);
    case 'MAX':
      return Math.max(...values);
    case 'SUM':
      return values.reduce((a, b) => a + b, 0);
    case 'COUNT':
      return values.length;
    case 'LAST':
      return values[values.length - 1]!;
    default:
      return values.reduce((a, b) => a + b, 0) / values.length;
  }
}

/**
 * GraphQL errors as the stream reports them (in a result, or as the list graphql-ws gives
 * `error` when the subscribe is refused) carry their code in `extensions`: an ApiError keeps
 * it, so errorMessage can say what happened. Anything else (a close event, an Error) as is.
 */
export function graphQLError(error: unknown): unknown {
  const first = (Array.isArray(error) ? error[0] : undefined) as
    { message?: unknown; extensions?: Record<string, unknown> } | undefined;
  if (!first || typeof first.message !== 'string') return error;
  const code = first.extensions?.code;
  return new ApiError(first.message, typeof code === 'string' ? code : undefined);
}

/** Opens the live data of one bound widget over the client's socket. */
export function openLiveSeries(client: GraphQLSubscriber, options: LiveSeriesOptions): LiveSeries {
  const { dashboardId, source } = options;
  const now = options.now ?? (() => Date.now());
  const windowMs = source.window * 1000;
  const step = sourceStep(source, options.widthPx);
  const bucketOf = (t: number) => Math.floor(t / step) * step;
  const match = { name: source.series, labels: source.labels };
  const tracks = new Map<string, Track>();
  const last = new Map<string, { t: number; v: number }>();
  const listeners = new Set<(state: LiveSeriesState) => void>();
  /** How far back raw points are kept: a late point within it refolds its bucket. */
  const rawMs = Math.min(windowMs, Math.max(2 * step, RAW_KEEP_MS));
  /** Buckets before this came from history: the stream's raw points start here. */
  let liveFrom = bucketOf(now() - rawMs);
  /** Older buckets a late point touched, to read again: [from, to] bucket starts. */
  let stale: { from: number; to: number } | null = null;
  let refetch: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  let disposeStream: (() => void) | null = null;
  /** Failed opens in a row, for the backoff; a retry waiting. */
  let failures = 0;
  let retry: ReturnType<typeof setTimeout> | null = null;

  const windowNow = (): TimeWindow => {
    const to = now();
    return { from: to - windowMs, to, step };
  };
  let state: LiveSeriesState = {
    status: 'loading',
    data: [],
    last,
    window: windowNow(),
    error: null,
    sourceError: null,
  };

  const trackOf = (series: SeriesInfo) => {
    let track = tracks.get(series.id);
    if (!track) tracks.set(series.id, (track = { series, buckets: new Map(), raw: new Map() }));
    return track;
  };

  /** Folds the raw points of each bucket touched into its value; drops what left the window. */
  function fold(track: Track, touched: Set<number>, window: TimeWindow) {
    // bucket -> its raw values in time order (LAST takes the latest)
    const values = new Map<number, number[]>();
    for (const [t, v] of [...track.raw].sort((a, b) => a[0] - b[0])) {
      const bucket = bucketOf(t);
      if (!touched.has(bucket)) continue;
      const list = values.get(bucket);
      if (list) list.push(v);
      else values.set(bucket, [v]);
    }
    for (const [bucket, list] of values) track.buckets.set(bucket, aggregate(source.agg, list));
    const oldest = bucketOf(window.from);
    for (const bucket of track.buckets.keys()) if (bucket < oldest) track.buckets.delete(bucket);
    const kept = refoldFrom(window.to);
    for (const t of track.raw.keys()) if (t < kept) track.raw.delete(t);
  }

  /** Raw points are kept from here on (the last `rawMs`), to refold their buckets. */
  const refoldFrom = (at: number) => Math.max(liveFrom, bucketOf(at - rawMs));

  /** Reads the stale buckets again from the server, which aggregates them with the late points. */
  async function readStale() {
    refetch = null;
    const range = stale;
    stale = null;
    if (!range || closed) return;
    try {
      const result = await request<SeriesWindowQuery>(client, print(SeriesWindowDocument), {
        dashboardId,
        match,
        from: range.from,
        to: range.to + step - 1,
        step,
        agg: source.agg,
      });
      if (closed || !result.dashboard) return;
      const kept = refoldFrom(now());
      for (const entry of result.dashboard.seriesData) {
        const track = trackOf(entry.series);
        for (const [t, v] of entry.points as Array<[number, number]>) if (t < kept) track.buckets.set(t, v);
      }
      publish();
    } catch {
      // Read again with the next late point, or at the next open.
      markStale(range.from);
      markStale(range.to);
    }
  }

  function markStale(bucket: number) {
    stale = stale
      ? { from: Math.min(stale.from, bucket), to: Math.max(stale.to, bucket) }
      : { from: bucket, to: bucket };
    refetch ??= setTimeout(() => void readStale(), REFETCH_DELAY_MS);
  }

  function publish(patch: Partial<LiveSeriesState> = {}) {
    if (closed) return;
    const window = windowNow();
    const data: SeriesData[] = [...tracks.values()].map((track) => ({
      series: track.series,
      points: [...track.buckets]
        .filter(([t]) => t + step > window.from)
        .sort((a, b) => a[0] - b[0])
        .map(([t, v]) => [t, v]),
    }));
    state = { ...state, ...patch, data, window, last };
    for (const listener of listeners) listener(state);
  }

  function addPoints(list: ReadonlyArray<{ series: SeriesInfo; points: ReadonlyArray<ReadonlyArray<number>> }>) {
    const window = windowNow();
    for (const entry of list) {
      const track = trackOf(entry.series);
      const touched = new Set<number>();
      for (const [t, v] of entry.points as Array<[number, number]>) {
        const newest = last.get(entry.series.id);
        if (!newest || t >= newest.t) last.set(entry.series.id, { t, v });
        // Older buckets' raw points are gone (or were never here: history): a late point
        // there cannot be merged into an aggregate it was not part of; the server can.
        if (t < refoldFrom(window.to)) {
          trackOf(entry.series);
          if (t >= window.from - step) markStale(bucketOf(t));
          continue;
        }
        track.raw.set(t, v);
        touched.add(bucketOf(t));
      }
      fold(track, touched, window);
    }
  }

  /**
   * Shows the failure and, unless it is final (the protocol's fatal stream codes: access
   * lost, a source the server refuses), opens again after a backoff: a dropped socket or a
   * database that did not answer heals by itself, with the last data kept on screen meanwhile.
   */
  function fail(error: unknown, message = errorMessage(error)) {
    disposeStream?.();
    disposeStream = null;
    publish({ status: 'error', error: message });
    if (closed || isStreamFatal(errorCode(error))) return;
    retry = setTimeout(() => void start(), Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** failures++));
  }

  async function start() {
    retry = null;
    liveFrom = bucketOf(now() - rawMs);
    const from = bucketOf(now() - windowMs);
    try {
      const result = await request<SeriesWindowQuery>(client, print(SeriesWindowDocument), {
        dashboardId,
        match,
        from,
        to: liveFrom - 1,
        step,
        agg: source.agg,
      });
      if (closed) return;
      if (!result.dashboard) {
        return fail(new ApiError('Dashboard not found', 'NOT_FOUND'), 'This dashboard is not available');
      }
      tracks.clear();
      last.clear();
      for (const entry of result.dashboard.seriesData) {
        const track = trackOf(entry.series);
        for (const [t, v] of entry.points as Array<[number, number]>) track.buckets.set(t, v);
      }
      for (const s of result.dashboard.series) if (s.last) last.set(s.id, s.last);
      failures = 0;
      publish({ status: 'live', error: null });
    } catch (error) {
      if (!closed) fail(error);
      return;
    }
    // graphql-ws re-sends this very payload when it re-subscribes after a reconnect: after each
    // batch it names the batch's cursor instead of `since`, so a reconnect reads exactly the
    // points written meanwhile (LD3), not everything since the widget opened.
    const variables: Record<string, unknown> = { dashboardId, match: [match], since: liveFrom - 1 };
    disposeStream = client.subscribe(
      { query: print(SeriesUpdatesDocument), variables },
      {
        next(result) {
          if (closed) return;
          if (result.errors?.length) return fail(graphQLError(result.errors));
          const event = (result.data as SeriesUpdatesSubscription | null | undefined)?.seriesUpdates;
          if (!event) return;
          if (event.__typename === 'AccessRevoked') {
            return fail(new ApiError('Access revoked', 'FORBIDDEN'), 'You no longer have access to this dashboard');
          }
          delete variables.since;
          variables.after = event.cursor;
          addPoints(event.series);
          publish({ status: 'live', error: null });
        },
        error(error) {
          if (!closed) fail(graphQLError(error));
        },
        complete() {},
      },
    );
  }

  // The window slides even when no point arrives.
  const tick = setInterval(() => publish(), Math.min(Math.max(step, 1000), 10_000));
  void start();

  return {
    get state() {
      return state;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      clearInterval(tick);
      if (retry) clearTimeout(retry);
      if (refetch) clearTimeout(refetch);
      listeners.clear();
      disposeStream?.();
    },
  };
}
