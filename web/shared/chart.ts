/**
 * Chart geometry for the inline SVG charts (pure; both clients draw it through
 * widget-view.ts): series points scaled into a width x height box.
 */
import type { ChartKind } from '@collab-dashboards/core';

export interface ChartShape {
  name: string;
  color: string;
  /** `d` of the line (line, area) or of the bars. */
  path: string;
  /** Closed area under the line (area only). */
  fill?: string;
}

/** The data range a chart's box spans (y starts at 0 or below: bars and areas stand on 0). */
export interface ChartScales {
  x: { min: number; max: number };
  y: { min: number; max: number };
}

export interface ChartGeometry {
  /** One shape per series, in the series' order. */
  shapes: ChartShape[];
  /** Null when there is no point to draw. */
  scales: ChartScales | null;
}

export const SERIES_COLORS = ['#4f46e5', '#0ea5e9', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6'];

interface Series {
  name?: unknown;
  points?: unknown;
}

function pointsOf(series: Series): [number, number][] {
  if (!Array.isArray(series.points)) return [];
  return series.points.filter(
    (p): p is [number, number] => Array.isArray(p) && p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]),
  );
}

/** The shapes of a chart widget's `series` config, drawn into a `width` x `height` box. */
export function chartShapes(kind: ChartKind, seriesList: unknown, width: number, height: number): ChartShape[] {
  return chartGeometry(kind, seriesList, width, height).shapes;
}

/** The shapes of a chart widget's `series` config and the data range they span. */
export function chartGeometry(kind: ChartKind, seriesList: unknown, width: number, height: number): ChartGeometry {
  const list = (Array.isArray(seriesList) ? seriesList : []) as Series[];
  const all = list.flatMap(pointsOf);
  if (all.length === 0) return { shapes: [], scales: null };
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const [minX, maxX] = [Math.min(...xs), Math.max(...xs)];
  const minY = Math.min(0, ...ys);
  const maxY = Math.max(...ys, minY + 1);
  const pad = 4;
  const sx = (x: number) => pad + ((x - minX) / (maxX - minX || 1)) * (width - 2 * pad);
  const sy = (y: number) => height - pad - ((y - minY) / (maxY - minY)) * (height - 2 * pad);
  const round = (n: number) => Math.round(n * 10) / 10;
  const shapes = list.map((series, index): ChartShape => {
    const color = SERIES_COLORS[index % SERIES_COLORS.length]!;
    const name = typeof series.name === 'string' ? series.name : `Series ${index + 1}`;
    const points = pointsOf(series).sort((a, b) => a[0] - b[0]);
    if (kind === 'bar') {
      const slots = Math.max(1, new Set(xs).size) * list.length;
      const bar = Math.max(2, (width - 2 * pad) / slots - 2);
      const path = points
        .map(([x, y]) => {
          const left = sx(x) - (bar * list.length) / 2 + bar * index;
          const top = sy(Math.max(y, 0));
          const bottom = sy(Math.min(y, 0));
          return `M${round(left)} ${round(bottom)}V${round(top)}h${round(bar)}V${round(bottom)}Z`;
        })
        .join('');
      return { name, color, path };
    }
    const path = points.map(([x, y], i) => `${i ? 'L' : 'M'}${round(sx(x))} ${round(sy(y))}`).join('');
    if (kind === 'area' && points.length > 0) {
      const base = round(sy(Math.max(minY, 0)));
      const fill = `${path}L${round(sx(points[points.length - 1]![0]))} ${base}L${round(sx(points[0]![0]))} ${base}Z`;
      return { name, color, path, fill };
    }
    return { name, color, path };
  });
  return { shapes, scales: { x: { min: minX, max: maxX }, y: { min: minY, max: maxY } } };
}
