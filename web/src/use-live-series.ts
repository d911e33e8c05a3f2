/**
 * The live data of one bound widget (DESIGN.md 10, LD4, LD5) as React state: the shared binding
 * (web/shared/live-binding.ts, which the Vue viewer uses too) on the editor's one socket. It
 * reopens the series exactly when what it reads changes (the source, which a collaborator's
 * edit can rebind, or the step the width fits) and closes it when the widget unmounts.
 */
import { useEffect, useState } from 'react';
import { createLiveBinding, loadingState, type LiveBinding, type LiveContext } from '../shared/live-binding.js';
import type { LiveSeriesState, WidgetSource } from '../shared/live-series.js';

/** Follows `source` at the step `widthPx` fits while the widget is mounted (loading until then). */
export function useLiveSeries(live: LiveContext | null, source: WidgetSource | null, widthPx: number): LiveSeriesState {
  const [state, setState] = useState(loadingState);
  const [binding, setBinding] = useState<LiveBinding | null>(null);
  useEffect(() => {
    if (!live) return;
    const made = createLiveBinding(live, setState);
    setBinding(made);
    return () => {
      made.close();
      setBinding(null);
      setState(loadingState());
    };
  }, [live]);
  // Cheap when nothing changed: the binding compares what the series reads.
  useEffect(() => binding?.update(source, widthPx));
  return state;
}
