/**
 * The live series chart in the React editor: a thin shell over the framework-free chart
 * (web/shared/series-chart.ts), which draws with uPlot. Created once per time zone and
 * locale; kind, unit and data go to it as they change. Pass a new `data` list for new
 * points: the chart is updated when the list (or the window's ends) change, not when a list
 * is mutated in place.
 */
import { useEffect, useRef, useState } from 'react';
import type { ChartKind } from '@collab-dashboards/core';
import 'uplot/dist/uPlot.min.css';
import { createSeriesChart, type SeriesChart as Chart } from '../shared/series-chart.js';
import type { SeriesData, TimeWindow } from '../shared/series-data.js';

export interface SeriesChartProps {
  data: readonly SeriesData[];
  window: TimeWindow;
  kind?: ChartKind;
  unit?: string | null;
  /** IANA zone of the time axis; the viewer's own by default. */
  timeZone?: string;
  locale?: string;
}

export function SeriesChart({ data, window: range, kind = 'line', unit = null, timeZone, locale }: SeriesChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const [chart, setChart] = useState<Chart | null>(null);
  const { from, to, step } = range;

  useEffect(() => {
    const created = createSeriesChart(host.current!, { timeZone, locale });
    setChart(created);
    return () => created.destroy();
  }, [timeZone, locale]);

  // In this order, so a new chart gets its kind and unit before its first data.
  useEffect(() => chart?.setKind(kind), [chart, kind]);
  useEffect(() => chart?.setUnit(unit), [chart, unit]);
  useEffect(() => chart?.setData(data, { from, to, step }), [chart, data, from, to, step]);

  return <div ref={host} className="series-chart-host" data-testid="series-chart" />;
}
