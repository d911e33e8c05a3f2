/**
 * Which live data a bound widget follows (DESIGN.md 10, LD4 and LD5), without a framework or
 * the DOM, for both clients: openLiveSeries (stored series, live-series.ts) or openLiveQuery
 * (a data source's query, live-query.ts), opened on the client's one socket,
 * closed and opened again exactly when what it reads changes (the source, which a
 * collaborator's edit can rebind, or the step the widget's width fits), not on every pixel
 * of a resize nor when an equal source is parsed again from a new config object.
 */
import type { GraphQLSubscriber, Widget } from '@collab-dashboards/core';
import { openLiveQuery } from './live-query.js';
import {
  openLiveSeries,
  parseSource,
  sourceKey,
  sourceStep,
  type LiveSeries,
  type LiveSeriesState,
  type WidgetSource,
} from './live-series.js';

/** What a bound widget needs to read live data: the client's socket and its dashboard. */
export interface LiveContext {
  client: GraphQLSubscriber;
  dashboardId: string;
}

/** The widget types a `config.source` binds to live data (LD4); a note ignores one. */
const BINDABLE: ReadonlySet<string> = new Set(['metric', 'chart', 'table']);

/** The live source of `widget`, or null when it draws its config as it always has. */
export function liveSourceOf(widget: Pick<Widget, 'type' | 'config'>): WidgetSource | null {
  return BINDABLE.has(widget.type) ? parseSource(widget.config) : null;
}

export interface LiveSourceOptions {
  dashboardId: string;
  source: WidgetSource;
  /** The step is fitted to this width when the source sets none. */
  widthPx: number;
}

/** Opens what `source` reads: stored series (LD4) or a data source's query (LD5). */
export function openLiveSource(client: GraphQLSubscriber, options: LiveSourceOptions): LiveSeries {
  const { source } = options;
  return source.kind === 'query'
    ? openLiveQuery(client, { ...options, source })
    : openLiveSeries(client, { ...options, source });
}

/**
 * What an open series reads: the source and the step (ms) fitted to `widthPx`. Null while
 * the width is unknown (0), since the step may depend on it.
 */
export function bindingKey(source: WidgetSource, widthPx: number): string | null {
  if (!(widthPx > 0)) return null;
  return JSON.stringify([sourceKey(source), sourceStep(source, widthPx)]);
}

/** Shown before a series is open (the width is not measured yet). */
export function loadingState(): LiveSeriesState {
  return {
    status: 'loading',
    data: [],
    last: new Map(),
    window: { from: 0, to: 0 },
    error: null,
    sourceError: null,
  };
}

export interface LiveBinding {
  /** The open series' state, or loadingState() while none is open. */
  readonly state: LiveSeriesState;
  /** Follows `source` at the step `widthPx` fits: reopens only when bindingKey changes. */
  update(source: WidgetSource | null, widthPx: number): void;
  /** Closes the open series; later updates open a new one. */
  close(): void;
}

type Open = (client: GraphQLSubscriber, options: LiveSourceOptions) => LiveSeries;

/**
 * A widget's binding to live data on `live`'s socket. `onState` is called with every new
 * state of the open series, and with the first state of each series opened.
 */
export function createLiveBinding(
  live: LiveContext,
  onState: (state: LiveSeriesState) => void,
  open: Open = openLiveSource,
): LiveBinding {
  let key: string | null = null;
  let series: LiveSeries | null = null;
  let unsubscribe = () => {};
  let state = loadingState();

  const show = (next: LiveSeriesState) => {
    state = next;
    onState(next);
  };

  function stop() {
    unsubscribe();
    unsubscribe = () => {};
    series?.close();
    series = null;
    key = null;
  }

  return {
    get state() {
      return state;
    },
    update(source, widthPx) {
      const next = source ? bindingKey(source, widthPx) : null;
      if (next === key) return;
      stop();
      if (next === null || !source) return show(loadingState());
      key = next;
      const opened = open(live.client, { dashboardId: live.dashboardId, source, widthPx });
      series = opened;
      unsubscribe = opened.subscribe(show);
      show(opened.state);
    },
    close() {
      stop();
      state = loadingState();
    },
  };
}
