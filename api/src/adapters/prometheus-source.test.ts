/**
 * The Prometheus client against a small HTTP server playing the upstream (rule LD5): what it
 * sends (a form body under the configured path, the configured credentials) and how each kind
 * of answer becomes a result or a DomainError. The real Prometheus is in
 * api/test/datasources.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DomainError } from '../errors.js';
import type { DatasourceConfig } from '../config.js';
import { createPrometheusSource, MAX_RESULT_SERIES } from './prometheus-source.js';

let server: Server;
let base = '';
let answer: (req: IncomingMessage, body: string, res: ServerResponse) => void = () => {};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => answer(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const source = (extra: Partial<DatasourceConfig> = {}) =>
  createPrometheusSource('prom', { type: 'prometheus', url: base, timeoutMs: 500, ...extra });
const query = { expr: 'up{job="a"}', start: 10_000, end: 12_000, step: 1000 };

async function failure(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await run().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return { code: (error as DomainError).code, message: (error as DomainError).message };
}

describe('[LD5] the Prometheus data source', () => {
  it('posts the query as a form under the configured path, with the configured credentials', async () => {
    const seen: Array<{ method?: string; url?: string; auth?: string; body: string }> = [];
    answer = (req, body, res) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
      json(res, 200, {
        status: 'success',
        data: {
          resultType: 'matrix',
          result: [
            {
              metric: { __name__: 'up', job: 'a' },
              values: [
                [10, '1'],
                [11, 'NaN'],
                [12, '+Inf'],
              ],
            },
          ],
        },
      });
    };
    const result = await source({ basicAuth: { username: 'u', password: 'p:w' } }).queryRange(query);
    expect(result).toEqual([{ labels: { __name__: 'up', job: 'a' }, points: [[10_000, 1]] }]); // not finite: left out
    await source({ bearerToken: 'tok' }).queryRange(query);
    expect(seen.map((s) => [s.method, s.url, s.auth])).toEqual([
      ['POST', '/prefix/api/v1/query_range', `Basic ${Buffer.from('u:p:w').toString('base64')}`],
      ['POST', '/prefix/api/v1/query_range', 'Bearer tok'],
    ]);
    expect(Object.fromEntries(new URLSearchParams(seen[0]!.body))).toEqual({
      query: 'up{job="a"}',
      start: '10',
      end: '12',
      step: '1',
    });
  });

  it('turns each kind of answer into the right code', async () => {
    answer = (_req, _body, res) =>
      json(res, 400, { status: 'error', errorType: 'bad_data', error: 'parse error at 1:3' });
    expect(await failure(() => source().queryRange(query))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'prom: parse error at 1:3',
    });
    answer = (_req, _body, res) =>
      json(res, 422, { status: 'error', errorType: 'execution', error: 'too many samples' });
    expect((await failure(() => source().queryRange(query))).code).toBe('BAD_USER_INPUT');
    answer = (_req, _body, res) => json(res, 503, { status: 'error', errorType: 'timeout', error: 'query timed out' });
    expect(await failure(() => source().queryRange(query))).toEqual({
      code: 'UNAVAILABLE',
      message: 'Data source prom is unavailable: query timed out (503)',
    });
    answer = (_req, _body, res) => res.writeHead(401).end('no');
    expect((await failure(() => source().queryRange(query))).message).toMatch(/refused the configured credentials/);
    answer = (_req, _body, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
    expect((await failure(() => source().queryRange(query))).code).toBe('UNAVAILABLE');
    answer = (_req, _body, res) => res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end();
    expect((await failure(() => source().queryRange(query))).code).toBe('UNAVAILABLE');
    answer = () => {}; // never answers
    expect(await failure(() => source().queryRange(query))).toEqual({
      code: 'UNAVAILABLE',
      message: 'Data source prom is unavailable: no answer within 500 ms',
    });
    const many = Array.from({ length: MAX_RESULT_SERIES + 1 }, (_, i) => ({ metric: { i: String(i) }, values: [] }));
    answer = (_req, _body, res) => json(res, 200, { status: 'success', data: { resultType: 'matrix', result: many } });
    expect((await failure(() => source().queryRange(query))).message).toMatch(/aggregate it/);
  });

  it('lists metric names from the label values API', async () => {
    answer = (req, _body, res) =>
      req.url === '/prefix/api/v1/label/__name__/values'
        ? json(res, 200, { status: 'success', data: ['up', 'process_cpu_seconds_total'] })
        : json(res, 404, {});
    expect(await source().metricNames()).toEqual(['up', 'process_cpu_seconds_total']);
  });
});
