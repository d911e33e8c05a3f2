/**
 * The live series chart both clients draw (LD4), framework-free: uPlot on a canvas, one line
 * (or area, or set of bars) per series named by its labels, hover values with their time in
 * the legend, the x axis fixed to the window. Live batches call `setData` often, so data
 * alone goes through uPlot's own `setData`; the uPlot instance is rebuilt only when the
 * series set, the kind or the unit changes. The pure parts live in series-data.ts. Callers
 * import uPlot's stylesheet (`uplot/dist/uPlot.min.css`) beside widgets.css.
 */
import uPlot from 'uplot';
import type { ChartKind } from '@collab-dashboards/core';
import { SERIES_COLORS } from './chart.js';
import {
  alignSeries,
  formatSeriesValue,
  gapThreshold,
  legendNames,
  type SeriesData,
  type TimeWindow,
} from './series-data.js';

export const NO_SERIES_TEXT = 'No series match';
export const NO_POINTS_TEXT = 'No data in this window';

export interface SeriesChartOptions {
  kind?: ChartKind;
  /** Appended to every y value: axis ticks and hover values ("120 ms"). */
  unit?: string | null;
  /** IANA zone of the time axis and hover times ("Europe/Paris"); the viewer's own by default. */
  timeZone?: string;
  /** For numbers; the browser's by default. */
  locale?: string;
}

export interface SeriesChart {
  /** Draws `list` over `window` (a new list each time: the chart keeps no copy to diff). */
  setData(list: readonly SeriesData[], window: TimeWindow): void;
  setKind(kind: ChartKind): void;
  setUnit(unit: string | null | undefined): void;
  /** Fits the chart to its element now (a ResizeObserver does it on its own). */
  resize(): void;
  destroy(): void;
}

/** What the chart shows, on its root as `data-state`. */
export type SeriesChartState = 'idle' | 'no-series' | 'no-points' | 'drawn';

/** Used while the element has no height of its own (it grows with the chart). */
const DEFAULT_HEIGHT = 200;
const MIN_PLOT_HEIGHT = 60;
const MIN_WIDTH = 120;
const AXIS_GAP = 5;
const TICK_SIZE = 4;
/** Area under a line: the series colour at 18% (chart.ts's inline SVG charts use the same). */
const AREA_ALPHA = '2e';
/** Of the space between two timestamps, the share a group of bars takes. */
const BAR_GROUP = 0.8;
/** Hover times, in the clock of uPlot's time axis (12 h) with seconds. */
const HOVER_TIME = '{YYYY}-{MM}-{DD} {h}:{mm}:{ss}{aa}';

/** Draws live series into `element` (which it fills) until `destroy()`. */
export function createSeriesChart(element: HTMLElement, options: SeriesChartOptions = {}): SeriesChart {
  let kind: ChartKind = options.kind ?? 'line';
  let unit = options.unit ?? null;
  const { timeZone, locale } = options;

  const root = document.createElement('div');
  root.className = 'series-chart';
  root.dataset.state = 'idle';
  const message = document.createElement('p');
  message.className = 'series-chart-message';
  message.setAttribute('role', 'status');
  message.hidden = true;
  root.append(message);
  element.append(root);

  let list: readonly SeriesData[] = [];
  let shown: TimeWindow = { from: 0, to: 1 }; // the window drawn
  let plot: uPlot | null = null;
  let plotKey = ''; // kind, unit and series ids the plot was built for
  let barSpacing = 1; // ms between neighbouring timestamps, for the width of a group of bars
  let yAxisWidth = 0;
  let frame = 0;
  let destroyed = false;

  // Watches the element, and the legend of the plot in it.
  const observer = new ResizeObserver(() => {
    // A frame later: resizing inside the observer's callback would re-trigger it at once.
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(fit);
  });
  observer.observe(element);

  const colors = readColors(element);
  const measure = document.createElement('canvas').getContext('2d');
  const format = (value: number) => formatSeriesValue(value, unit, locale);

  function render() {
    if (list.length === 0) {
      dropPlot();
      show('no-series', NO_SERIES_TEXT);
      return;
    }
    const names = legendNames(list);
    const aligned = alignSeries(list, shown, gapThreshold(shown.step));
    barSpacing = spacingOf(aligned.x, shown);
    const data: uPlot.AlignedData = [aligned.x, ...aligned.ys];
    const key = JSON.stringify([kind, unit, list.map((d) => d.series.id), names]);
    if (plot && key === plotKey) {
      plot.setData(data); // rescales x to the (maybe moved) window through its range function
    } else {
      dropPlot();
      const size = sizeFor(0);
      plot = new uPlot(plotOptions(names, size), data, root);
      plotKey = key;
      // The legend can wrap onto more lines (a new width, live values): the plot yields to it.
      const legend = legendOf(plot);
      if (legend) observer.observe(legend);
      fit(); // now that the legend's height is known
    }
    if (aligned.points === 0) show('no-points', NO_POINTS_TEXT);
    else show('drawn', null);
  }

  function plotOptions(names: string[], size: { width: number; height: number }): uPlot.Options {
    return {
      ...size,
      ms: 1, // our timestamps are milliseconds, uPlot's default is seconds
      tzDate: timeZone ? (ts: number) => uPlot.tzDate(new Date(ts), timeZone) : undefined,
      // No drag-to-zoom: the window is the source's, and the next live batch would reset it.
      cursor: { drag: { x: false, y: false, setScale: false } },
      legend: { live: true },
      scales: {
        x: { time: true, range: (): uPlot.Range.MinMax => [shown.from, Math.max(shown.to, shown.from + 1)] },
        y: { range: yRange },
      },
      axes: [
        { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid, width: 1 } },
        {
          stroke: colors.text,
          grid: { stroke: colors.grid, width: 1 },
          ticks: { stroke: colors.grid, width: 1, size: TICK_SIZE },
          gap: AXIS_GAP,
          values: (_u, splits) => splits.map(format),
          size: yAxisSize,
        },
      ],
      series: [{ label: 'Time', value: HOVER_TIME }, ...names.map((name, i) => seriesOptions(name, i, names.length))],
    };
  }

  function seriesOptions(label: string, index: number, count: number): uPlot.Series {
    const color = SERIES_COLORS[index % SERIES_COLORS.length]!;
    const series: uPlot.Series = {
      label,
      stroke: color,
      width: 2,
      spanGaps: false,
      // uPlot passes null for a gap; the type says number.
      value: (_u, value: number | null) => (value === null ? '--' : format(value)),
    };
    if (kind === 'area') series.fill = color + AREA_ALPHA;
    if (kind === 'bar') {
      series.width = 0;
      series.fill = color;
      series.points = { show: false };
      series.paths = barsPath(index, count);
    }
    return series;
  }

  /** Bars side by side: series `index` of `count` gets its slot of the group around each t. */
  function barsPath(index: number, count: number): uPlot.Series.PathBuilder {
    const slot = () => (barSpacing * BAR_GROUP) / count;
    const offset = () => -(barSpacing * BAR_GROUP) / 2 + index * slot();
    return uPlot.paths.bars!({
      size: [1, Infinity, 1],
      disp: {
        x0: { unit: 1, values: (u) => (u.data[0] as number[]).map((t) => t + offset()) },
        size: { unit: 1, values: () => [slot() * 0.9] },
      },
    });
  }

  function yRange(_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax {
    if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
    // Bars and areas stand on 0.
    const low = kind === 'line' ? min : Math.min(0, min);
    const high = kind === 'line' ? max : Math.max(0, max);
    return uPlot.rangeNum(low, high, 0.1, true);
  }

  /** The y axis as wide as its widest value (units make them long: "1.5K req/s"). */
  function yAxisSize(u: uPlot, values: string[] | null, axisIndex: number, cycle: number): number {
    if (cycle > 1 && yAxisWidth > 0) return yAxisWidth; // settle: uPlot re-asks while it converges
    const font = u.axes[axisIndex]?.font as unknown;
    if (measure) measure.font = Array.isArray(font) ? String(font[0]) : String(font ?? '12px sans-serif');
    let widest = 0;
    for (const value of values ?? []) {
      if (value && measure) widest = Math.max(widest, measure.measureText(value).width / uPlot.pxRatio);
    }
    yAxisWidth = Math.ceil(widest) + AXIS_GAP + TICK_SIZE + 4;
    return yAxisWidth;
  }

  /** The plot's size in the element: all of its width, its height less the legend's. */
  function sizeFor(legendHeight: number): { width: number; height: number } {
    const width = element.clientWidth > 0 ? Math.max(MIN_WIDTH, element.clientWidth) : 300;
    const total = element.clientHeight > 0 ? element.clientHeight : DEFAULT_HEIGHT + legendHeight;
    return { width, height: Math.max(MIN_PLOT_HEIGHT, total - legendHeight) };
  }

  function fit() {
    if (!plot || element.clientWidth === 0) return; // hidden: keep the last size
    const size = sizeFor(legendOf(plot)?.offsetHeight ?? 0);
    if (size.width !== plot.width || size.height !== plot.height) plot.setSize(size);
    message.style.height = `${plot.height}px`;
  }

  function show(state: SeriesChartState, text: string | null) {
    root.dataset.state = state;
    message.hidden = text === null;
    message.textContent = text ?? '';
    message.classList.toggle('series-chart-overlay', plot !== null);
    if (!plot) message.style.height = '';
  }

  function dropPlot() {
    const legend = plot && legendOf(plot);
    if (legend) observer.unobserve(legend);
    plot?.destroy();
    plot = null;
    plotKey = '';
  }

  return {
    setData(next, nextWindow) {
      if (destroyed) return;
      list = next;
      shown = { ...nextWindow };
      render();
    },
    setKind(next) {
      if (destroyed || next === kind) return;
      kind = next;
      if (plot) render();
    },
    setUnit(next) {
      if (destroyed || (next ?? null) === unit) return;
      unit = next ?? null;
      if (plot) render();
    },
    resize: fit,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      observer.disconnect();
      cancelAnimationFrame(frame);
      dropPlot();
      root.remove();
    },
  };
}

function legendOf(plot: uPlot): HTMLElement | null {
  return plot.root.querySelector<HTMLElement>('.u-legend');
}

/** The smallest distance between neighbouring timestamps (ms); a 20th of the window for one. */
function spacingOf(x: readonly number[], window: TimeWindow): number {
  let spacing = Infinity;
  for (let i = 1; i < x.length; i++) spacing = Math.min(spacing, x[i]! - x[i - 1]!);
  if (window.step) spacing = Math.min(spacing, window.step);
  return Number.isFinite(spacing) ? spacing : Math.max(1, (window.to - window.from) / 20);
}

/** Axis colours from the page's theme (widgets.css), which a canvas cannot read as var(). */
function readColors(element: HTMLElement): { text: string; grid: string } {
  const style = getComputedStyle(element);
  const read = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return { text: read('--muted', '#6b7285'), grid: read('--border', '#e2e5ee') };
}
