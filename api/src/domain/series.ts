/**
 * Series and points (DESIGN.md section 10): what a pushed point may be (rule LD1) and how a
 * series is identified and matched (LD2, LD3). Pure: the clock and the limits come in as
 * arguments. Every refusal names the index of the first bad point, so an integrator can find
 * it in a batch of ten thousand.
 */
import { DomainError, badInput } from '../errors.js';

export const MAX_POINTS_PER_REQUEST = 10_000;
export const MAX_SERIES_PER_DASHBOARD = 10_000;
export const MAX_NAME_LENGTH = 200;
export const MAX_LABELS = 16;
export const MAX_LABEL_VALUE_LENGTH = 256;
/** How far ahead of the server's clock a point may be (clock skew between pushers). */
export const MAX_FUTURE_MS = 5 * 60_000;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type Labels = Readonly<Record<string, string>>;

/** A point as pushed (GraphQL PointInput, REST body, or decoded remote write). */
export interface PointInput {
  series: unknown;
  labels?: unknown;
  t?: unknown;
  v: unknown;
}

/** A point that passed LD1: `labels` canonical (keys sorted), `key` names its series. */
export interface Point {
  name: string;
  labels: Labels;
  key: string;
  t: number;
  v: number;
}

export interface PointRules {
  now: number;
  retentionMs: number;
}

/**
 * The identity of a series within a dashboard: its name and its labels with keys sorted, so
 * `{a, b}` and `{b, a}` are one series.
 */
export function seriesKey(name: string, labels: Labels): string {
  return JSON.stringify([
    name,
    ...Object.keys(labels)
      .sort()
      .flatMap((k) => [k, labels[k]]),
  ]);
}

/** The labels with keys in sorted order (how they are stored and returned). */
export function canonicalLabels(labels: Labels): Labels {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
  return out;
}

/** Whether `labels` holds every pair of `subset` (SeriesMatch.labels: a subset, matched exactly). */
export function labelsMatch(subset: Labels | null | undefined, labels: Labels): boolean {
  if (!subset) return true;
  return Object.entries(subset).every(([k, v]) => labels[k] === v);
}

/** Checks a series name; returns why it is refused, or null. */
export function nameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'the series name must be a non-empty string';
  if (name.length > MAX_NAME_LENGTH) return `the series name is longer than ${MAX_NAME_LENGTH} characters`;
  if (!NAME.test(name)) return `the series name "${name}" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`;
  return null;
}

/** Checks a label set; returns why it is refused, or null. */
export function labelsProblem(labels: unknown): string | null {
  if (labels === undefined || labels === null) return null;
  if (typeof labels !== 'object' || Array.isArray(labels)) return 'labels must be an object of strings';
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) return `more than ${MAX_LABELS} labels`;
  for (const [k, v] of entries) {
    if (!LABEL_NAME.test(k)) return `the label name "${k}" is not [a-zA-Z_][a-zA-Z0-9_]*`;
    if (k.startsWith('__')) return `the label name "${k}" starts with "__" (reserved)`;
    if (typeof v !== 'string') return `the label "${k}" must be a string`;
    if (v.length > MAX_LABEL_VALUE_LENGTH)
      return `the label "${k}" is longer than ${MAX_LABEL_VALUE_LENGTH} characters`;
  }
  return null;
}

function pointProblem(point: PointInput, rules: PointRules): string | null {
  const name = nameProblem(point.series);
  if (name) return name;
  const labels = labelsProblem(point.labels);
  if (labels) return labels;
  if (typeof point.v !== 'number' || !Number.isFinite(point.v)) return 'v must be a finite number';
  if (point.t !== undefined && point.t !== null) {
    if (typeof point.t !== 'number' || !Number.isInteger(point.t))
      return 't must be integer milliseconds since the epoch';
    if (point.t < rules.now - rules.retentionMs) return 't is older than the retention';
    if (point.t > rules.now + MAX_FUTURE_MS) return 't is more than 5 minutes ahead of the server clock';
  }
  return null;
}

/**
 * Rule LD1: the request's points, all of them valid, or a refusal naming the first bad one
 * (PAYLOAD_TOO_LARGE over MAX_POINTS_PER_REQUEST, else BAD_USER_INPUT with `index`). A point
 * without `t` takes `rules.now`.
 */
export function validatePoints(points: readonly PointInput[], rules: PointRules): Point[] {
  if (points.length > MAX_POINTS_PER_REQUEST) {
    throw new DomainError(
      'PAYLOAD_TOO_LARGE',
      `${points.length} points in one request; at most ${MAX_POINTS_PER_REQUEST}`,
      { limit: MAX_POINTS_PER_REQUEST },
    );
  }
  return points.map((point, index) => {
    const problem = pointProblem(point, rules);
    if (problem) throw new DomainError('BAD_USER_INPUT', `Point ${index}: ${problem}`, { index });
    const labels = canonicalLabels((point.labels ?? {}) as Labels);
    const name = point.series as string;
    const t = typeof point.t === 'number' ? point.t : rules.now;
    return { name, labels, key: seriesKey(name, labels), t, v: point.v as number };
  });
}

/**
 * A SeriesMatch as a reader gives it (GraphQL input: `labels` is the JSON scalar), checked,
 * labels in canonical order; BAD_USER_INPUT naming `where` ("match", "match[2]") otherwise.
 */
export function checkMatch(
  match: { name: string; labels?: unknown },
  where = 'match',
): { name: string; labels: Labels | null } {
  if (typeof match.name !== 'string' || match.name === '') throw badInput(`${where}.name must be a series name`);
  const labels = match.labels ?? null;
  if (labels === null) return { name: match.name, labels: null };
  if (typeof labels !== 'object' || Array.isArray(labels) || Object.values(labels).some((v) => typeof v !== 'string')) {
    throw badInput(`${where}.labels must be an object of strings`);
  }
  return { name: match.name, labels: canonicalLabels(labels as Labels) };
}
