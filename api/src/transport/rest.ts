/**
 * REST for initial loads and simple integrations. Every route runs one GraphQL operation
 * through Yoga, so auth, limits, validation and error codes are exactly GraphQL's; the
 * document changes only through ops (PUT renames). Errors: `{ "error": { "code", "message" } }`
 * with the HTTP status of DESIGN.md section 4. The OpenAPI 3 document is derived from the
 * same route table, so it cannot drift from what is served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { YogaServerInstance } from 'graphql-yoga';
import { HTTP_STATUS_FOR_ERROR } from '@collab-dashboards/core';
import { sendJson } from './http.js';

type Params = Record<string, string>;
// GraphQL result data, shaped by each route's own query.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Data = Record<string, any>;

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string; // OpenAPI style: /dashboards/{id}
  summary: string;
  query: string;
  variables(params: Params, body: Record<string, unknown>): Record<string, unknown>;
  /** Picks the response from `data`; undefined means 404 (AC1: not there for the caller). */
  pick(data: Data): unknown;
  status: number;
  body?: { required: string[]; properties: Record<string, object> };
  response?: object;
}

const DASHBOARD = 'id title version document myRole createdAt updatedAt owner { id name email color }';
const COLLABORATOR = 'role addedAt user { id name email color }';
const PRESENCE = 'clientId cursor selection version status lastSeen user { id name color }';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const list = (name: string) => ({ type: 'array', items: ref(name) });

const ROUTES: Route[] = [
  {
    method: 'GET',
    path: '/dashboards',
    summary: 'Dashboards you are a member of, most recently changed first.',
    query: `query { dashboards { ${DASHBOARD} } }`,
    variables: () => ({}),
    pick: (d) => d.dashboards,
    status: 200,
    response: list('Dashboard'),
  },
  {
    method: 'POST',
    path: '/dashboards',
    summary: 'Create a dashboard (you become its OWNER).',
    query: `mutation($title: String!, $document: JSON) { createDashboard(title: $title, document: $document) { ${DASHBOARD} } }`,
    variables: (_p, b) => ({ title: b.title, document: b.document }),
    pick: (d) => d.createDashboard,
    status: 201,
    body: { required: ['title'], properties: { title: { type: 'string' }, document: { type: 'object' } } },
    response: ref('Dashboard'),
  },
  {
    method: 'GET',
    path: '/dashboards/{id}',
    summary: 'One dashboard with its current document.',
    query: `query($id: ID!) { dashboard(id: $id) { ${DASHBOARD} } }`,
    variables: (p) => ({ id: p.id }),
    pick: (d) => d.dashboard ?? undefined,
    status: 200,
    response: ref('Dashboard'),
  },
  {
    method: 'PUT',
    path: '/dashboards/{id}',
    summary: 'Rename a dashboard (EDITOR and up). The document changes only through operations.',
    query: `mutation($id: ID!, $title: String!) { renameDashboard(id: $id, title: $title) { ${DASHBOARD} } }`,
    variables: (p, b) => ({ id: p.id, title: b.title }),
    pick: (d) => d.renameDashboard,
    status: 200,
    body: { required: ['title'], properties: { title: { type: 'string' } } },
    response: ref('Dashboard'),
  },
  {
    method: 'DELETE',
    path: '/dashboards/{id}',
    summary: 'Delete a dashboard (OWNER only).',
    query: `mutation($id: ID!) { deleteDashboard(id: $id) }`,
    variables: (p) => ({ id: p.id }),
    pick: (d) => (d.deleteDashboard ? null : undefined),
    status: 204,
  },
  {
    method: 'GET',
    path: '/dashboards/{id}/collaborators',
    summary: 'Members and their roles (the owner included).',
    query: `query($id: ID!) { dashboard(id: $id) { collaborators { ${COLLABORATOR} } } }`,
    variables: (p) => ({ id: p.id }),
    pick: (d) => d.dashboard?.collaborators,
    status: 200,
    response: list('Collaborator'),
  },
  {
    method: 'POST',
    path: '/dashboards/{id}/points',
    summary:
      'Push points to series (EDITOR and up), all or none: {"points": [{"series", "labels", "t", "v"}]}, at most 10,000.',
    query: `mutation($id: ID!, $points: [PointInput!]!) { pushPoints(dashboardId: $id, points: $points) { accepted series } }`,
    variables: (p, b) => ({ id: p.id, points: b.points }),
    pick: (d) => d.pushPoints,
    status: 200,
    body: {
      required: ['points'],
      properties: {
        points: {
          type: 'array',
          items: {
            type: 'object',
            required: ['series', 'v'],
            properties: {
              series: { type: 'string' },
              labels: { type: 'object', additionalProperties: { type: 'string' } },
              t: { type: 'number', description: 'ms since the epoch; omitted: now' },
              v: { type: 'number' },
            },
          },
        },
      },
    },
    response: ref('PushResult'),
  },
  {
    method: 'POST',
    path: '/dashboards/{id}/invite',
    summary: 'Invite a registered user as EDITOR or VIEWER (OWNER only).',
    query: `mutation($id: ID!, $email: String!, $role: Role!) { inviteCollaborator(dashboardId: $id, email: $email, role: $role) { ${COLLABORATOR} } }`,
    variables: (p, b) => ({ id: p.id, email: b.email, role: b.role }),
    pick: (d) => d.inviteCollaborator,
    status: 201,
    body: {
      required: ['email', 'role'],
      properties: { email: { type: 'string', format: 'email' }, role: { type: 'string', enum: ['EDITOR', 'VIEWER'] } },
    },
    response: ref('Collaborator'),
  },
  {
    method: 'DELETE',
    path: '/dashboards/{id}/collaborators/{userId}',
    summary: 'Remove a collaborator (OWNER), or leave (yourself).',
    query: `mutation($id: ID!, $userId: ID!) { removeCollaborator(dashboardId: $id, userId: $userId) }`,
    variables: (p) => ({ id: p.id, userId: p.userId }),
    pick: (d) => (d.removeCollaborator ? null : undefined),
    status: 204,
  },
  {
    method: 'GET',
    path: '/dashboards/{id}/presence',
    summary: 'Who is on the dashboard now, on any instance.',
    query: `query($id: ID!) { dashboard(id: $id) { presence { ${PRESENCE} } } }`,
    variables: (p) => ({ id: p.id }),
    pick: (d) => d.dashboard?.presence,
    status: 200,
    response: list('Presence'),
  },
];

const STATUS: Record<string, number> = HTTP_STATUS_FOR_ERROR;

const compiled = ROUTES.map((route) => {
  const names: string[] = [];
  const pattern = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, names, regex: new RegExp(`^/api${pattern}/?$`) };
});

const fail = (res: ServerResponse, status: number, code: string, message: string) =>
  sendJson(res, status, { error: { code, message } });

async function readBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw Object.assign(new Error('Request body too large'), { status: 413, code: 'PAYLOAD_TOO_LARGE' });
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed;
  } catch {
    throw Object.assign(new Error('The body must be a JSON object'), { status: 400, code: 'BAD_USER_INPUT' });
  }
}

/** Handles /api/...; returns false for paths it does not own. */
export async function handleRest(
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>,
  req: IncomingMessage,
  res: ServerResponse,
  options: { maxBodyBytes: number },
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (!url.pathname.startsWith('/api/') && url.pathname !== '/api') return false;
  if (url.pathname === '/api/openapi.json') {
    sendJson(res, 200, openApiDocument());
    return true;
  }
  if (url.pathname === '/api/docs' || url.pathname === '/api/docs/') {
    const html = docsPage();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
    res.end(html);
    return true;
  }
  const matches = compiled.filter((c) => c.regex.test(url.pathname));
  if (matches.length === 0) {
    fail(res, 404, 'NOT_FOUND', 'No such endpoint; see /api/openapi.json');
    return true;
  }
  const hit = matches.find((c) => c.route.method === req.method);
  if (!hit) {
    res.setHeader('allow', matches.map((c) => c.route.method).join(', '));
    fail(res, 405, 'BAD_USER_INPUT', `Method ${req.method} not allowed here`);
    return true;
  }
  const params: Params = {};
  const found = hit.regex.exec(url.pathname)!;
  try {
    hit.names.forEach((name, i) => (params[name] = decodeURIComponent(found[i + 1]!)));
  } catch {
    fail(res, 400, 'BAD_USER_INPUT', 'Malformed percent-encoding in the path');
    return true;
  }
  let body: Record<string, unknown> = {};
  try {
    if (req.method === 'POST' || req.method === 'PUT') body = await readBody(req, options.maxBodyBytes);
  } catch (error) {
    const e = error as { status: number; code: string; message: string };
    fail(res, e.status ?? 400, e.code ?? 'BAD_USER_INPUT', e.message);
    return true;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (req.headers.authorization) headers.authorization = req.headers.authorization;
  const response = await yoga.fetch(
    'http://localhost/graphql',
    {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: hit.route.query, variables: hit.route.variables(params, body) }),
    },
    { req, res },
  );
  const result = (await response.json()) as {
    data?: Data | null;
    errors?: Array<{ message: string; extensions?: { code?: string; retryAfter?: number } }>;
  };
  const error = result.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
    if (error.extensions?.retryAfter) res.setHeader('retry-after', String(error.extensions.retryAfter));
    fail(res, STATUS[code] ?? 500, code, error.message);
    return true;
  }
  const picked = hit.route.pick(result.data ?? {});
  if (picked === undefined) fail(res, 404, 'NOT_FOUND', 'Dashboard not found');
  else if (hit.route.status === 204) {
    res.writeHead(204);
    res.end();
  } else sendJson(res, hit.route.status, picked);
  return true;
}

const ERROR_RESPONSE = {
  content: { 'application/json': { schema: ref('Error') } },
};

/** The OpenAPI 3.0 document of the REST routes. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const parameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const responses: Record<string, unknown> = {
      [String(route.status)]:
        route.status === 204
          ? { description: 'Done' }
          : { description: 'OK', content: { 'application/json': { schema: route.response ?? {} } } },
      '400': { description: 'Invalid input (BAD_USER_INPUT)', ...ERROR_RESPONSE },
      '401': { description: 'Missing or bad credentials (UNAUTHENTICATED)', ...ERROR_RESPONSE },
      '403': { description: 'Your role does not allow this (FORBIDDEN)', ...ERROR_RESPONSE },
      '404': { description: 'No such dashboard for you (NOT_FOUND)', ...ERROR_RESPONSE },
      '429': { description: 'Slow down (RATE_LIMITED); see Retry-After', ...ERROR_RESPONSE },
      '503': { description: 'A dependency is down (UNAVAILABLE); retry', ...ERROR_RESPONSE },
    };
    (paths[route.path] ??= {})[route.method.toLowerCase()] = {
      summary: route.summary,
      operationId: `${route.method.toLowerCase()}${route.path.replace(/\{(\w+)\}/g, 'By$1').replace(/[^A-Za-z]+(\w)/g, (_m, c: string) => c.toUpperCase())}`,
      parameters,
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: { type: 'object', ...route.body } } },
            },
          }
        : {}),
      responses,
    };
  }
  const user = {
    type: 'object',
    required: ['id', 'name', 'color'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      email: { type: 'string' },
      color: { type: 'string' },
    },
  };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Collaborative dashboards REST API',
      version: '1',
      description:
        'Simple CRUD over the same resolvers as GraphQL (/graphql). Authenticate with `Authorization: Bearer <access token or API token>`. Live editing (operations, presence) is GraphQL-only.',
    },
    servers: [{ url: '/api' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        User: user,
        Dashboard: {
          type: 'object',
          required: ['id', 'title', 'version', 'document', 'myRole'],
          properties: {
            id: { type: 'string' },
            title: { type: 'string' },
            version: { type: 'integer' },
            document: { type: 'object' },
            myRole: { type: 'string', enum: ['OWNER', 'EDITOR', 'VIEWER'] },
            owner: ref('User'),
            createdAt: { type: 'string', format: 'date-time' },
            updatedAt: { type: 'string', format: 'date-time' },
          },
        },
        Collaborator: {
          type: 'object',
          required: ['role', 'user'],
          properties: {
            role: { type: 'string', enum: ['OWNER', 'EDITOR', 'VIEWER'] },
            addedAt: { type: 'string', format: 'date-time' },
            user: ref('User'),
          },
        },
        Presence: {
          type: 'object',
          required: ['clientId', 'user', 'version', 'status'],
          properties: {
            clientId: { type: 'string' },
            user: ref('User'),
            cursor: { type: 'object', nullable: true },
            selection: { nullable: true },
            version: { type: 'integer' },
            status: { type: 'string', enum: ['ACTIVE', 'IDLE'] },
            lastSeen: { type: 'string', format: 'date-time' },
          },
        },
        PushResult: {
          type: 'object',
          required: ['accepted', 'series'],
          properties: { accepted: { type: 'integer' }, series: { type: 'integer' } },
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' } },
            },
          },
        },
      },
    },
  };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained docs page (no external assets) listing the endpoints. */
function docsPage(): string {
  const rows = ROUTES.map(
    (r) =>
      `<tr><td><code>${r.method}</code></td><td><code>/api${escapeHtml(r.path)}</code></td><td>${escapeHtml(r.summary)}</td><td>${r.body ? `<code>${escapeHtml(JSON.stringify(Object.fromEntries(Object.entries(r.body.properties).map(([k, v]) => [k, (v as { type: string }).type]))))}</code>` : ''}</td><td>${r.status}</td></tr>`,
  ).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>REST API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem .6rem;text-align:left;vertical-align:top}code{background:#f4f4f4;padding:0 .2rem}</style>
</head><body><h1>REST API</h1>
<p>Send <code>Authorization: Bearer &lt;token&gt;</code> (an access token from <code>logIn</code> or an API token from <code>createApiToken</code>). Errors come as <code>{"error":{"code","message"}}</code>. The machine-readable description is <a href="/api/openapi.json">/api/openapi.json</a>; everything else (live editing, presence, history) is in GraphQL at <a href="/graphql">/graphql</a>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>What</th><th>Body</th><th>Status</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>`;
}
