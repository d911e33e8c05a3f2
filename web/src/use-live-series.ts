/**
 * The live data of one bound widget (DESIGN.md 10, LD4) as React state: a thin hook over the
 * shared openLiveSeries (web/shared/live-series.ts), on the editor's one socket.
 */
import { useEffect, useEffectEvent, useState } from 'react';
import type { GraphQLSubscriber } from '@collab-dashboards/core';
import {
  openLiveSeries,
  sourceKey,
  sourceStep,
  type LiveSeriesState,
  type SeriesSource,
} from '../shared/live-series.js';

/** What a widget needs to read live data: the editor's socket and the dashboard it shows. */
export interface LiveContext {
  client: GraphQLSubscriber;
  dashboardId: string;
}

/**
 * Follows `source` while the widget is mounted; null until the first state (and while the
 * width is unknown, since the step is fitted to it). The series is closed and opened again
 * exactly when what it reads changes: the dashboard, the source (a collaborator rebinding
 * the widget arrives as an op and re-renders), or the step its width fits; not on every
 * pixel of a resize, nor when an equal source is parsed again from a new config object.
 */
export function useLiveSeries(
  live: LiveContext | null,
  source: SeriesSource | null,
  widthPx: number,
): LiveSeriesState | null {
  const client = live?.client ?? null;
  const step = source && widthPx > 0 ? sourceStep(source, widthPx) : 0;
  // What the open series reads; its states are shown only while it still matches.
  const token = live && source && step > 0 ? JSON.stringify([live.dashboardId, sourceKey(source), step]) : null;
  const [shown, setShown] = useState<{ token: string; state: LiveSeriesState } | null>(null);
  // Reads this render's source and width: they fit the step the effect below keys on.
  const open = useEffectEvent(() =>
    openLiveSeries(client!, { dashboardId: live!.dashboardId, source: source!, widthPx }),
  );
  useEffect(() => {
    if (!client || token === null) return;
    const series = open();
    const show = (state: LiveSeriesState) => setShown({ token, state });
    show(series.state);
    const unsubscribe = series.subscribe(show);
    return () => {
      unsubscribe();
      series.close();
    };
  }, [client, token]);
  return shown !== null && shown.token === token ? shown.state : null;
}
