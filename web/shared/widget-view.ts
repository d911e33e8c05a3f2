/**
 * What a widget draws, decided once for every client (CONVENTIONS.md 17): the React editor
 * (widget-body.tsx) and the Vue viewer (viewer.ts) only turn this view model into elements.
 * A widget's config is untrusted JSON; missing or mistyped keys read as empty, as they
 * always have.
 */
import type { ChartKind, Widget } from '@collab-dashboards/core';
import { chartGeometry, type ChartScales } from './chart.js';
import { metricView, type MetricView } from './metric-format.js';

/** The box chart shapes are drawn in: the SVG's viewBox, stretched to the tile. */
export const CHART_BOX = { width: 300, height: 140 } as const;

const CHART_KINDS: readonly ChartKind[] = ['line', 'bar', 'area'];

/** One series as drawn: a line (or bars) and, for an area chart, the area under it. */
export interface ChartSeriesView {
  name: string;
  color: string;
  /** `d` of the line or of the bars. */
  path: string;
  /** Bars are filled with the series colour, lines stroked with it. */
  paint: { fill: string; stroke: string; strokeWidth: number };
  /** The area under the line (area charts only), filled with `color` at `opacity`. */
  area: { path: string; opacity: number } | null;
}

export interface ChartView {
  kind: ChartKind;
  /** The SVG's viewBox (CHART_BOX). */
  viewBox: string;
  /** What the picture is, for screen readers: "line chart". */
  label: string;
  /** In drawing order; empty when there is no point to draw. */
  series: ChartSeriesView[];
  /** One entry per series, in order. */
  legend: { name: string; color: string }[];
  /** The data range the box spans; null when empty. */
  scales: ChartScales | null;
  /** Shown instead of the chart when there is nothing to draw, else null. */
  placeholder: string | null;
}

export interface TableView {
  columns: string[];
  /** Cells as text (a missing value is an empty cell). */
  rows: string[][];
}

/** The widget's body, by type. */
export type WidgetBodyView =
  | { type: 'note'; text: string }
  | { type: 'metric'; metric: MetricView }
  | { type: 'chart'; chart: ChartView }
  | { type: 'table'; table: TableView }
  | { type: 'unsupported'; message: string };

export type WidgetView = WidgetBodyView & {
  /** The header: the widget's title, or its kind when it has none ("Metric"). */
  title: string;
};

/** A widget kind as people read it: "metric" -> "Metric". */
export function kindLabel(type: string): string {
  return type.charAt(0).toUpperCase() + type.slice(1);
}

/** The header of a widget: its title, or its kind. */
export function widgetTitle(widget: Pick<Widget, 'title' | 'type'>): string {
  return widget.title || kindLabel(widget.type);
}

/** What to draw for `widget`. `locale` (for metric figures) defaults to the browser's. */
export function widgetView(widget: Widget, locale?: string): WidgetView {
  return { ...widgetBodyView(widget, locale), title: widgetTitle(widget) };
}

function widgetBodyView(widget: Widget, locale?: string): WidgetBodyView {
  const config = widget.config;
  switch (widget.type) {
    case 'note':
      return { type: 'note', text: widget.text };
    case 'metric':
      return { type: 'metric', metric: metricView(config, locale) };
    case 'chart':
      return { type: 'chart', chart: chartView(config) };
    case 'table':
      return { type: 'table', table: tableView(config) };
    default:
      return { type: 'unsupported', message: `Unsupported widget type “${widget.type}”.` };
  }
}

/** A chart widget's config (`kind`, `series: [{ name, points: [[x, y], ...] }]`) as drawn. */
export function chartView(config: Record<string, unknown>): ChartView {
  const kind = CHART_KINDS.includes(config.kind as ChartKind) ? (config.kind as ChartKind) : 'line';
  const { shapes, scales } = chartGeometry(kind, config.series, CHART_BOX.width, CHART_BOX.height);
  const series = shapes.map((s): ChartSeriesView => ({
    name: s.name,
    color: s.color,
    path: s.path,
    paint:
      kind === 'bar'
        ? { fill: s.color, stroke: 'none', strokeWidth: 0 }
        : { fill: 'none', stroke: s.color, strokeWidth: 2 },
    area: s.fill ? { path: s.fill, opacity: 0.18 } : null,
  }));
  return {
    kind,
    viewBox: `0 0 ${CHART_BOX.width} ${CHART_BOX.height}`,
    label: `${kind} chart`,
    series,
    legend: series.map(({ name, color }) => ({ name, color })),
    scales,
    placeholder: series.length === 0 ? 'No data yet.' : null,
  };
}

/** A table widget's config (`columns`, `rows`) as text cells. */
export function tableView(config: Record<string, unknown>): TableView {
  const columns = Array.isArray(config.columns) ? config.columns.map(String) : [];
  const rows = Array.isArray(config.rows) ? config.rows.filter(Array.isArray) : [];
  return {
    columns,
    rows: rows.map((row: unknown[]) => row.map((cell) => (cell === null || cell === undefined ? '' : String(cell)))),
  };
}
