/**
 * Rules EM1-EM3: read-only embed tokens for the Vue viewer, on every transport (HTTP, REST, SSE,
 * WebSocket), the embed policy served with the viewer (EMBED_ORIGINS) and embed socket budgets.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import {
  createBackend,
  mapAll,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  subscribeEvents,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';
import { withTimeout } from './helpers/wait.js';

const RUN = Math.random().toString(36).slice(2, 8);
const MINT = `mutation($d: ID!, $ttl: Int) { createEmbedToken(dashboardId: $d, ttlSeconds: $ttl) { token expiresAt url } }`;
const DASHBOARD = `query($id: ID!) { dashboard(id: $id) { id title myRole document version } }`;
const INVITE = `mutation($d: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $d, email: $e, role: $r) { role } }`;
const REMOVE = `mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }`;

let backend: Backend;
let t: TestApp;
let offsetMs = 0;
const clock = { now: () => new Date(Date.now() + offsetMs) };

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend, { clock });
});
afterEach(() => {
  offsetMs = 0;
});

async function mint(token: string, dashboardId: string, ttl?: number): Promise<string> {
  const data = await t.ok(MINT, { d: dashboardId, ttl }, token);
  return data.createEmbedToken.token;
}

const note = (id: string) => addWidget(createDocument('x'), newWidget('note', { id }));

/** A closed socket's code, or 'open' once the connection was acknowledged. */
function connectionOutcome(token: string): Promise<number | 'open'> {
  const client = t.wsClient(token);
  return new Promise((resolve) => {
    client.on('connected', () => resolve('open'));
    client.on('closed', (e) => resolve((e as { code: number }).code));
    client.subscribe({ query: '{ __typename }' }, { next: () => {}, error: () => {}, complete: () => {} });
  });
}

describe('[EM1] createEmbedToken', () => {
  it('gives the owner a 24-hour token and the viewer URL that uses it', async () => {
    const owner = await signUp(t, 'EmbedOwner');
    const id = await createDashboard(t, owner.token, 'Embedded');
    const before = Date.now();
    const { createEmbedToken: made } = await t.ok(MINT, { d: id }, owner.token);
    const ttl = new Date(made.expiresAt).getTime() - before;
    expect(ttl).toBeGreaterThan(24 * 3600_000 - 5000);
    expect(ttl).toBeLessThanOrEqual(24 * 3600_000 + 1000);
    const url = new URL(made.url);
    expect(url.origin).toBe(t.url);
    expect(url.pathname).toBe('/vue.html');
    expect(Object.fromEntries(url.searchParams)).toEqual({ dashboard: id, token: made.token });
  });

  it('is for EDITOR and up: VIEWER FORBIDDEN, a non-member NOT_FOUND (AC1), lifetimes 1 s to 30 days', async () => {
    const [owner, editor, viewer, stranger] = await mapAll(
      ['MintOwner', 'MintEditor', 'MintViewer', 'MintStranger'],
      (n) => signUp(t, n),
    );
    const id = await createDashboard(t, owner.token, 'mint rights');
    await t.ok(INVITE, { d: id, e: editor.email, r: 'EDITOR' }, owner.token);
    await t.ok(INVITE, { d: id, e: viewer.email, r: 'VIEWER' }, owner.token);
    expect(await mint(editor.token, id, 30 * 24 * 3600)).toEqual(expect.any(String));
    expect(errorCode(await t.gql(MINT, { d: id }, viewer.token))).toBe('FORBIDDEN');
    expect(errorCode(await t.gql(MINT, { d: id }, stranger.token))).toBe('NOT_FOUND');
    expect(errorCode(await t.gql(MINT, { d: id }))).toBe('UNAUTHENTICATED');
    for (const ttl of [0, -5, 30 * 24 * 3600 + 1]) {
      expect(errorCode(await t.gql(MINT, { d: id, ttl }, owner.token))).toBe('BAD_USER_INPUT');
    }
  });
});

describe('[EM1] an embed token reads one dashboard as a VIEWER', () => {
  let owner: Awaited<ReturnType<typeof signUp>>;
  let id: string;
  let other: string;
  let embed: string;

  beforeAll(async () => {
    owner = await signUp(t, 'Scoped');
    id = await createDashboard(t, owner.token, 'Shown');
    other = await createDashboard(t, owner.token, 'Hidden');
    embed = await mint(owner.token, id);
  });

  it('over HTTP: its dashboard as VIEWER, nothing else (not even the same owner’s), no account data or emails', async () => {
    const { dashboard } = await t.ok(DASHBOARD, { id }, embed);
    expect(dashboard).toMatchObject({ id, title: 'Shown', myRole: 'VIEWER' });
    expect(await t.ok(DASHBOARD, { id: other }, embed)).toEqual({ dashboard: null });
    expect((await t.ok(`{ dashboards { id myRole } }`, {}, embed)).dashboards).toEqual([{ id, myRole: 'VIEWER' }]);
    expect(await t.ok(`{ me { id } }`, {}, embed)).toEqual({ me: null });
    const people = await t.ok(
      `query($id: ID!) { dashboard(id: $id) { owner { name email } collaborators { user { email } } } }`,
      { id },
      embed,
    );
    expect(people.dashboard).toEqual({
      owner: { name: 'Scoped', email: '' },
      collaborators: [{ user: { email: '' } }],
    });
    expect(errorCode(await t.gql(`{ apiTokens { id } }`, {}, embed))).toBe('FORBIDDEN');
    expect(errorCode(await t.gql(`query($id: ID!) { dashboard(id: $id) { auditLog { id } } }`, { id }, embed))).toBe(
      'FORBIDDEN',
    );
    // The owner's own token is not narrowed by the embed token it made.
    expect((await t.ok(`{ dashboards { id } }`, {}, owner.token)).dashboards).toHaveLength(2);
  });

  it('every mutation is FORBIDDEN: rename, submit, presence, another embed token, even on another dashboard', async () => {
    const refused = [
      [`mutation($id: ID!) { renameDashboard(id: $id, title: "pwned") { id } }`, { id }],
      [SUBMIT, { d: id, c: `em-${RUN}`, s: 1, b: 0, op: note('w1') }],
      [MINT, { d: id }],
      [MINT, { d: other }],
      [
        `mutation($d: ID!) { updatePresence(dashboardId: $d, clientId: "em-p-${RUN}", cursor: { x: 1, y: 1 }) }`,
        { d: id },
      ],
      [`mutation($id: ID!) { deleteDashboard(id: $id) }`, { id: other }],
      [`mutation { createDashboard(title: "mine") { id } }`, {}],
      [`mutation { createApiToken(name: "escalate") { token } }`, {}],
    ] as const;
    for (const [query, variables] of refused) {
      expect([query, errorCode(await t.gql(query, variables, embed))]).toEqual([query, 'FORBIDDEN']);
    }
    const { dashboard } = await t.ok(DASHBOARD, { id }, owner.token);
    expect(dashboard).toMatchObject({ title: 'Shown', version: 0 });
    expect((await t.ok(`{ dashboards { id } }`, {}, owner.token)).dashboards).toHaveLength(2);
  });

  it('over REST: GET its dashboard, 404 for the other, 403 for a rename', async () => {
    const api = (method: string, route: string) =>
      fetch(`${t.url}/api${route}`, {
        method,
        headers: { authorization: `Bearer ${embed}`, 'content-type': 'application/json' },
        body: method === 'PUT' ? JSON.stringify({ title: 'pwned' }) : undefined,
      });
    const mine = await api('GET', `/dashboards/${id}`);
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ id, myRole: 'VIEWER' });
    expect((await api('GET', `/dashboards/${other}`)).status).toBe(404);
    expect((await api('PUT', `/dashboards/${id}`)).status).toBe(403);
  });

  it('over WebSocket: live ops of its dashboard, absent from presence; NOT_FOUND elsewhere; mutations FORBIDDEN', async () => {
    const watcher = t.wsClient(owner.token);
    const ownerLog = subscribeEvents(watcher, { d: id, c: `em-owner-${RUN}` });
    await ownerLog.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));

    const client = t.wsClient(embed);
    const log = subscribeEvents(client, { d: id, c: `em-ws-${RUN}` });
    await log.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));

    await t.ok(SUBMIT, { d: id, c: `em-edit-${RUN}`, s: 1, b: 0, op: note('live') }, owner.token);
    await log.until((e) => e.some((x) => x.__typename === 'OperationApplied' && x.version === 1));

    // Not present: neither listed nor announced to the others.
    const { dashboard } = await t.ok(
      `query($id: ID!) { dashboard(id: $id) { presence { clientId } } }`,
      { id },
      owner.token,
    );
    expect(dashboard.presence.map((p: { clientId: string }) => p.clientId)).not.toContain(`em-ws-${RUN}`);
    await ownerLog.until((e) => e.some((x) => x.__typename === 'OperationApplied' && x.version === 1));
    expect(ownerLog.events.filter((x) => x.__typename === 'PresenceUpdated')).toEqual([]);

    const elsewhere = subscribeEvents(client, { d: other, c: `em-ws2-${RUN}` });
    await elsewhere.until(() => elsewhere.errors.length > 0 || elsewhere.completed).catch(() => {});
    expect((elsewhere.errors[0] as { extensions?: { code?: string } }).extensions?.code).toBe('NOT_FOUND');

    const submitted = await new Promise<any>((resolve) =>
      client.subscribe(
        { query: SUBMIT, variables: { d: id, c: `em-ws-${RUN}`, s: 1, b: 1, op: note('nope') } },
        { next: resolve, error: resolve, complete: () => {} },
      ),
    );
    expect(errorCode(submitted)).toBe('FORBIDDEN');
    log.dispose();
    ownerLog.dispose();
  });

  it('live events are resolved for the token, never shared with its maker: VIEWER, no emails', async () => {
    // The same document for both, so only the audience keeps their payloads apart.
    const query = `subscription($d: ID!, $c: ID!) { dashboardEvents(dashboardId: $d, clientId: $c) {
      __typename
      ... on OperationApplied { version author { email } }
      ... on DashboardChanged { dashboard { myRole owner { email } } }
    } }`;
    const listen = (token: string, clientId: string) => {
      const events: any[] = [];
      const client = t.wsClient(token);
      let notify = () => {};
      client.subscribe(
        { query, variables: { d: id, c: clientId } },
        {
          next: (r) => {
            events.push(r.data?.dashboardEvents ?? r);
            notify();
          },
          error: () => {},
          complete: () => {},
        },
      );
      const until = (type: string) =>
        withTimeout(
          new Promise<any>((resolve) => {
            notify = () => {
              const found = events.find((e) => e.__typename === type);
              if (found) resolve(found);
            };
            notify();
          }),
          10_000,
          `${type} for ${clientId}`,
        );
      return { until };
    };
    const mine = listen(owner.token, `em-aud-o-${RUN}`);
    const theirs = listen(embed, `em-aud-e-${RUN}`);
    await mine.until('SyncCompleted');
    await theirs.until('SyncCompleted');

    const { dashboard } = await t.ok(`query($id: ID!) { dashboard(id: $id) { version } }`, { id }, owner.token);
    await t.ok(SUBMIT, { d: id, c: `em-aud-${RUN}`, s: 1, b: dashboard.version, op: note('aud') }, owner.token);
    const invitee = await signUp(t, 'Invitee');
    await t.ok(INVITE, { d: id, e: invitee.email, r: 'VIEWER' }, owner.token);

    expect((await mine.until('OperationApplied')).author.email).toBe(owner.email);
    expect((await theirs.until('OperationApplied')).author.email).toBe('');
    expect((await mine.until('DashboardChanged')).dashboard).toEqual({
      myRole: 'OWNER',
      owner: { email: owner.email },
    });
    expect((await theirs.until('DashboardChanged')).dashboard).toEqual({ myRole: 'VIEWER', owner: { email: '' } });
  });

  it('over SSE: subscribes to its dashboard, NOT_FOUND for another', async () => {
    const first = async (dashboardId: string) => {
      const controller = new AbortController();
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${embed}` },
        body: JSON.stringify({
          query: `subscription($d: ID!, $c: ID!) { dashboardEvents(dashboardId: $d, clientId: $c) { __typename } }`,
          variables: { d: dashboardId, c: `em-sse-${RUN}` },
        }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended without data: ${buffer}`);
          buffer += decoder.decode(value, { stream: true });
          const data = /^data: (.*)$/m.exec(buffer)?.[1];
          if (data && buffer.includes('\n\n')) return JSON.parse(data);
        }
      } finally {
        await reader.cancel().catch(() => {});
        controller.abort();
      }
    };
    expect((await first(id)).data.dashboardEvents.__typename).toBe('SyncCompleted');
    expect(errorCode(await first(other))).toBe('NOT_FOUND');
  });
});

describe('[EM1] an embed token ends with its lifetime and with its maker’s access', () => {
  it('is UNAUTHENTICATED after expiresAt, over HTTP and WebSocket (4401)', async () => {
    const owner = await signUp(t, 'Expiring');
    const id = await createDashboard(t, owner.token, 'expiring');
    const embed = await mint(owner.token, id, 60);
    expect((await t.ok(DASHBOARD, { id }, embed)).dashboard.id).toBe(id);
    offsetMs = 61_000;
    expect(errorCode(await t.gql(DASHBOARD, { id }, embed))).toBe('UNAUTHENTICATED');
    expect(await connectionOutcome(embed)).toBe(4401);
  });

  it('closes a live socket with 4401 at expiry', async () => {
    const owner = await signUp(t, 'ShortLived');
    const id = await createDashboard(t, owner.token, 'short');
    const embed = await mint(owner.token, id, 2);
    const client = t.wsClient(embed);
    const closed = new Promise<number>((resolve) => client.on('closed', (e) => resolve((e as { code: number }).code)));
    const log = subscribeEvents(client, { d: id, c: `em-exp-${RUN}` });
    await log.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    expect(await closed).toBe(4401);
  });

  it('stops when its maker is removed: AccessRevoked live (AU1), then NOT_FOUND', async () => {
    const owner = await signUp(t, 'Remover');
    const editor = await signUp(t, 'Removed');
    const id = await createDashboard(t, owner.token, 'revocable');
    await t.ok(INVITE, { d: id, e: editor.email, r: 'EDITOR' }, owner.token);
    const embed = await mint(editor.token, id);
    const client = t.wsClient(embed);
    const log = subscribeEvents(client, { d: id, c: `em-rev-${RUN}` });
    await log.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));

    await t.ok(REMOVE, { d: id, u: editor.userId }, owner.token);
    await log.until((e) => e.some((x) => x.__typename === 'AccessRevoked'));
    expect(log.events.at(-1)).toEqual({ __typename: 'AccessRevoked', dashboardId: id, reason: 'REMOVED' });

    expect(await t.ok(DASHBOARD, { id }, embed)).toEqual({ dashboard: null });
    const again = subscribeEvents(client, { d: id, c: `em-rev2-${RUN}` });
    await again.until(() => again.errors.length > 0).catch(() => {});
    expect((again.errors[0] as { extensions?: { code?: string } }).extensions?.code).toBe('NOT_FOUND');
  });
});

describe('[EM2] EMBED_ORIGINS: who may frame the viewer', () => {
  let dist: string;
  beforeAll(() => {
    dist = mkdtempSync(path.join(tmpdir(), 'embed-dist-'));
    writeFileSync(path.join(dist, 'vue.html'), '<!doctype html><div id="app"></div>');
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><div id="root"></div>');
  });
  afterAll(() => rmSync(dist, { recursive: true, force: true }));

  async function served(env: Record<string, string>) {
    const app = await startApp(backend, { env: { WEB_DIST: dist, ...env } });
    try {
      const viewer = await fetch(`${app.url}/vue.html?dashboard=x&token=y`);
      const index = await fetch(`${app.url}/`);
      const config = await fetch(`${app.url}/api/embed-config`);
      return {
        csp: viewer.headers.get('content-security-policy'),
        referrer: viewer.headers.get('referrer-policy'),
        indexCsp: index.headers.get('content-security-policy'),
        config: { status: config.status, body: await config.json() },
      };
    } finally {
      await app.stop();
    }
  }

  it('sends frame-ancestors with the allow-list on vue.html, and the list at /api/embed-config', async () => {
    const got = await served({ EMBED_ORIGINS: 'https://a.example, https://b.example:8443' });
    expect(got.csp).toBe("frame-ancestors 'self' https://a.example https://b.example:8443");
    expect(got.referrer).toBe('no-referrer');
    expect(got.indexCsp).toBeNull();
    expect(got.config).toEqual({ status: 200, body: { origins: ['https://a.example', 'https://b.example:8443'] } });
  });

  it("defaults to CORS_ORIGINS, else to the viewer's own origin only", async () => {
    const cors = await served({ CORS_ORIGINS: 'https://app.example' });
    expect(cors.csp).toBe("frame-ancestors 'self' https://app.example");
    expect(cors.config.body).toEqual({ origins: ['https://app.example'] });
    const none = await served({});
    expect(none.csp).toBe("frame-ancestors 'self'");
    expect(none.config.body).toEqual({ origins: [] });
  });
});

describe('[EM3] socket budgets', () => {
  it("an embed link's sockets have a budget of their own: a busy wall screen never locks its maker out", async () => {
    const app = await startApp(backend, { env: { MAX_SOCKETS_PER_USER: '2' } });
    try {
      const maker = await signUp(app, 'BudgetMaker');
      const id = await createDashboard(app, maker.token, 'Wall');
      const embed = (await app.ok(MINT, { d: id }, maker.token)).createEmbedToken.token as string;
      // Sockets that stay open (not lazy), as a wall screen's does.
      const outcome = (token: string) =>
        new Promise<number | 'open'>((resolve) => {
          const client = app.wsClient(token, { lazy: false });
          client.on('connected', () => resolve('open'));
          client.on('closed', (e) => resolve((e as { code: number }).code));
        });
      expect(await outcome(embed)).toBe('open');
      expect(await outcome(embed)).toBe('open');
      expect(await outcome(embed)).toBe(4429); // the embed's own budget is spent
      expect(await outcome(maker.token)).toBe('open'); // the maker's is untouched
    } finally {
      await app.stop();
    }
  });
});
