/**
 * An upstream data source (rule LD5): a configured Prometheus, queried with PromQL. The
 * adapter (adapters/prometheus-source.ts) only ever fetches under its configured URL; the
 * expression travels in the request body, never in the address.
 *
 * Errors are DomainErrors: BAD_USER_INPUT with the upstream's own message when it refuses
 * the query (a syntax error, too many points), UNAVAILABLE when it cannot be reached, times
 * out, or answers with something that is not its API.
 */
import type { Labels } from '../domain/series.js';

export interface RangeQuery {
  expr: string;
  /** ms since the epoch, multiples of `step` (the evaluation times are start + k * step). */
  start: number;
  end: number;
  /** ms */
  step: number;
}

export interface QueriedSeries {
  /** Every label of the result, `__name__` included when the result has one. */
  labels: Labels;
  /** [t ms, v], t ascending; samples that are not finite numbers are left out. */
  points: Array<[number, number]>;
}

export interface DatasourceClient {
  readonly name: string;
  readonly type: 'prometheus';
  queryRange(query: RangeQuery, signal?: AbortSignal): Promise<QueriedSeries[]>;
  /** The upstream's metric names (its `__name__` label values). */
  metricNames(signal?: AbortSignal): Promise<string[]>;
}
