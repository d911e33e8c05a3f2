/**
 * A hostile-input battery (DESIGN.md section 7): every case asserts the exact error code,
 * and after the whole battery the server still serves an honest client. The battery runs as
 * one file against one server (helpers/hostile-target.ts), so that last test follows every
 * attack; the case tables are in helpers/hostile-auth-cases.ts and hostile-input-cases.ts.
 */
import WebSocket from 'ws';
import { errorCode, SUBMIT } from './helpers/harness.js';
import { roleCases, scopeCases, tokenCases } from './helpers/hostile-auth-cases.js';
import { inputCases, operationCases } from './helpers/hostile-input-cases.js';
import { id, ME, owner, RUN, stranger, t, useHostileTarget, viewer, type Case } from './helpers/hostile-target.js';

useHostileTarget();

const cases: Case[] = [...tokenCases, ...operationCases, ...roleCases, ...scopeCases, ...inputCases];

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
