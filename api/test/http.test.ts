import { createBackend, startApp, type Backend, type TestApp } from './helpers/harness.js';

let backend: Backend;
let t: TestApp;

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend);
});

describe('HTTP', () => {
  it('/healthz answers while the process is up', async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz reports the database', async () => {
    const res = await fetch(`${t.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', database: 'up' });
  });

  it('serves GraphiQL to a browser on GET /graphql, with subscriptions over WebSocket', async () => {
    const res = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/graphiql/i);
    expect(html).toMatch(/"subscriptionsProtocol":"WS"/);
  });

  it('answers unknown paths with a JSON 404', async () => {
    const res = await fetch(`${t.url}/nope`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'Not found' } });
  });

  it('masks unexpected errors and keeps the closed set of codes for expected ones', async () => {
    const parse = await (
      await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ me { ' }),
      })
    ).json();
    expect(parse.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    const invalid = await t.gql('{ nope }');
    expect(invalid.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('/readyz is 503 once shutdown begins', async () => {
    const other = await startApp(backend);
    const stopping = other.app.stop();
    const res = await fetch(`${other.url}/readyz`).catch(() => null);
    // Either refused outright or told it is shutting down: never "ready".
    if (res) expect(res.status).toBe(503);
    await stopping;
  });
});
