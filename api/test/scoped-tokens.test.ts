/**
 * Scoped API tokens (DESIGN.md section 11, rule SC1) on every transport: a table of (token
 * scope x operation x transport) with the exact code each must give, then what the table
 * cannot show (a demoted user's old token, a socket closed at expiry, the audit log, the
 * client address through TRUST_PROXY). Both backends.
 */
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import {
  createBackend,
  createDashboard,
  EVENTS,
  errorCode,
  signUp,
  startApp,
  SUBMIT,
  subscribeLog,
  type TestApp,
} from './helpers/harness.js';
import { waitFor } from './helpers/wait.js';

const require = createRequire(import.meta.url);
const { serialize } = require('prometheus-remote-write') as { serialize(payload: unknown): Promise<Uint8Array> };
const SnappyJS = require('snappyjs') as { compress(input: Uint8Array): Uint8Array };

type Code = 'OK' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_USER_INPUT';
type Transport = 'http' | 'ws' | 'sse' | 'rest' | 'remote-write';

const CREATE_TOKEN = `mutation($n: String!, $s: TokenScope) { createApiToken(name: $n, scope: $s) { token apiToken { id } } }`;
const PUSH = `mutation($d: ID!) { pushPoints(dashboardId: $d, points: [{ series: "cpu", v: 1 }]) { accepted } }`;
const READ = `query($d: ID!) { dashboard(id: $d) { id title } }`;

let t: TestApp;
let owner: Awaited<ReturnType<typeof signUp>>;
let mine: string; // in the scoped tokens' list
let other: string; // the same owner's, outside it
const tokens: Record<string, string> = {};
let seq = 0;

const STATUS_CODES: Record<number, Code> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  400: 'BAD_USER_INPUT',
};
const codeOfStatus = (status: number): Code =>
  status < 300 ? 'OK' : (STATUS_CODES[status] ?? (String(status) as Code));

async function makeToken(scope: Record<string, unknown> | null, as = owner.token) {
  const data = await t.ok(CREATE_TOKEN, { n: `t-${randomUUID().slice(0, 6)}`, s: scope }, as);
  return data.createApiToken as { token: string; apiToken: { id: string } };
}

async function submitOp(dashboardId: string) {
  const doc = createDocument('x');
  const widget = newWidget('note', { id: `w${++seq}` });
  const version = (await t.ok(READ.replace('title', 'version'), { d: dashboardId }, owner.token)).dashboard.version;
  return { d: dashboardId, c: `scoped-${randomUUID()}`, s: 1, b: version, op: addWidget(doc, widget) };
}

/** A GraphQL operation over HTTP: the first error's code, or OK. */
async function overHttp(token: string, query: string, variables: Record<string, unknown>, nullIsNotFound = false) {
  const result = await t.gql(query, variables, token);
  const code = errorCode(result) as Code | undefined;
  if (code) return code;
  if (nullIsNotFound && result.data?.dashboard === null) return 'NOT_FOUND';
  return 'OK';
}

/** An operation over graphql-ws: OK at its first result, else the error's code (4401: UNAUTHENTICATED). */
async function overWs(token: string, query: string, variables: Record<string, unknown>): Promise<Code> {
  const log = subscribeLog(
    t.wsClient(token),
    query,
    variables,
    Object.keys(FIELDS).find((f) => query.includes(f))!,
  );
  await log.until((events) => events.length > 0 || log.completed, 5000).catch(() => undefined);
  log.dispose();
  const error = log.errors[0] as { code?: number; extensions?: { code?: Code } } | undefined;
  if (error) return error.code === 4401 ? 'UNAUTHENTICATED' : (error.extensions?.code ?? (String(error.code) as Code));
  return log.events[0] === null ? 'NOT_FOUND' : 'OK';
}

/** The root field each operation of this file reads, for subscribeLog. */
const FIELDS = { dashboardEvents: 1, submitOperation: 1, dashboard: 1 } as const;

/** A subscription over SSE: OK at its first event, else the error's code. */
async function overSse(token: string, query: string, variables: Record<string, unknown>): Promise<Code> {
  const controller = new AbortController();
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  if (res.status >= 300) return codeOfStatus(res.status);
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString();
      const data = /^data: (.*)$/m.exec(buffer)?.[1];
      if (!data) continue;
      const payload = JSON.parse(data) as { errors?: Array<{ extensions?: { code?: Code } }> };
      return payload.errors?.[0]?.extensions?.code ?? 'OK';
    }
  } finally {
    controller.abort();
  }
  return 'OK';
}

async function overRest(token: string, method: string, path: string, body?: unknown): Promise<Code> {
  const res = await fetch(`${t.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  await res.arrayBuffer();
  return codeOfStatus(res.status);
}

async function overRemoteWrite(token: string, dashboardId: string, headers: Record<string, string> = {}) {
  const body = SnappyJS.compress(
    await serialize({
      timeseries: [{ labels: [{ name: '__name__', value: 'rw' }], samples: [{ value: 1, timestamp: Date.now() }] }],
    }),
  );
  const res = await fetch(`${t.url}/api/dashboards/${dashboardId}/prometheus/write`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      authorization: `Bearer ${token}`,
      ...headers,
    },
    body: Buffer.from(body),
  });
  await res.arrayBuffer();
  return codeOfStatus(res.status);
}

type Case = [token: string, operation: string, transport: Transport, expected: Code];

/** What each operation is, per transport. */
const OPERATIONS: Record<string, (token: string, transport: Transport, dashboardId: string) => Promise<Code>> = {
  read: async (token, transport, d) =>
    transport === 'http'
      ? overHttp(token, READ, { d }, true)
      : transport === 'ws'
        ? overWs(token, READ, { d })
        : overRest(token, 'GET', `/dashboards/${d}`),
  subscribe: async (token, transport, d) =>
    transport === 'sse'
      ? overSse(token, EVENTS, { d, c: `sse-${randomUUID()}` })
      : overWs(token, EVENTS, { d, c: `ws-${randomUUID()}` }),
  submit: async (token, transport, d) => {
    const variables = await submitOp(d);
    return transport === 'ws' ? overWs(token, SUBMIT, variables) : overHttp(token, SUBMIT, variables);
  },
  push: async (token, transport, d) =>
    transport === 'http'
      ? overHttp(token, PUSH, { d })
      : transport === 'rest'
        ? overRest(token, 'POST', `/dashboards/${d}/points`, { points: [{ series: 'cpu', v: 1 }] })
        : overRemoteWrite(token, d),
  invite: async (token, transport, d) => {
    const guest = await signUp(t, 'Guest');
    return transport === 'rest'
      ? overRest(token, 'POST', `/dashboards/${d}/invite`, { email: guest.email, role: 'VIEWER' })
      : overHttp(
          token,
          `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: VIEWER) { role } }`,
          {
            d,
            e: guest.email,
          },
        );
  },
};

describe('[SC1] scoped API tokens on every transport', () => {
  beforeAll(async () => {
    t = await startApp(await createBackend(), { env: { RATE_LIMIT_POINTS: '100000' } });
    owner = await signUp(t, 'Owner');
    mine = await createDashboard(t, owner.token, 'Mine');
    other = await createDashboard(t, owner.token, 'Other');
    const scoped = (actions: string[]) => makeToken({ dashboards: [mine], actions }).then((x) => x.token);
    tokens.read = await scoped(['READ']);
    tokens.push = await scoped(['PUSH']);
    tokens.write = await scoped(['READ', 'WRITE']);
    tokens.admin = await scoped(['READ', 'ADMIN']);
    tokens.allRead = (await makeToken({ dashboards: null, actions: ['READ'] })).token;
    tokens.unscoped = (await makeToken(null)).token;
    tokens.elsewhere = (
      await makeToken({ actions: ['READ', 'WRITE', 'PUSH', 'ADMIN'], allowFrom: ['10.0.0.0/8'] })
    ).token;
  });

  const cases: Case[] = [
    // READ on its dashboard: reads and subscribes everywhere; nothing else.
    ['read', 'read', 'http', 'OK'],
    ['read', 'read', 'ws', 'OK'],
    ['read', 'read', 'rest', 'OK'],
    ['read', 'subscribe', 'ws', 'OK'],
    ['read', 'subscribe', 'sse', 'OK'],
    ['read', 'submit', 'http', 'FORBIDDEN'],
    ['read', 'submit', 'ws', 'FORBIDDEN'],
    ['read', 'push', 'http', 'FORBIDDEN'],
    ['read', 'push', 'rest', 'FORBIDDEN'],
    ['read', 'push', 'remote-write', 'FORBIDDEN'],
    ['read', 'invite', 'http', 'FORBIDDEN'],
    // PUSH only: points on every transport, not even a read.
    ['push', 'push', 'http', 'OK'],
    ['push', 'push', 'rest', 'OK'],
    ['push', 'push', 'remote-write', 'OK'],
    ['push', 'read', 'http', 'FORBIDDEN'],
    ['push', 'subscribe', 'sse', 'FORBIDDEN'],
    ['push', 'subscribe', 'ws', 'FORBIDDEN'],
    ['push', 'submit', 'http', 'FORBIDDEN'],
    // WRITE: ops, not points, not sharing.
    ['write', 'submit', 'http', 'OK'],
    ['write', 'submit', 'ws', 'OK'],
    ['write', 'push', 'http', 'FORBIDDEN'],
    ['write', 'invite', 'http', 'FORBIDDEN'],
    ['write', 'invite', 'rest', 'FORBIDDEN'],
    // ADMIN: sharing.
    ['admin', 'invite', 'http', 'OK'],
    ['admin', 'invite', 'rest', 'OK'],
    ['admin', 'submit', 'http', 'FORBIDDEN'],
    // Unscoped: as its user.
    ['unscoped', 'submit', 'http', 'OK'],
    ['unscoped', 'push', 'remote-write', 'OK'],
    // From an address outside allowFrom: refused whatever it asks, on every transport.
    ['elsewhere', 'read', 'http', 'UNAUTHENTICATED'],
    ['elsewhere', 'read', 'rest', 'UNAUTHENTICATED'],
    ['elsewhere', 'subscribe', 'ws', 'UNAUTHENTICATED'],
    ['elsewhere', 'subscribe', 'sse', 'UNAUTHENTICATED'],
    ['elsewhere', 'push', 'remote-write', 'UNAUTHENTICATED'],
  ];

  it.each(cases)(
    '[SC1] a %s token: %s over %s on its dashboard is %s',
    async (token, operation, transport, expected) => {
      expect(await OPERATIONS[operation]!(tokens[token]!, transport, mine)).toBe(expected);
    },
  );

  // Outside its list, every action on every transport is NOT_FOUND (AC1): as if absent.
  const outside: Array<[string, string, Transport]> = [
    ['read', 'read', 'http'],
    ['read', 'read', 'ws'],
    ['read', 'read', 'rest'],
    ['read', 'subscribe', 'ws'],
    ['read', 'subscribe', 'sse'],
    ['write', 'submit', 'http'],
    ['write', 'submit', 'ws'],
    ['push', 'push', 'http'],
    ['push', 'push', 'rest'],
    ['push', 'push', 'remote-write'],
    ['admin', 'invite', 'http'],
  ];
  it.each(outside)(
    '[SC1][AC1] a %s token: %s over %s on another dashboard is NOT_FOUND',
    async (token, operation, transport) => {
      expect(await OPERATIONS[operation]!(tokens[token]!, transport, other)).toBe('NOT_FOUND');
    },
  );

  it('[SC1] lists only its dashboards; cannot make, list or revoke tokens, nor embed tokens (no escalation)', async () => {
    const listed = await t.ok(`{ dashboards { id } }`, {}, tokens.read);
    expect(listed.dashboards.map((d: { id: string }) => d.id)).toEqual([mine]);
    const all = await t.ok(`{ dashboards { id } }`, {}, tokens.allRead);
    expect(all.dashboards.map((d: { id: string }) => d.id).sort()).toEqual([mine, other].sort());
    for (const token of [tokens.admin, tokens.allRead]) {
      expect(errorCode(await t.gql(CREATE_TOKEN, { n: 'wider', s: null }, token))).toBe('FORBIDDEN');
      expect(errorCode(await t.gql(`{ apiTokens { id } }`, {}, token))).toBe('FORBIDDEN');
      expect(
        errorCode(await t.gql(`mutation($d: ID!) { createEmbedToken(dashboardId: $d) { token } }`, { d: mine }, token)),
      ).toBe('FORBIDDEN');
    }
    expect(errorCode(await t.gql(`mutation { createDashboard(title: "x") { id } }`, {}, tokens.write))).toBe(
      'FORBIDDEN',
    );
  });

  it('[SC1] apiTokens shows each scope, last use and last address, never the secret', async () => {
    const { apiTokens } = await t.ok(
      `{ apiTokens { id name dashboards actions expiresAt allowFrom lastUsedAt lastUsedIp } }`,
      {},
      owner.token,
    );
    const text = JSON.stringify(apiTokens);
    for (const secret of Object.values(tokens)) expect(text).not.toContain(secret);
    expect(apiTokens).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dashboards: [mine], actions: ['PUSH'], lastUsedIp: '127.0.0.1', allowFrom: null }),
        expect.objectContaining({ dashboards: null, actions: null }), // unscoped
        expect.objectContaining({ allowFrom: ['10.0.0.0/8'], lastUsedAt: null, lastUsedIp: null }), // refused: audited, not a use
      ]),
    );
  });

  it('[SC1] refuses bad scopes with BAD_USER_INPUT', async () => {
    for (const scope of [
      { actions: [] },
      { dashboards: [], actions: ['READ'] },
      { dashboards: ['not-an-id'], actions: ['READ'] },
      { actions: ['READ'], expiresAt: new Date(Date.now() - 1000).toISOString() },
      { actions: ['READ'], allowFrom: ['10.0.0.0/33'] },
      { actions: ['READ'], allowFrom: ['example.com'] },
    ]) {
      expect(errorCode(await t.gql(CREATE_TOKEN, { n: 'bad', s: scope }, owner.token))).toBe('BAD_USER_INPUT');
    }
  });

  it('[SC1] a token is never more than its user: demoted to VIEWER, an old PUSH token is refused', async () => {
    const editor = await signUp(t, 'Editor');
    await t.ok(
      `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
      { d: mine, e: editor.email },
      owner.token,
    );
    const { token } = await makeToken({ dashboards: [mine], actions: ['PUSH'] }, editor.token);
    expect(await overRemoteWrite(token, mine)).toBe('OK');
    await t.ok(
      `mutation($d: ID!, $u: ID!) { updateCollaboratorRole(dashboardId: $d, userId: $u, role: VIEWER) { role } }`,
      { d: mine, u: editor.userId },
      owner.token,
    );
    expect(await overRemoteWrite(token, mine)).toBe('FORBIDDEN');
    expect(await overHttp(token, PUSH, { d: mine })).toBe('FORBIDDEN');
  });

  it('[SC1] an expired token is UNAUTHENTICATED, and a socket opened with it closes with 4401 at expiresAt', async () => {
    const expiresAt = new Date(Date.now() + 1500);
    const { token } = await makeToken({ dashboards: [mine], actions: ['READ'], expiresAt: expiresAt.toISOString() });
    let closedWith: number | undefined;
    const client = createClient({
      url: t.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authToken: token },
      retryAttempts: 0,
      on: { closed: (event) => (closedWith = (event as { code?: number }).code) },
    });
    const events: unknown[] = [];
    client.subscribe(
      { query: EVENTS, variables: { d: mine, c: `exp-${randomUUID()}` } },
      {
        next: (e) => void events.push(e),
        error: () => {},
        complete: () => {},
      },
    );
    await waitFor(() => events.length > 0, { timeout: 5000, description: 'the subscription to start' });
    await waitFor(() => closedWith !== undefined, { timeout: 5000, description: 'the socket to close' });
    expect(closedWith).toBe(4401);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime() - 50);
    expect(await overHttp(token, READ, { d: mine })).toBe('UNAUTHENTICATED');
    expect(await overRemoteWrite(token, mine)).toBe('UNAUTHENTICATED');
    await client.dispose();
  });

  it('[SC1] every refusal is in the audit log', async () => {
    const { dashboard } = await t.ok(
      `query($d: ID!) { dashboard(id: $d) { auditLog(limit: 200) { action details } } }`,
      { d: mine },
      owner.token,
    );
    const refusals = (
      dashboard.auditLog as Array<{ action: string; details: { action?: string; reason?: string } }>
    ).filter((e) => e.action === 'apiTokenRefused');
    expect(refusals.map((r) => r.details.action)).toEqual(expect.arrayContaining(['edit', 'push', 'manage', 'read']));
    const { dashboard: elsewhere } = await t.ok(
      `query($d: ID!) { dashboard(id: $d) { auditLog(limit: 200) { action details } } }`,
      { d: other },
      owner.token,
    );
    // Refusals outside a token's scope are filed under no dashboard: a caller chooses the id,
    // and must not be able to write into another owner's audit log.
    expect(elsewhere.auditLog.filter((e: { action: string }) => e.action === 'apiTokenRefused')).toEqual([]);
  });

  it('[SC1] WRITE and ADMIN include READ (their results show what they change); PUSH alone does not', async () => {
    const make = `mutation($s: TokenScope) { createApiToken(name: "w", scope: $s) { apiToken { actions } } }`;
    const write = await t.ok(make, { s: { dashboards: [mine], actions: ['WRITE'] } }, owner.token);
    expect(write.createApiToken.apiToken.actions).toEqual(['READ', 'WRITE']);
    const push = await t.ok(make, { s: { dashboards: [mine], actions: ['PUSH'] } }, owner.token);
    expect(push.createApiToken.apiToken.actions).toEqual(['PUSH']);
  });

  it('[SC1] a scoped token never shares an event execution with its user: auditLog stays FORBIDDEN to it', async () => {
    const query = `subscription($d: ID!, $c: ID!) { dashboardEvents(dashboardId: $d, clientId: $c) {
      __typename ... on DashboardChanged { dashboard { id auditLog(limit: 3) { action } } } } }`;
    const own = subscribeLog(t.wsClient(owner.token), query, { d: mine, c: `own-${randomUUID()}` }, 'dashboardEvents');
    const scoped = subscribeLog(
      t.wsClient(tokens.read!),
      query,
      { d: mine, c: `tok-${randomUUID()}` },
      'dashboardEvents',
    );
    const synced = (log: typeof own) => log.until((events) => events.some((e) => e?.__typename === 'SyncCompleted'));
    await Promise.all([synced(own), synced(scoped)]);
    const guest = await signUp(t, 'Guest');
    await t.ok(
      `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: VIEWER) { role } }`,
      { d: mine, e: guest.email },
      owner.token,
    );
    await own.until((events) => events.some((e) => e?.__typename === 'DashboardChanged'));
    await scoped.until(
      (events) => events.some((e) => e?.__typename === 'DashboardChanged') || scoped.errors.length > 0,
    );
    const seenByOwner = own.events.find((e) => e?.__typename === 'DashboardChanged');
    expect(seenByOwner.dashboard.auditLog.length).toBeGreaterThan(0);
    const seenByToken = scoped.events.find((e) => e?.__typename === 'DashboardChanged');
    expect(seenByToken?.dashboard?.auditLog ?? null).toBeNull();
    own.dispose();
    scoped.dispose();
  });
});

describe('[SC1] allowFrom behind a proxy (TRUST_PROXY)', () => {
  it('[SC1] the address a trusted proxy reports decides; a spoofed header without TRUST_PROXY does not', async () => {
    const backend = await createBackend();
    const proxied = await startApp(backend, { env: { TRUST_PROXY: 'true' } });
    const direct = await startApp(backend);
    const user = await signUp(proxied, 'Integrator');
    const board = await createDashboard(proxied, user.token, 'Behind nginx');
    const token = (
      await proxied.ok(
        CREATE_TOKEN,
        { n: 'office', s: { dashboards: [board], actions: ['READ'], allowFrom: ['198.51.100.0/24'] } },
        user.token,
      )
    ).createApiToken.token as string;
    const read = (app: TestApp, from: string) =>
      fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-forwarded-for': from },
        body: JSON.stringify({ query: READ, variables: { d: board } }),
      }).then(async (r) => errorCode((await r.json()) as { errors?: [] }) ?? 'OK');
    expect(await read(proxied, '198.51.100.23')).toBe('OK');
    expect(await read(proxied, '203.0.113.9')).toBe('UNAUTHENTICATED');
    expect(await read(direct, '198.51.100.23')).toBe('UNAUTHENTICATED'); // the header is not trusted
  });
});
