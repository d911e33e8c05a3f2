/**
 * A widget's PromQL query on a configured data source (DESIGN.md 10, LD5), framework-free so
 * the React editor and the Vue viewer share it (CONVENTIONS.md 17), with the same state as
 * stored series (live-series.ts) so the chart, the metric tile and the table draw either.
 *
 * The server evaluates the query once per step for everyone (one point per series at each
 * multiple of the step), so there is nothing to aggregate here: the window's history
 * (`queryData`), then the evaluations from there on (`queryUpdates` with `since`, the last
 * evaluation time received). graphql-ws re-sends the subscribe payload when it reconnects:
 * `since` is moved on with every batch, so the replay starts right after the last point held
 * (no gap); a point the server sends again replaces itself (no duplicate).
 *
 * An upstream that cannot be queried is not the stream's failure: its batches say so in
 * `error` (shown as `sourceError`, the last data kept drawn) until one answers again, which
 * also back-fills the steps missed. A history read that finds it unreachable (UNAVAILABLE)
 * is the same case: the stream opens anyway with `since` at the window's start, says so as
 * `sourceError`, and its first good batch back-fills the window, so a widget opened during an
 * outage heals as soon as those already open do (the server knows when the upstream is back;
 * a client backoff would only guess). Any other failure is retried with a backoff, as a
 * failed open of stored series is.
 */
import { print } from 'graphql';
import { ApiError, isStreamFatal, request, type GraphQLSubscriber } from '@collab-dashboards/core';
import {
  QueryDataDocument,
  QueryUpdatesDocument,
  type QueryDataQuery,
  type QueryUpdatesSubscription,
} from './gql/graphql.js';
import { errorCode, errorMessage } from './errors.js';
import {
  RETRY_FIRST_MS,
  RETRY_MAX_MS,
  graphQLError,
  sourceStep,
  type LiveSeries,
  type LiveSeriesState,
  type QuerySource,
} from './live-series.js';
import type { SeriesData, TimeWindow } from './series-data.js';

export interface LiveQueryOptions {
  dashboardId: string;
  source: QuerySource;
  /** The step is fitted to this width when the source sets none. */
  widthPx: number;
  now?: () => number;
}

/**
 * What a query error says: the server's own words where they are about the query or its
 * upstream (a PromQL syntax error, an unknown data source, "Data source prom is unavailable:
 * ..."), which the generic sentences of errors.ts would hide; else those sentences.
 */
export function queryErrorMessage(error: unknown): string {
  const code = errorCode(error);
  const e = error as { message?: unknown; graphQLErrors?: Array<{ message?: unknown }> } | null;
  const message = e?.graphQLErrors?.[0]?.message ?? e?.message;
  if ((code === 'BAD_USER_INPUT' || code === 'UNAVAILABLE') && typeof message === 'string' && message !== '') {
    return message.replace(/^\[GraphQL\]\s*/, '');
  }
  return errorMessage(error);
}

/** A query's series and their points inside the window, with the newest evaluation time seen. */
export interface QueryPoints {
  /** Adds the points of `list`; a `t` held already is replaced (a replay, a back-fill). */
  merge(list: readonly SeriesData[]): void;
  /** Drops points before `from`, and the series left without any. */
  trim(from: number): void;
  /** The newest `t` ever merged (trimming does not move it back); null before any point. */
  readonly lastT: number | null;
  /** The series in the order they first arrived, points ascending. */
  data(): SeriesData[];
  /** The newest point of each series, by series id. */
  last(): Map<string, { t: number; v: number }>;
}

/** A QueryPoints holding nothing yet. */
export function createQueryPoints(): QueryPoints {
  // series id -> its info and its points (t -> v)
  const tracks = new Map<string, { series: SeriesData['series']; points: Map<number, number> }>();
  let lastT: number | null = null;
  const sorted = (points: Map<number, number>) => [...points].sort((a, b) => a[0] - b[0]);
  return {
    merge(list) {
      for (const entry of list) {
        let track = tracks.get(entry.series.id);
        if (!track) tracks.set(entry.series.id, (track = { series: entry.series, points: new Map() }));
        for (const [t, v] of entry.points) {
          if (!Number.isFinite(t) || !Number.isFinite(v)) continue;
          track.points.set(t!, v!);
          if (lastT === null || t! > lastT) lastT = t!;
        }
      }
    },
    trim(from) {
      for (const [id, track] of tracks) {
        for (const t of track.points.keys()) if (t < from) track.points.delete(t);
        if (track.points.size === 0) tracks.delete(id);
      }
    },
    get lastT() {
      return lastT;
    },
    data() {
      return [...tracks.values()].map((track) => ({ series: track.series, points: sorted(track.points) }));
    },
    last() {
      const newest = new Map<string, { t: number; v: number }>();
      for (const [id, track] of tracks) {
        let best: [number, number] | undefined;
        for (const point of track.points) if (!best || point[0] > best[0]) best = point;
        if (best) newest.set(id, { t: best[0], v: best[1] });
      }
      return newest;
    },
  };
}

/** Opens the live data of a widget bound to a query, over the client's socket. */
export function openLiveQuery(client: GraphQLSubscriber, options: LiveQueryOptions): LiveSeries {
  const { dashboardId, source } = options;
  const { datasource, expr } = source;
  const now = options.now ?? (() => Date.now());
  const windowMs = source.window * 1000;
  const step = sourceStep(source, options.widthPx);
  const listeners = new Set<(state: LiveSeriesState) => void>();
  let points = createQueryPoints();
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
    last: new Map(),
    window: windowNow(),
    error: null,
    sourceError: null,
  };

  function publish(patch: Partial<LiveSeriesState> = {}) {
    if (closed) return;
    const window = windowNow();
    // The point just before the window too, so a line enters from the left edge.
    points.trim(window.from - step);
    state = { ...state, ...patch, data: points.data(), last: points.last(), window };
    for (const listener of listeners) listener(state);
  }

  /** As live-series.ts: shows the failure, and opens again after a backoff unless it is final. */
  function fail(error: unknown, message = queryErrorMessage(error)) {
    disposeStream?.();
    disposeStream = null;
    publish({ status: 'error', error: message });
    if (closed || isStreamFatal(errorCode(error))) return;
    retry = setTimeout(() => void start(), Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** failures++));
  }

  async function start() {
    retry = null;
    const requested = now();
    let fresh: QueryPoints | null;
    /** Why the upstream did not answer the history read (UNAVAILABLE); null when it did. */
    let down: string | null = null;
    try {
      const result = await request<QueryDataQuery>(client, print(QueryDataDocument), {
        dashboardId,
        datasource,
        expr,
        from: requested - windowMs,
        step,
      });
      if (closed) return;
      if (!result.dashboard) {
        return fail(new ApiError('Dashboard not found', 'NOT_FOUND'), 'This dashboard is not available');
      }
      fresh = createQueryPoints();
      fresh.merge(result.dashboard.queryData);
    } catch (error) {
      if (closed) return;
      if (errorCode(error) !== 'UNAVAILABLE') return fail(error);
      // The upstream is down: what is held stays drawn, the stream fills in the rest.
      down = queryErrorMessage(error);
      fresh = null;
    }
    if (fresh) points = fresh;
    failures = 0;
    publish({ status: 'live', error: null, sourceError: down });
    // The replay starts after the newest evaluation held; with none held, after the last
    // evaluation time the history covered (no series matched) or, when it could not be read,
    // before the window's start (the replay is the history). An overlap with the server's
    // clock only sends points again, which replace themselves.
    const align = (t: number) => Math.floor(t / step) * step;
    const variables: Record<string, unknown> = {
      dashboardId,
      datasource,
      expr,
      step,
      since: points.lastT ?? (down === null ? align(requested) : align(requested - windowMs)) - step,
    };
    disposeStream = client.subscribe(
      { query: print(QueryUpdatesDocument), variables },
      {
        next(result) {
          if (closed) return;
          if (result.errors?.length) return fail(graphQLError(result.errors));
          const event = (result.data as QueryUpdatesSubscription | null | undefined)?.queryUpdates;
          if (!event) return;
          if (event.__typename === 'AccessRevoked') {
            return fail(new ApiError('Access revoked', 'FORBIDDEN'), 'You no longer have access to this dashboard');
          }
          if (event.error !== null && event.error !== undefined) {
            return publish({ status: 'live', error: null, sourceError: event.error });
          }
          points.merge(event.series);
          if (points.lastT !== null) variables.since = points.lastT;
          publish({ status: 'live', error: null, sourceError: null });
        },
        error(error) {
          if (!closed) fail(graphQLError(error));
        },
        complete() {},
      },
    );
  }

  // The window slides even when no evaluation arrives.
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
      listeners.clear();
      disposeStream?.();
    },
  };
}
