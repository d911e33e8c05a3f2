/**
 * A hostile-input battery (DESIGN.md section 7): every case asserts the exact error code,
 * and after the whole battery the server still serves an honest client.
 */
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import {
  createBackend,
  mapAll,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  SUBMIT,
  type Backend,
  type GqlError,
  type TestApp,
} from './helpers/harness.js';

const RUN = Math.random().toString(36).slice(2, 8);
let backend: Backend;
let t: TestApp;
let owner: Awaited<ReturnType<typeof signUp>>;
let editor: Awaited<ReturnType<typeof signUp>>;
let viewer: Awaited<ReturnType<typeof signUp>>;
let stranger: Awaited<ReturnType<typeof signUp>>;
let removed: Awaited<ReturnType<typeof signUp>>;
let id: string;
let secret: Uint8Array;

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend, {
    env: {
      CONNECTION_INIT_TIMEOUT: '1',
      MAX_MESSAGE_BYTES: String(300 * 1024),
      MAX_SUBSCRIPTIONS_PER_SOCKET: '3',
      MAX_SOCKETS_PER_USER: '3',
    },
  });
  [owner, editor, viewer, stranger, removed] = await mapAll(['Owner', 'Editor', 'Viewer', 'Stranger', 'Removed'], (n) =>
    signUp(t, n),
  );
  id = await createDashboard(t, owner.token, 'target');
  const invite = `mutation($d: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $d, email: $e, role: $r) { role } }`;
  for (const [who, role] of [
    [editor, 'EDITOR'],
    [viewer, 'VIEWER'],
    [removed, 'EDITOR'],
  ] as const) {
    await t.ok(invite, { d: id, e: who.email, r: role }, owner.token);
  }
  await t.ok(
    `mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }`,
    { d: id, u: removed.userId },
    owner.token,
  );
  await t.ok(
    SUBMIT,
    {
      d: id,
      c: `seed-${RUN}`,
      s: 1,
      b: 0,
      op: addWidget(createDocument('target'), newWidget('note', { id: 'n', text: 'hello' })),
    },
    owner.token,
  );
  secret = new TextEncoder().encode(await t.app.services.store.getOrCreateSetting('jwt_secret', () => 'unused'));
});

const ME = '{ me { id } }';
const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
const submit = (token: string, vars: Record<string, unknown>) =>
  t.gql(SUBMIT, { d: id, c: `h-${RUN}`, s: 1, b: 1, ...vars }, token);
const mutation = (q: string, vars: Record<string, unknown>, token: string) => t.gql(q, vars, token);

type Case = [string, () => Promise<{ errors?: GqlError[] }>, string];

const cases: Case[] = [
  [
    'forged JWT signature',
    async () => t.gql(ME, {}, `${owner.token.split('.').slice(0, 2).join('.')}.AAAA`),
    'UNAUTHENTICATED',
  ],
  [
    'alg:none JWT',
    async () => t.gql(ME, {}, `${b64({ alg: 'none', typ: 'JWT' })}.${owner.token.split('.')[1]}.`),
    'UNAUTHENTICATED',
  ],
  [
    'JWT signed with another secret',
    async () =>
      t.gql(
        ME,
        {},
        await new SignJWT({ typ: 'access' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(owner.userId)
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode('x'.repeat(48))),
      ),
    'UNAUTHENTICATED',
  ],
  [
    'expired JWT',
    async () =>
      t.gql(
        ME,
        {},
        await new SignJWT({ typ: 'access' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(owner.userId)
          .setIssuedAt(1_000_000)
          .setExpirationTime(1_000_900)
          .sign(secret),
      ),
    'UNAUTHENTICATED',
  ],
  [
    'JWT of another kind (no typ)',
    async () =>
      t.gql(
        ME,
        {},
        await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(owner.userId)
          .setExpirationTime('1h')
          .sign(secret),
      ),
    'UNAUTHENTICATED',
  ],
  [
    'HS512 JWT with the right secret',
    async () =>
      t.gql(
        ME,
        {},
        await new SignJWT({ typ: 'access' })
          .setProtectedHeader({ alg: 'HS512' })
          .setSubject(owner.userId)
          .setExpirationTime('1h')
          .sign(secret),
      ),
    'UNAUTHENTICATED',
  ],
  ['made-up API token', async () => t.gql(ME, {}, 'dsh_madeup'), 'UNAUTHENTICATED'],
  [
    'alias bomb',
    async () => t.gql(`{ ${Array.from({ length: 100 }, (_, i) => `a${i}: me { id }`).join(' ')} }`, {}, owner.token),
    'GRAPHQL_VALIDATION_FAILED',
  ],
  [
    'oversized op',
    async () => submit(owner.token, { op: ['widgets', 'n', 'text', { es: [0, 'x'.repeat(270_000)] }] }),
    'PAYLOAD_TOO_LARGE',
  ],
  ['op that is not an ot-json1 op', async () => submit(owner.token, { op: { drop: 'table' } }), 'BAD_OPERATION'],
  [
    'op that breaks the document shape',
    async () => submit(owner.token, { op: ['widgets', 'n', 'w', { r: true, i: -5 }] }),
    'BAD_OPERATION',
  ],
  [
    'op on a missing widget',
    async () => submit(owner.token, { op: ['widgets', 'ghost', 'x', { r: true, i: 1 }] }),
    'BAD_OPERATION',
  ],
  [
    'number add on a string',
    async () => submit(owner.token, { op: ['widgets', 'n', 'text', { ena: 5 }] }),
    'BAD_OPERATION',
  ],
  [
    'fractional text skip',
    async () => submit(owner.token, { op: ['widgets', 'n', 'text', { es: [1.5, 'x'] }] }),
    'BAD_OPERATION',
  ],
  [
    'text delete past the end',
    async () => submit(owner.token, { op: ['widgets', 'n', 'text', { es: [3, { d: 10 }] }] }),
    'BAD_OPERATION',
  ],
  [
    'JSON nested 200 deep',
    async () => submit(owner.token, { op: JSON.parse('['.repeat(200) + ']'.repeat(200)) }),
    'BAD_USER_INPUT',
  ],
  [
    'negative baseVersion',
    async () => submit(owner.token, { b: -1, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'BAD_USER_INPUT',
  ],
  [
    'baseVersion in the future',
    async () => submit(owner.token, { b: 99, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'BAD_USER_INPUT',
  ],
  ['seq 0', async () => submit(owner.token, { s: 0, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }), 'BAD_USER_INPUT'],
  [
    'clientId with spaces',
    async () => submit(owner.token, { c: 'a b c', op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'BAD_USER_INPUT',
  ],
  [
    "another user's clientId",
    async () => submit(editor.token, { c: `seed-${RUN}`, s: 9, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'FORBIDDEN',
  ],
  [
    'stranger submits',
    async () => submit(stranger.token, { c: `s-${RUN}`, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'NOT_FOUND',
  ],
  [
    'removed collaborator submits',
    async () => submit(removed.token, { c: `r-${RUN}`, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'NOT_FOUND',
  ],
  [
    'viewer submits',
    async () => submit(viewer.token, { c: `v-${RUN}`, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'FORBIDDEN',
  ],
  [
    'viewer renames',
    async () => mutation(`mutation($d: ID!) { renameDashboard(id: $d, title: "x") { id } }`, { d: id }, viewer.token),
    'FORBIDDEN',
  ],
  [
    'viewer invites',
    async () =>
      mutation(
        `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
        { d: id, e: stranger.email },
        viewer.token,
      ),
    'FORBIDDEN',
  ],
  [
    'viewer undoes',
    async () =>
      mutation(
        `mutation($d: ID!) { undo(dashboardId: $d, clientId: "v-undo", seq: 1) { version } }`,
        { d: id },
        viewer.token,
      ),
    'FORBIDDEN',
  ],
  [
    'viewer restores',
    async () =>
      mutation(
        `mutation($d: ID!) { restoreVersion(dashboardId: $d, version: 0, clientId: "v-res", seq: 1) { version } }`,
        { d: id },
        viewer.token,
      ),
    'FORBIDDEN',
  ],
  [
    'viewer checkpoints',
    async () =>
      mutation(`mutation($d: ID!) { createCheckpoint(dashboardId: $d, name: "x") { id } }`, { d: id }, viewer.token),
    'FORBIDDEN',
  ],
  [
    'editor deletes',
    async () => mutation(`mutation($d: ID!) { deleteDashboard(id: $d) }`, { d: id }, editor.token),
    'FORBIDDEN',
  ],
  [
    'editor reads the audit log',
    async () => t.gql(`query($d: ID!) { dashboard(id: $d) { auditLog { action } } }`, { d: id }, editor.token),
    'FORBIDDEN',
  ],
  [
    'stranger invites himself',
    async () =>
      mutation(
        `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
        { d: id, e: stranger.email },
        stranger.token,
      ),
    'NOT_FOUND',
  ],
  [
    'stranger moves a cursor',
    async () =>
      mutation(
        `mutation($d: ID!) { updatePresence(dashboardId: $d, clientId: "s-cur", cursor: { x: 1, y: 1 }) }`,
        { d: id },
        stranger.token,
      ),
    'NOT_FOUND',
  ],
  [
    'huge presence payload',
    async () =>
      mutation(
        `mutation($d: ID!, $c: JSON) { updatePresence(dashboardId: $d, clientId: "o-cur", cursor: $c) }`,
        { d: id, c: { x: 1, y: 1, pad: 'x'.repeat(10_000) } },
        owner.token,
      ),
    'PAYLOAD_TOO_LARGE',
  ],
  [
    'presence of the wrong shape',
    async () =>
      mutation(
        `mutation($d: ID!, $c: JSON) { updatePresence(dashboardId: $d, clientId: "o-cur", cursor: $c) }`,
        { d: id, c: 'over there' },
        owner.token,
      ),
    'BAD_USER_INPUT',
  ],
  [
    'SQL in a dashboard id',
    async () => mutation(`mutation { deleteDashboard(id: "1'; DROP TABLE dashboards; --") }`, {}, owner.token),
    'NOT_FOUND',
  ],
  [
    'SQL in a user id',
    async () =>
      mutation(
        `mutation($d: ID!) { removeCollaborator(dashboardId: $d, userId: "x' OR '1'='1") }`,
        { d: id },
        owner.token,
      ),
    'NOT_FOUND',
  ],
  [
    'SQL in an email to invite',
    async () =>
      mutation(
        `mutation($d: ID!) { inviteCollaborator(dashboardId: $d, email: "a@b.c' OR 1=1 --", role: EDITOR) { role } }`,
        { d: id },
        owner.token,
      ),
    'BAD_USER_INPUT',
  ],
  [
    'a 10 000 character name',
    async () =>
      t.gql(
        `mutation($n: String!) { signUp(email: "long-${RUN}@example.com", name: $n, password: "long-pass-1") { accessToken } }`,
        { n: 'n'.repeat(10_000) },
      ),
    'BAD_USER_INPUT',
  ],
  [
    'a 1 MB-ish password',
    async () =>
      t.gql(
        `mutation($p: String!) { signUp(email: "pw-${RUN}@example.com", name: "P", password: $p) { accessToken } }`,
        { p: 'p1'.repeat(100_000) },
      ),
    'BAD_USER_INPUT',
  ],
  [
    'a 300-character title',
    async () =>
      mutation(`mutation($t: String!) { createDashboard(title: $t) { id } }`, { t: 't'.repeat(300) }, owner.token),
    'BAD_USER_INPUT',
  ],
  [
    'undo with a clientId of another user',
    async () =>
      mutation(
        `mutation($d: ID!, $c: ID!) { undo(dashboardId: $d, clientId: $c, seq: 50) { version } }`,
        { d: id, c: `seed-${RUN}` },
        editor.token,
      ),
    'FORBIDDEN',
  ],
];

describe('hostile input: exact codes, nothing committed', () => {
  it.each(cases)('%s -> %s', async (_name, run, code) => {
    const before = (await t.ok(`query($d: ID!) { dashboard(id: $d) { version } }`, { d: id }, owner.token)).dashboard
      .version;
    expect(errorCode(await run())).toBe(code);
    expect(
      (await t.ok(`query($d: ID!) { dashboard(id: $d) { version } }`, { d: id }, owner.token)).dashboard.version,
    ).toBe(before);
  });

  it('SQL-ish strings in text inputs are stored as text', async () => {
    const title = `Robert'); DROP TABLE dashboards;-- ${RUN}`;
    const { createDashboard } = await t.ok(
      `mutation($t: String!) { createDashboard(title: $t) { id title } }`,
      { t: title },
      owner.token,
    );
    expect(createDashboard.title).toBe(title);
    const { createCheckpoint } = await t.ok(
      `mutation($d: ID!, $n: String!) { createCheckpoint(dashboardId: $d, name: $n) { name } }`,
      { d: createDashboard.id, n: "x' OR '1'='1" },
      owner.token,
    );
    expect(createCheckpoint.name).toBe("x' OR '1'='1");
    expect((await t.ok(`{ dashboards { id } }`, {}, owner.token)).dashboards.length).toBeGreaterThan(1);
  });
});

describe('hostile HTTP', () => {
  it('a body over the limit is PAYLOAD_TOO_LARGE (413)', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: ME, pad: 'x'.repeat(400 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(errorCode(await res.json())).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a cross-site form post (text/plain, no preflight header) is refused (CSRF)', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query: 'mutation { createDashboard(title: "csrf") { id } }' }),
    });
    expect(res.status).toBe(400);
    expect(errorCode(await res.json())).toBe('BAD_USER_INPUT');
  });

  it('malformed JSON is a client error', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(res.status).toBe(400);
  });
});

/** A raw graphql-transport-ws socket, to misbehave in ways the real client will not. */
function raw(protocol = 'graphql-transport-ws', options: WebSocket.ClientOptions = {}) {
  const socket = new WebSocket(t.wsUrl, protocol, options);
  const messages: any[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  const opened = new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
  const next = (type: string) =>
    new Promise<any>((resolve) => {
      const check = () => {
        const found = messages.find((m) => m.type === type);
        if (found) resolve(found);
        else socket.once('message', () => setImmediate(check));
      };
      check();
    });
  return {
    socket,
    messages,
    closed,
    opened,
    next,
    send: (m: unknown) => socket.send(typeof m === 'string' ? m : JSON.stringify(m)),
  };
}

describe('hostile WebSocket', () => {
  it('no connection_init in time: 4408', async () => {
    const c = raw();
    await c.opened;
    expect(await c.closed).toBe(4408);
  });

  it('a subscribe before connection_init is acknowledged: 4401', async () => {
    const c = raw();
    await c.opened;
    c.send({ id: '1', type: 'subscribe', payload: { query: ME } });
    expect(await c.closed).toBe(4401);
  });

  it('another subprotocol is not spoken', async () => {
    const c = raw('graphql-ws');
    // The server agrees to no subprotocol, so the client must abandon the handshake.
    await expect(c.opened).rejects.toThrow(/subprotocol/i);
    expect(await c.closed).toBe(1006);
    expect(c.messages).toEqual([]);
  });

  it('a message that is not JSON: 4400', async () => {
    const c = raw();
    await c.opened;
    c.send({ type: 'connection_init', payload: { authToken: owner.token } });
    await c.next('connection_ack');
    c.send('{{{ not json');
    expect(await c.closed).toBe(4400);
  });

  it('a message over the size limit: 1009', async () => {
    const c = raw();
    await c.opened;
    c.send({ type: 'connection_init', payload: { authToken: owner.token, pad: 'x'.repeat(400 * 1024) } });
    expect(await c.closed).toBe(1009);
  });

  it('a duplicate operation id: 4409', async () => {
    const c = raw();
    await c.opened;
    c.send({ type: 'connection_init', payload: { authToken: owner.token } });
    await c.next('connection_ack');
    const sub = {
      type: 'subscribe',
      payload: {
        query: `subscription($d: ID!) { dashboardEvents(dashboardId: $d, clientId: "dup-${RUN}") { __typename } }`,
        variables: { d: id },
      },
    };
    c.send({ id: 'same', ...sub });
    await c.next('next');
    c.send({ id: 'same', ...sub });
    expect(await c.closed).toBe(4409);
  });

  it('a subscription flood past the per-socket cap gets RATE_LIMITED; the socket lives on', async () => {
    const c = raw();
    await c.opened;
    c.send({ type: 'connection_init', payload: { authToken: viewer.token } });
    await c.next('connection_ack');
    for (let i = 0; i < 4; i++) {
      c.send({
        id: `s${i}`,
        type: 'subscribe',
        payload: {
          query: `subscription($d: ID!) { dashboardEvents(dashboardId: $d, clientId: "flood-${RUN}-${i}") { __typename } }`,
          variables: { d: id },
        },
      });
    }
    const refused = await c.next('error');
    expect(refused.id).toBe('s3');
    expect(refused.payload[0].extensions.code).toBe('RATE_LIMITED');
    c.send({ id: 'q', type: 'subscribe', payload: { query: ME } });
    await new Promise<void>((resolve) => {
      const check = () =>
        c.messages.some((m) => m.id === 'q' && m.type === 'next') ? resolve() : c.socket.once('message', check);
      check();
    });
    c.socket.close();
  });

  it('too many sockets for one user: 4429', async () => {
    const sockets = [raw(), raw(), raw(), raw()];
    const codes: Array<number | 'ack'> = [];
    for (const c of sockets) {
      await c.opened;
      c.send({ type: 'connection_init', payload: { authToken: stranger.token } });
      codes.push(await Promise.race([c.next('connection_ack').then(() => 'ack' as const), c.closed]));
    }
    expect(codes).toEqual(['ack', 'ack', 'ack', 4429]);
    for (const c of sockets) c.socket.close();
  });
});

it('after the battery the server still serves an honest client', async () => {
  expect((await t.ok(ME, {}, owner.token)).me.id).toBe(owner.userId);
  const r = await t.gql(
    SUBMIT,
    { d: id, c: `honest-${RUN}`, s: 1, b: 1, op: ['widgets', 'n', 'x', { r: true, i: 3 }] },
    owner.token,
  );
  expect(r.data?.submitOperation.version).toBe(2);
});
