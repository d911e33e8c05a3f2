/**
 * The dashboard document model (DESIGN.md section 5): its types, its shape rules (rule
 * OP5) and small read-side helpers. Pure data, no I/O.
 */
import { codePointLength } from './text.js';
import { platform } from './platform.js';

/** Known widget types; any other non-empty string is accepted (integrators extend). */
export type WidgetType = 'note' | 'metric' | 'chart' | 'table' | (string & {});

export interface Widget {
  id: string;
  type: WidgetType;
  title: string;
  /** Grid units; x, y >= 0 and w, h > 0. */
  x: number;
  y: number;
  w: number;
  h: number;
  config: Record<string, unknown>;
  /** The note body (ot-text-unicode edits); empty for other types. */
  text: string;
}

export interface DashboardDocument {
  title: string;
  widgets: Record<string, Widget>; // widget id -> widget
  /** Widget ids in z/reading order. May name a removed widget or miss one (rule OP5). */
  layout: string[];
}

export interface MetricConfig {
  value: number;
  unit?: string;
  label?: string;
  delta?: number;
  /** A fall is good news (latency, error rate): renderers colour a negative delta good. */
  lowerIsBetter?: boolean;
}

export type ChartKind = 'line' | 'bar' | 'area';
export interface ChartSeries {
  name: string;
  points: [number, number][];
}
export interface ChartConfig {
  kind: ChartKind;
  series: ChartSeries[];
}

export interface TableConfig {
  columns: string[];
  rows: unknown[][];
}

export const MAX_TITLE_LENGTH = 200;
export const MAX_TEXT_LENGTH = 100_000;
export const MAX_WIDGETS = 500;

const DOCUMENT_KEYS = ['title', 'widgets', 'layout'];
const WIDGET_KEYS = ['id', 'type', 'title', 'x', 'y', 'w', 'h', 'config', 'text'];
const CHART_KINDS: readonly string[] = ['line', 'bar', 'area'];

/** An empty dashboard document. */
export function createDocument(title: string): DashboardDocument {
  return { title, widgets: {}, layout: [] };
}

/**
 * Checks that `doc` has the dashboard shape (rule OP5). Returns null when it does, else a
 * message naming the first path that breaks, e.g. `widgets.w1.x must be a finite number`.
 *
 * Layout ids without a widget and widgets missing from the layout are tolerated: ops that
 * were each valid can produce them once transformed (rule OP3). For the same reason, pass
 * `before` (the document the op was applied to) when validating an op's result: the size
 * limits and layout uniqueness then reject only what the op made worse, so a document
 * that concurrent ops pushed past a limit can still be edited back under it.
 */
export function validateDocument(doc: unknown, before?: DashboardDocument): string | null {
  if (!isPlainObject(doc)) return 'document must be an object';
  const keys = exactKeys(doc, DOCUMENT_KEYS, 'document');
  if (keys) return keys;
  const { title, widgets, layout } = doc;

  if (typeof title !== 'string') return 'title must be a string';
  if (overLimit(title, MAX_TITLE_LENGTH) && title !== before?.title) {
    return `title must be at most ${MAX_TITLE_LENGTH} characters`;
  }

  if (!isPlainObject(widgets)) return 'widgets must be an object';
  const ids = Object.keys(widgets);
  if (ids.length > MAX_WIDGETS && ids.length > Object.keys(before?.widgets ?? {}).length) {
    return `widgets must hold at most ${MAX_WIDGETS} widgets`;
  }
  for (const id of ids) {
    const previous = before && Object.hasOwn(before.widgets, id) ? before.widgets[id] : undefined;
    const problem = validateWidget(widgets[id], `widgets.${id}`, previous);
    if (problem) return problem;
    if ((widgets[id] as Widget).id !== id) return `widgets.${id}.id must equal its key`;
  }

  if (!Array.isArray(layout)) return 'layout must be an array';
  const index = layout.findIndex((id) => typeof id !== 'string');
  if (index >= 0) return `layout[${index}] must be a string`;
  if (duplicateCount(layout) > duplicateCount(before?.layout ?? [])) return 'layout must not repeat a widget id';
  return null;
}

/**
 * Checks one widget (see validateDocument), reporting paths under `path`. `before` is the
 * same widget before an op, which relaxes the text and title limits as validateDocument
 * describes.
 */
export function validateWidget(widget: unknown, path = 'widget', before?: Widget): string | null {
  if (!isPlainObject(widget)) return `${path} must be an object`;
  const keys = exactKeys(widget, WIDGET_KEYS, path);
  if (keys) return keys;
  if (typeof widget.id !== 'string' || widget.id === '') return `${path}.id must be a non-empty string`;
  if (typeof widget.type !== 'string' || widget.type === '') return `${path}.type must be a non-empty string`;
  if (typeof widget.title !== 'string') return `${path}.title must be a string`;
  if (overLimit(widget.title, MAX_TITLE_LENGTH) && widget.title !== before?.title) {
    return `${path}.title must be at most ${MAX_TITLE_LENGTH} characters`;
  }
  for (const key of ['x', 'y', 'w', 'h'] as const) {
    const value = widget[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) return `${path}.${key} must be a finite number`;
    if ((key === 'w' || key === 'h') && value <= 0) return `${path}.${key} must be greater than 0`;
    if ((key === 'x' || key === 'y') && value < 0) return `${path}.${key} must not be negative`;
  }
  if (typeof widget.text !== 'string') return `${path}.text must be a string`;
  if (overLimit(widget.text, MAX_TEXT_LENGTH) && codePointLength(widget.text) > codePointLength(before?.text ?? '')) {
    return `${path}.text must be at most ${MAX_TEXT_LENGTH} code points`;
  }
  if (!isPlainObject(widget.config)) return `${path}.config must be an object`;
  return validateConfig(widget.type, widget.config, `${path}.config`);
}

/** Loose per-type config checks: known keys must have the right shape, extra keys pass. */
function validateConfig(type: string, config: Record<string, unknown>, path: string): string | null {
  if (type === 'metric') {
    if (Object.hasOwn(config, 'value') && !isFiniteNumber(config.value)) return `${path}.value must be a finite number`;
  } else if (type === 'chart') {
    if (Object.hasOwn(config, 'kind') && !CHART_KINDS.includes(config.kind as string)) {
      return `${path}.kind must be one of ${CHART_KINDS.join(', ')}`;
    }
    if (Object.hasOwn(config, 'series')) {
      if (!Array.isArray(config.series)) return `${path}.series must be an array`;
      for (const [i, series] of config.series.entries()) {
        const at = `${path}.series[${i}]`;
        if (!isPlainObject(series)) return `${at} must be an object`;
        if (typeof series.name !== 'string') return `${at}.name must be a string`;
        if (!Array.isArray(series.points)) return `${at}.points must be an array`;
        const bad = series.points.findIndex(
          (p: unknown) => !Array.isArray(p) || p.length !== 2 || !isFiniteNumber(p[0]) || !isFiniteNumber(p[1]),
        );
        if (bad >= 0) return `${at}.points[${bad}] must be a pair of finite numbers`;
      }
    }
  } else if (type === 'table') {
    if (Object.hasOwn(config, 'columns')) {
      if (!Array.isArray(config.columns)) return `${path}.columns must be an array`;
      const bad = config.columns.findIndex((c: unknown) => typeof c !== 'string');
      if (bad >= 0) return `${path}.columns[${bad}] must be a string`;
    }
    if (Object.hasOwn(config, 'rows')) {
      if (!Array.isArray(config.rows)) return `${path}.rows must be an array`;
      const bad = config.rows.findIndex((r: unknown) => !Array.isArray(r));
      if (bad >= 0) return `${path}.rows[${bad}] must be an array`;
    }
  }
  return null;
}

/**
 * The order renderers should draw widgets in: layout ids that have a widget, then the
 * widgets the layout misses (sorted by id, so every client agrees). Repeated ids count once.
 */
export function normalizeLayout(doc: DashboardDocument): string[] {
  const seen = new Set<string>();
  for (const id of doc.layout) if (Object.hasOwn(doc.widgets, id)) seen.add(id);
  const missing = Object.keys(doc.widgets)
    .filter((id) => !seen.has(id))
    .sort();
  return [...seen, ...missing];
}

const DEFAULT_SIZES: Record<string, [w: number, h: number]> = {
  note: [4, 3],
  metric: [2, 2],
  chart: [6, 4],
  table: [6, 4],
};

/**
 * A complete widget of `type` with a fresh random id and per-type defaults (empty note,
 * metric value 0, empty line chart, empty table), overridden by `partial`. A partial
 * `config` is merged over the default config.
 */
export function newWidget(type: WidgetType, partial: Partial<Widget> = {}): Widget {
  const [w, h] = DEFAULT_SIZES[type] ?? [4, 3];
  return {
    id: platform.crypto.randomUUID().replaceAll('-', '').slice(0, 16),
    type,
    title: '',
    x: 0,
    y: 0,
    w,
    h,
    text: '',
    ...partial,
    config: { ...defaultConfig(type), ...partial.config },
  };
}

function defaultConfig(type: WidgetType): Record<string, unknown> {
  switch (type) {
    case 'metric':
      return { value: 0 } satisfies MetricConfig;
    case 'chart':
      return { kind: 'line', series: [] } satisfies ChartConfig;
    case 'table':
      return { columns: [], rows: [] } satisfies TableConfig;
    default:
      return {};
  }
}

/** A JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A number other than NaN and the infinities. */
export function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function exactKeys(value: Record<string, unknown>, expected: string[], path: string): string | null {
  const missing = expected.find((key) => !Object.hasOwn(value, key));
  if (missing) return `${path === 'document' ? '' : `${path}.`}${missing} is missing`;
  const extra = Object.keys(value).find((key) => !expected.includes(key));
  if (extra) return `${path} has an unexpected key ${JSON.stringify(extra)}`;
  return null;
}

// Counting code points is linear; a string no longer than the limit in UTF-16 units is
// within it, so most strings are never counted.
function overLimit(text: string, limit: number): boolean {
  return text.length > limit && codePointLength(text) > limit;
}

function duplicateCount(ids: readonly unknown[]): number {
  return ids.length - new Set(ids).size;
}
