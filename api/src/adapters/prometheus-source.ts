/**
 * A Prometheus data source over its HTTP API (rule LD5): `POST <url>/api/v1/query_range`
 * and `GET <url>/api/v1/label/__name__/values`.
 *
 * Only the configured base URL is ever fetched: the paths are fixed, the PromQL goes in a
 * form body, and redirects are refused (a configured upstream cannot bounce the server to
 * an address of its choosing). Credentials (basic auth or a bearer token) come from the
 * config and are never shown to clients.
 */
import type { DatasourceConfig } from '../config.js';
import { DomainError, badInput } from '../errors.js';
import type { DatasourceClient, QueriedSeries } from '../ports/datasource.js';

/** A result with more series than this is refused: aggregate it (`sum by (...)`). */
export const MAX_RESULT_SERIES = 500;
/** An upstream answer larger than this is refused (bytes). */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

interface PromResponse<T> {
  status?: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
}

interface PromMatrix {
  resultType?: string;
  result?: Array<{ metric?: Record<string, string>; values?: Array<[number, string]> }>;
}

export function createPrometheusSource(
  name: string,
  config: DatasourceConfig,
  fetchImpl: typeof fetch = fetch,
): DatasourceClient {
  const base = `${config.url}/`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (config.basicAuth) {
    const { username, password } = config.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  } else if (config.bearerToken) {
    headers.authorization = `Bearer ${config.bearerToken}`;
  }
  const unavailable = (why: string, cause?: unknown) => {
    const error = new DomainError('UNAVAILABLE', `Data source ${name} is unavailable: ${why}`, { retryAfter: 5 });
    if (cause !== undefined) error.cause = cause;
    return error;
  };

  async function call<T>(path: string, init: RequestInit, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(config.timeoutMs);
    let res: Response;
    try {
      res = await fetchImpl(new URL(path, base), {
        ...init,
        headers: { ...headers, ...(init.headers as Record<string, string> | undefined) },
        redirect: 'error',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (timeout.aborted) throw unavailable(`no answer within ${config.timeoutMs} ms`, error);
      if (signal?.aborted) throw error;
      const code = (error as { cause?: { code?: string } }).cause?.code;
      throw unavailable(code ? `cannot connect (${code})` : 'cannot connect', error);
    }
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > MAX_BODY_BYTES) {
      await res.body?.cancel();
      throw badInput(`${name}: the answer is larger than ${MAX_BODY_BYTES} bytes; narrow the query`);
    }
    let text = '';
    let body: PromResponse<T> | null;
    try {
      text = await res.text();
      body = JSON.parse(text) as PromResponse<T>;
    } catch {
      body = null;
    }
    if (body?.status === 'success' && res.ok) return body.data as T;
    // 400 bad_data (a syntax error, too many points) and 422 execution errors: the query's fault.
    if ((res.status === 400 || res.status === 422) && body?.status === 'error') {
      throw badInput(`${name}: ${body.error ?? body.errorType ?? 'the query was refused'}`);
    }
    if (res.status === 401 || res.status === 403)
      throw unavailable(`it refused the configured credentials (${res.status})`);
    if (body?.status === 'error') throw unavailable(`${body.error ?? body.errorType} (${res.status})`);
    throw unavailable(`unexpected answer (HTTP ${res.status}${text ? '' : ', empty'})`);
  }

  return {
    name,
    type: 'prometheus',
    async queryRange(query, signal) {
      const form = new URLSearchParams({
        query: query.expr,
        start: String(query.start / 1000),
        end: String(query.end / 1000),
        step: String(query.step / 1000),
      });
      const data = await call<PromMatrix>(
        'api/v1/query_range',
        { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        signal,
      );
      if (data?.resultType !== 'matrix' || !Array.isArray(data.result)) throw unavailable('its answer is not a matrix');
      if (data.result.length > MAX_RESULT_SERIES) {
        throw badInput(
          `${name}: the query returned ${data.result.length} series, more than ${MAX_RESULT_SERIES}; aggregate it (sum by (...))`,
        );
      }
      return data.result.map((entry): QueriedSeries => {
        const points: Array<[number, number]> = [];
        for (const [t, v] of entry.values ?? []) {
          const value = Number(v);
          if (Number.isFinite(value)) points.push([Math.round(t * 1000), value]);
        }
        return { labels: { ...(entry.metric ?? {}) }, points };
      });
    },
    async metricNames(signal) {
      const data = await call<string[]>('api/v1/label/__name__/values', { method: 'GET' }, signal);
      if (!Array.isArray(data)) throw unavailable('its answer is not a list of names');
      return data.filter((n) => typeof n === 'string');
    },
  };
}
