/**
 * What the query editor (query-editor.tsx) shows and writes, pure (DESIGN.md 10, LD5): the
 * next `config.source` for a data source query, the step choices, how a draft follows the
 * bound query without losing what was typed, and the completions of the name being typed in
 * a PromQL expression (the upstream's metric names, and PromQL's functions and aggregations).
 */
import { DEFAULT_WINDOW_SECONDS, MAX_EXPR_LENGTH, type QuerySource, type WidgetSource } from '../shared/live-series.js';
import { fitStep } from '../shared/series-data.js';
import { windowChoices } from './source-edit.js';

type RawSource = Record<string, unknown>;

/** The query being edited, before it is applied (window and step in seconds, as stored). */
export interface QueryDraft {
  datasource: string;
  expr: string;
  window: number;
  /** null: "auto", the step the widget's width fits. */
  step: number | null;
}

/** The steps a user picks from (seconds); null is "auto". */
export const STEP_CHOICES: ReadonlyArray<{ seconds: number | null; label: string }> = [
  { seconds: null, label: 'auto' },
  { seconds: 1, label: '1 s' },
  { seconds: 5, label: '5 s' },
  { seconds: 15, label: '15 s' },
  { seconds: 30, label: '30 s' },
  { seconds: 60, label: '1 m' },
  { seconds: 300, label: '5 m' },
  { seconds: 900, label: '15 m' },
  { seconds: 3600, label: '1 h' },
];

/** The step select's choices, with the source's own step among them when it is another. */
export function stepChoices(seconds: number | null): ReadonlyArray<{ seconds: number | null; label: string }> {
  if (STEP_CHOICES.some((choice) => choice.seconds === seconds)) return STEP_CHOICES;
  return [...STEP_CHOICES, { seconds, label: `${seconds} s` }].sort((a, b) => (a.seconds ?? 0) - (b.seconds ?? 0));
}

/** The draft a widget starts from: its query, or an empty one on the first data source. */
export function draftOf(source: WidgetSource | null, datasources: readonly string[]): QueryDraft {
  if (source?.kind === 'query') {
    const { datasource, expr, window, step } = source;
    return { datasource, expr, window, step };
  }
  return { datasource: datasources[0] ?? '', expr: '', window: source?.window ?? DEFAULT_WINDOW_SECONDS, step: null };
}

function rawSource(current: unknown): RawSource | null {
  return typeof current === 'object' && current !== null && !Array.isArray(current) ? (current as RawSource) : null;
}

/**
 * The source that reads `draft`: its data source and expression, its window when it is not
 * the default (or the widget had one written), its step unless "auto". Null when the widget
 * reads exactly that already (nothing to change).
 */
export function bindQuery(current: unknown, draft: QueryDraft): RawSource | null {
  const raw = rawSource(current) ?? {};
  const next: RawSource = { datasource: draft.datasource, expr: draft.expr.trim() };
  if (draft.window !== DEFAULT_WINDOW_SECONDS || raw.window !== undefined) next.window = draft.window;
  if (draft.step !== null) next.step = draft.step;
  return JSON.stringify(next) === JSON.stringify(raw) ? null : next;
}

/** Whether two drafts read the same query (the expression as it would be written, trimmed). */
export function sameQuery(a: QueryDraft, b: QueryDraft): boolean {
  return a.datasource === b.datasource && a.expr.trim() === b.expr.trim() && a.window === b.window && a.step === b.step;
}

/**
 * The draft once what it was started from changes from `from` to `to` (an undo, a collaborator,
 * an apply): a field the user left as it was follows, a field the user changed and has not
 * applied stays as typed. Nothing the user typed is ever replaced by a change of another field.
 */
export function rebaseDraft(draft: QueryDraft, from: QueryDraft, to: QueryDraft): QueryDraft {
  const keep = <K extends keyof QueryDraft>(key: K): QueryDraft[K] => (draft[key] === from[key] ? to[key] : draft[key]);
  return { datasource: keep('datasource'), expr: keep('expr'), window: keep('window'), step: keep('step') };
}

/** Why a draft cannot be applied as it is, or null when the server may judge it. */
export function draftProblem(draft: QueryDraft): string | null {
  if (draft.datasource === '') return 'Pick a data source.';
  const expr = draft.expr.trim();
  if (expr === '') return 'Type a PromQL expression.';
  if (expr.length > MAX_EXPR_LENGTH) return `An expression may be at most ${MAX_EXPR_LENGTH} characters.`;
  return null;
}

/**
 * The queryData variables that check a draft before it is bound: its window up to now, at its
 * step, or at the step a widget about `widthPx` wide would fit (the widget's own width decides
 * later; any step proves the expression).
 */
export function checkRange(draft: QueryDraft, now: number, widthPx = 600): { from: number; step: number } {
  const windowMs = draft.window * 1000;
  return { from: now - windowMs, step: draft.step !== null ? draft.step * 1000 : fitStep(windowMs, widthPx) };
}

/** How a status line names a bound query. */
export function queryLabel(source: QuerySource): string {
  return `${source.expr} (${source.datasource})`;
}

/** A query's window and step as its selects name them: `5 m at a 1 s step`, `15 m at an auto step`. */
export function rangeLabel(source: Pick<QuerySource, 'window' | 'step'>): string {
  const window = windowChoices(source.window).find((choice) => choice.seconds === source.window)!.label;
  const step = stepChoices(source.step).find((choice) => choice.seconds === source.step)!.label;
  return `${window} at ${step === 'auto' ? 'an auto' : `a ${step}`} step`;
}

// ---- completions ------------------------------------------------------------------------

/** PromQL's functions and aggregation operators, offered beside the metric names. */
export const PROMQL_FUNCTIONS: readonly string[] = [
  'abs', 'absent', 'absent_over_time', 'avg', 'avg_over_time', 'bottomk', 'ceil', 'changes', 'clamp',
  'clamp_max', 'clamp_min', 'count', 'count_over_time', 'count_values', 'delta', 'deriv', 'exp', 'floor',
  'group', 'histogram_quantile', 'holt_winters', 'idelta', 'increase', 'irate', 'label_join', 'label_replace',
  'last_over_time', 'ln', 'log10', 'log2', 'max', 'max_over_time', 'min', 'min_over_time', 'predict_linear',
  'quantile', 'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sort', 'sort_desc', 'sqrt',
  'stddev', 'stddev_over_time', 'stdvar', 'sum', 'sum_over_time', 'time', 'timestamp', 'topk', 'vector',
]; // prettier-ignore

/** The name being typed: where it starts and ends in the expression, and its text. */
export interface NameToken {
  start: number;
  end: number;
  word: string;
}

const NAME_CHAR = /[A-Za-z0-9_:]/;

/**
 * The metric or function name around `caret` in `expr`, or null where no name is typed: in a
 * string, inside a label matcher `{...}` (label names are not metric names), inside a range
 * `[5m]`, or where the word starts with a digit (a number).
 */
export function nameAt(expr: string, caret: number): NameToken | null {
  let quote: string | null = null;
  let braces = 0;
  let brackets = 0;
  for (let i = 0; i < caret && i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{') braces++;
    else if (c === '}') braces = Math.max(0, braces - 1);
    else if (c === '[') brackets++;
    else if (c === ']') brackets = Math.max(0, brackets - 1);
  }
  if (quote || braces > 0 || brackets > 0) return null;
  let start = caret;
  while (start > 0 && NAME_CHAR.test(expr[start - 1]!)) start--;
  let end = caret;
  while (end < expr.length && NAME_CHAR.test(expr[end]!)) end++;
  const word = expr.slice(start, end);
  if (word === '' || /^[0-9]/.test(word)) return null;
  return { start, end, word };
}

export interface Completion {
  value: string;
  kind: 'metric' | 'function';
}

/**
 * What to offer for `word`: the metric names containing it (as the server searched them),
 * those starting with it first, then the functions starting with it; at most `limit`.
 * Nothing when the only choice is the word itself (it is typed out already).
 */
export function completionsFor(word: string, names: readonly string[], limit = 50): Completion[] {
  const lower = word.toLowerCase();
  const metrics = names.filter((name) => name.toLowerCase().includes(lower));
  const prefixed = (name: string) => (name.toLowerCase().startsWith(lower) ? 0 : 1);
  metrics.sort((a, b) => prefixed(a) - prefixed(b) || (a < b ? -1 : a > b ? 1 : 0));
  const functions = PROMQL_FUNCTIONS.filter((name) => name.startsWith(lower) && !metrics.includes(name));
  const all: Completion[] = [
    ...metrics.map((value) => ({ value, kind: 'metric' as const })),
    ...functions.map((value) => ({ value, kind: 'function' as const })),
  ].slice(0, limit);
  return all.length === 1 && all[0]!.value === word ? [] : all;
}

/**
 * The expression with `token` replaced by the chosen completion (a function with its opening
 * parenthesis), and where the caret goes: after what was inserted.
 */
export function applyCompletion(
  expr: string,
  token: NameToken,
  completion: Completion,
): { expr: string; caret: number } {
  const opensCall = completion.kind === 'function' && expr[token.end] !== '(';
  const inserted = opensCall ? `${completion.value}(` : completion.value;
  return { expr: expr.slice(0, token.start) + inserted + expr.slice(token.end), caret: token.start + inserted.length };
}
