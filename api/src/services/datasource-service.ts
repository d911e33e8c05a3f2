/**
 * Pulled data sources (rule LD5): the configured upstreams, range queries (`queryData`) and
 * metric-name completions. Live evaluation for every watcher is services/query-live.ts.
 *
 * Queries are checked here before anything is sent upstream: a known data source, a
 * non-empty expression of bounded length, a whole-second step and at most 11,000 points per
 * series (Prometheus's own limit). Results become SeriesData: `Series.name` is the result's
 * `__name__` label (the expression when it has none), the labels are the rest, and the id is
 * stable for (data source, labels).
 */
import { createHash } from 'node:crypto';
import type { DatasourceConfig } from '../config.js';
import { canonicalLabels, type Labels } from '../domain/series.js';
import { DomainError, badInput } from '../errors.js';
import type { DatasourceClient, QueriedSeries } from '../ports/datasource.js';
import type { PointPairs } from '../ports/series-store.js';

export const MIN_QUERY_STEP_MS = 1000;
export const MAX_QUERY_STEP_MS = 86_400_000;
/** Points per series of one range query (Prometheus refuses more, too). */
export const MAX_QUERY_POINTS = 11_000;
export const MAX_EXPR_LENGTH = 4000;
const METRIC_NAMES_TTL_MS = 60_000;

/** A series of a query result, as SeriesData carries it. */
export interface QuerySeriesData {
  series: { id: string; name: string; labels: Labels };
  points: PointPairs;
}

export interface QueryKey {
  datasource: string;
  expr: string;
  step: number;
}

export interface DatasourceService {
  /** Configured sources, by name (never their URLs or credentials). */
  list(): Array<{ name: string; type: string }>;
  /** The source's client; an unknown name is BAD_USER_INPUT. */
  client(name: string): DatasourceClient;
  /** Validates a query's shape (not its PromQL: the upstream judges that). */
  checkKey(input: QueryKey): QueryKey;
  /** A range query over [from, to] (to: now), one point per step at multiples of step. */
  queryData(input: QueryKey & { from: number; to?: number | null }): Promise<QuerySeriesData[]>;
  /** An aligned range [start, end] of evaluation times, queried and converted (shared while in flight). */
  queryRange(key: QueryKey, start: number, end: number): Promise<QuerySeriesData[]>;
  /** Metric names containing every word of `search` (any case), sorted, at most `first`. */
  metricNames(name: string, search: string | null | undefined, first: number): Promise<string[]>;
}

export function createDatasourceService(deps: {
  datasources: Record<string, DatasourceConfig>;
  createClient(name: string, config: DatasourceConfig): DatasourceClient;
  now(): number;
  /** One upstream request, by source and outcome (`ok`, `refused`, `unavailable`). */
  onQuery?(datasource: string, outcome: 'ok' | 'refused' | 'unavailable'): void;
}): DatasourceService {
  const clients = new Map<string, DatasourceClient>();
  for (const [name, config] of Object.entries(deps.datasources)) clients.set(name, deps.createClient(name, config));
  const names = new Map<string, { at: number; names: Promise<string[]> }>();

  function client(name: string): DatasourceClient {
    const found = typeof name === 'string' ? clients.get(name) : undefined;
    if (!found) {
      const known = [...clients.keys()];
      throw badInput(
        `Unknown data source "${String(name).slice(0, 100)}"` +
          (known.length ? `: configured are ${known.join(', ')}` : ': none is configured (DATASOURCES)'),
      );
    }
    return found;
  }

  function checkKey(input: QueryKey): QueryKey {
    client(input.datasource);
    const expr = typeof input.expr === 'string' ? input.expr.trim() : '';
    if (expr === '') throw badInput('expr must be a PromQL expression');
    if (expr.length > MAX_EXPR_LENGTH) throw badInput(`expr may be at most ${MAX_EXPR_LENGTH} characters`);
    const step = input.step;
    if (!Number.isInteger(step) || step < MIN_QUERY_STEP_MS || step > MAX_QUERY_STEP_MS || step % 1000 !== 0) {
      throw badInput(`step must be whole seconds in ms, between ${MIN_QUERY_STEP_MS} and ${MAX_QUERY_STEP_MS}`);
    }
    return { datasource: input.datasource, expr, step };
  }

  async function counted<T>(datasource: string, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      deps.onQuery?.(datasource, 'ok');
      return result;
    } catch (error) {
      const code = error instanceof DomainError ? error.code : null;
      deps.onQuery?.(datasource, code === 'BAD_USER_INPUT' ? 'refused' : 'unavailable');
      throw error;
    }
  }

  /**
   * Identical range queries in flight share one upstream request: viewers opening a chart
   * within one step ask for the same aligned range, and so do subscribers replaying `since`.
   */
  const inFlight = new Map<string, Promise<QuerySeriesData[]>>();
  function queryRange(key: QueryKey, start: number, end: number) {
    const id = JSON.stringify([key.datasource, key.expr, key.step, start, end]);
    let pending = inFlight.get(id);
    if (!pending) {
      pending = counted(key.datasource, () =>
        client(key.datasource).queryRange({ expr: key.expr, start, end, step: key.step }),
      )
        .then((result) => toSeriesData(key, result))
        .finally(() => inFlight.delete(id));
      inFlight.set(id, pending);
    }
    return pending;
  }

  return {
    list: () => [...clients.values()].map((c) => ({ name: c.name, type: c.type })),
    client,
    checkKey,
    queryRange,
    async queryData(input) {
      const key = checkKey(input);
      const to = input.to ?? deps.now();
      if (!Number.isFinite(input.from) || !Number.isFinite(to)) throw badInput('from and to must be times in ms');
      if (to < input.from) throw badInput('to must not be before from');
      const start = Math.ceil(input.from / key.step) * key.step;
      const end = Math.floor(to / key.step) * key.step;
      if (end < start) return [];
      if ((end - start) / key.step + 1 > MAX_QUERY_POINTS) {
        throw badInput(`At most ${MAX_QUERY_POINTS} points per series: ask for a larger step or a shorter range`);
      }
      return queryRange(key, start, end);
    },
    async metricNames(name, search, first) {
      const source = client(name);
      if (!Number.isInteger(first) || first < 1 || first > 1000) throw badInput('first must be between 1 and 1000');
      let cached = names.get(name);
      if (!cached || deps.now() - cached.at > METRIC_NAMES_TTL_MS) {
        const entry = { at: deps.now(), names: counted(name, () => source.metricNames()) };
        // Neither a failure nor an empty list (an upstream that has not scraped yet) is kept.
        const forget = () => names.get(name) === entry && names.delete(name);
        entry.names.then((list) => list.length === 0 && forget(), forget);
        names.set(name, (cached = entry));
      }
      const words = (search ?? '').toLowerCase().split(/\s+/).filter(Boolean);
      const all = await cached.names;
      return all
        .filter((n) => words.every((w) => n.toLowerCase().includes(w)))
        .sort()
        .slice(0, first);
    },
  };
}

/** Query results as SeriesData (see the file comment for name, labels and id). */
export function toSeriesData(key: QueryKey, result: QueriedSeries[]): QuerySeriesData[] {
  return result.map(({ labels, points }) => {
    const { __name__: metric, ...rest } = labels;
    const canonical = canonicalLabels(rest);
    const id = createHash('sha256')
      .update(`${key.datasource}\n${metric ?? ''}\n${JSON.stringify(canonical)}`)
      .digest('base64url')
      .slice(0, 22);
    return { series: { id: `q:${id}`, name: metric ?? key.expr, labels: canonical }, points };
  });
}
