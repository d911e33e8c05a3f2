/**
 * Fan-out shares work between subscribers (transport/shared-execution.ts): each event is
 * executed once per selection shape, yet every subscriber still gets exactly the payload its
 * own selection, variables and role call for; a socket that does not drain is cut (1013)
 * and resumes without losing an op.
 */
import WebSocket from 'ws';
import {
  addWidget,
  applyOp,
  composeOps,
  createDocument,
  newWidget,
  removeWidget,
  type DashboardDocument,
  type JSONOp,
} from '@collab-dashboards/core';
import type { Store } from '../src/ports/store.js';
import { createHub } from '../src/services/hub.js';
import { createMemoryEventBus } from '../src/adapters/memory-event-bus.js';
import {
  createBackend,
  mapAll,
  createDashboard,
  signUp,
  startApp,
  subscribeEvents,
  EVENTS,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';
import { deferred, waitFor } from './helpers/wait.js';

const RUN = Math.random().toString(36).slice(2, 8);
const cid = (name: string) => `${name}-${RUN}`;
const MOVE = `mutation($d: ID!, $c: ID!, $cursor: JSON) { updatePresence(dashboardId: $d, clientId: $c, cursor: $cursor) }`;
const INVITE = `mutation($d: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $d, email: $e, role: $r) { role } }`;

let backend: Backend;
let t: TestApp;
/** Calls of store.findUsersByIds: each execution of `user { ... }` on a fresh context makes one. */
const userLookups: string[][] = [];
let ann: Awaited<ReturnType<typeof signUp>>;
let bob: Awaited<ReturnType<typeof signUp>>;
let vic: Awaited<ReturnType<typeof signUp>>;

beforeAll(async () => {
  backend = await createBackend();
  const counting = new Proxy(backend.store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      if (key !== 'findUsersByIds') return value.bind(target);
      return (ids: readonly string[]) => {
        userLookups.push([...ids]);
        return value.call(target, ids);
      };
    },
  }) as Store;
  t = await startApp(backend, { store: counting });
  [ann, bob, vic] = await mapAll(['Ann', 'Bob', 'Vic'], (n) => signUp(t, n));
});

async function board(title: string) {
  const id = await createDashboard(t, ann.token, title);
  await t.ok(INVITE, { d: id, e: bob.email, r: 'EDITOR' }, ann.token);
  await t.ok(INVITE, { d: id, e: vic.email, r: 'VIEWER' }, ann.token);
  return id;
}

/** A subscription with any document; records the dashboardEvents payloads. */
function listen(token: string, query: string, variables: Record<string, unknown>) {
  const events: any[] = [];
  const changed = new Set<() => void>();
  const client = t.wsClient(token);
  client.subscribe(
    { query, variables },
    {
      next: (result) => {
        events.push(result.errors ? { errors: result.errors } : (result.data as any).dashboardEvents);
        for (const f of [...changed]) f();
      },
      error: () => {},
      complete: () => {},
    },
  );
  const until = (predicate: (events: any[]) => boolean) =>
    new Promise<any[]>((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(events.slice(-3))}`)), 10_000);
      const check = () => {
        if (!predicate(events)) return;
        clearTimeout(limit);
        changed.delete(check);
        resolve(events);
      };
      changed.add(check);
      check();
    });
  return { events, until };
}

const synced = (events: any[]) => events.some((e) => e.__typename === 'SyncCompleted');

describe('one execution per shape, the right payload for every subscriber', () => {
  it('subscribers with different selection sets each receive exactly their own fields', async () => {
    const id = await board('shapes');
    const full = subscribeEvents(t.wsClient(ann.token), { d: id, c: cid('full') });
    const lean = listen(
      bob.token,
      `subscription($d: ID!, $c: ID!) { dashboardEvents(dashboardId: $d, clientId: $c) {
        __typename ... on PresenceUpdated { presence { clientId cursor } } ... on OperationApplied { version } } }`,
      { d: id, c: cid('lean') },
    );
    await full.until(synced);
    await lean.until(synced);
    await t.ok(MOVE, { d: id, c: cid('vic-cursor'), cursor: { x: 3, y: 4 } }, vic.token);
    await t.ok(
      SUBMIT,
      { d: id, c: cid('bob-writer'), s: 1, b: 0, op: addWidget(createDocument('shapes'), newWidget('note')) },
      bob.token,
    );

    const isVic = (e: any) => e.__typename === 'PresenceUpdated' && e.presence.clientId === cid('vic-cursor');
    await full.until((events) => events.some(isVic) && events.some((e) => e.__typename === 'OperationApplied'));
    await lean.until((events) => events.some(isVic) && events.some((e) => e.__typename === 'OperationApplied'));

    const fullPresence = full.events.find(isVic).presence;
    expect(fullPresence.user).toEqual({ id: vic.userId, name: 'Vic', color: expect.any(String) });
    expect(fullPresence).toMatchObject({ cursor: { x: 3, y: 4 }, status: 'ACTIVE' });
    expect(lean.events.find(isVic)).toEqual({
      __typename: 'PresenceUpdated',
      presence: { clientId: cid('vic-cursor'), cursor: { x: 3, y: 4 } },
    });
    expect(lean.events.find((e) => e.__typename === 'OperationApplied')).toEqual({
      __typename: 'OperationApplied',
      version: 1,
    });
    expect(full.events.find((e) => e.__typename === 'OperationApplied')).toMatchObject({
      version: 1,
      seq: 1,
      author: { id: bob.userId },
    });
  });

  it('a variable used inside the selection changes the payload; root-field variables do not split the work', async () => {
    const id = await board('variables');
    const query = `subscription($d: ID!, $c: ID!, $u: Boolean!) { dashboardEvents(dashboardId: $d, clientId: $c) {
      __typename ... on PresenceUpdated { presence { clientId user @include(if: $u) { name } } } } }`;
    // Five subscribers that differ only in clientId (a root-field argument) and one that asks
    // for the user. Each subscription has its own user loader, so the lookups made for one
    // event count the executions.
    const same = Array.from({ length: 5 }, (_, i) =>
      listen(ann.token, query, { d: id, c: cid(`same-${i}`), u: false }),
    );
    const withUser = listen(bob.token, query, { d: id, c: cid('with-user'), u: true });
    for (const s of [...same, withUser]) await s.until(synced);

    // Carol is new to every subscriber's loader: her presence needs a lookup per execution.
    const carol = await signUp(t, 'Carol');
    await t.ok(INVITE, { d: id, e: carol.email, r: 'VIEWER' }, ann.token);
    const carolMoved = (e: any) => e.__typename === 'PresenceUpdated' && e.presence.clientId === cid('carol');
    const before = userLookups.length;
    await t.ok(MOVE, { d: id, c: cid('carol'), cursor: { x: 1, y: 1 } }, carol.token);
    for (const s of [...same, withUser]) await s.until((events) => events.some(carolMoved));

    for (const s of same)
      expect(s.events.find(carolMoved)).toEqual({
        __typename: 'PresenceUpdated',
        presence: { clientId: cid('carol') },
      });
    expect(withUser.events.find(carolMoved).presence).toEqual({ clientId: cid('carol'), user: { name: 'Carol' } });
    // Two shapes, so two executions: the five `u: false` subscribers never resolve `user`,
    // and the one `u: true` subscriber resolves it once. Without sharing nothing changes for
    // them, so also check sharing itself below.
    const lookedUpCarol = userLookups.slice(before).filter((ids) => ids.includes(carol.userId));
    expect(lookedUpCarol).toHaveLength(1);
  });

  it('six subscribers with one selection cause one execution per event', async () => {
    const id = await board('sharing');
    const subs = Array.from({ length: 6 }, (_, i) =>
      subscribeEvents(t.wsClient(i % 2 ? ann.token : bob.token), { d: id, c: cid(`share-${i}`) }),
    );
    for (const s of subs) await s.until(synced);
    const dave = await signUp(t, 'Dave');
    await t.ok(INVITE, { d: id, e: dave.email, r: 'VIEWER' }, ann.token);
    const before = userLookups.length;
    await t.ok(MOVE, { d: id, c: cid('dave'), cursor: { x: 9, y: 9 } }, dave.token);
    const daveMoved = (e: any) => e.__typename === 'PresenceUpdated' && e.presence.clientId === cid('dave');
    for (const s of subs) await s.until((events) => events.some(daveMoved));
    for (const s of subs)
      expect(s.events.find(daveMoved).presence.user).toEqual({
        id: dave.userId,
        name: 'Dave',
        color: expect.any(String),
      });
    // Per-subscriber execution would look Dave up six times (one loader per subscription).
    expect(userLookups.slice(before).filter((ids) => ids.includes(dave.userId))).toHaveLength(1);
  });

  it('an event whose fields depend on the viewer is executed per viewer (DashboardChanged.myRole)', async () => {
    const id = await board('roles');
    const owner = subscribeEvents(t.wsClient(ann.token), { d: id, c: cid('role-ann') });
    const viewer = subscribeEvents(t.wsClient(vic.token), { d: id, c: cid('role-vic') });
    await owner.until(synced);
    await viewer.until(synced);
    const erin = await signUp(t, 'Erin');
    await t.ok(INVITE, { d: id, e: erin.email, r: 'EDITOR' }, ann.token);
    const changed = (events: any[]) => events.some((e) => e.__typename === 'DashboardChanged');
    await owner.until(changed);
    await viewer.until(changed);
    expect(owner.events.find((e) => e.__typename === 'DashboardChanged').dashboard.myRole).toBe('OWNER');
    expect(viewer.events.find((e) => e.__typename === 'DashboardChanged').dashboard.myRole).toBe('VIEWER');
  });
});

describe('slow consumers', () => {
  it('a socket that stops reading is closed with 1013 after a grace period, and resumes from its last version without losing an op', async () => {
    const slow = await startApp(backend, { config: { wsMaxBufferedBytes: 64 * 1024 } });
    let socket: WebSocket | undefined;
    try {
      const id = await createDashboard(slow, ann.token, 'slow');
      await slow.ok(INVITE, { d: id, e: bob.email, r: 'EDITOR' }, ann.token);
      // A raw graphql-transport-ws client, so the test controls reading from the socket.
      const raw = new WebSocket(slow.wsUrl, 'graphql-transport-ws');
      socket = raw;
      const versions: number[] = [];
      const acked = deferred();
      const closed = deferred<number>();
      const syncedOnce = deferred();
      raw.on('message', (data) => {
        const message = JSON.parse(String(data));
        if (message.type === 'connection_ack') acked.resolve();
        const event = message.payload?.data?.dashboardEvents;
        if (event?.__typename === 'SyncCompleted') syncedOnce.resolve();
        if (event?.__typename === 'OperationApplied') versions.push(event.version);
      });
      raw.on('close', (code) => closed.resolve(code));
      await new Promise((resolve) => raw.once('open', resolve));
      raw.send(JSON.stringify({ type: 'connection_init', payload: { authToken: ann.token } }));
      await acked.promise;
      raw.send(
        JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: {
            query: `subscription($d: ID!, $c: ID!) { dashboardEvents(dashboardId: $d, clientId: $c) { __typename ... on OperationApplied { version op } ... on SyncCompleted { version } } }`,
            variables: { d: id, c: cid('slow') },
          },
        }),
      );
      await syncedOnce.promise;
      // Stop reading: the kernel buffers fill, then the server's queue for this socket.
      (raw as unknown as { _socket: import('node:net').Socket })._socket.pause();

      // Each op carries ~200 KB (two notes of 100k characters): 12 MB in all, more than the
      // loopback buffers hold.
      const text = 'x'.repeat(100_000);
      let doc: DashboardDocument = (
        await slow.ok(`query($d: ID!) { dashboard(id: $d) { document } }`, { d: id }, ann.token)
      ).dashboard.document;
      const ids = ['big0', 'big1'];
      let version = 0;
      const OPS = 60;
      for (let seq = 1; seq <= OPS; seq++) {
        const parts: JSONOp[] = [];
        for (const w of ids) {
          const part = seq % 2 ? addWidget(doc, newWidget('note', { id: w, text })) : removeWidget(doc, w);
          parts.push(part);
          doc = applyOp(doc, part);
        }
        const data = await slow.ok(
          SUBMIT,
          { d: id, c: cid('slow-writer'), s: seq, b: version, op: composeOps(...parts) },
          bob.token,
        );
        version = data.submitOperation.version;
      }
      // The server waits a while for the backlog to drain, then cuts: its subscriptions end
      // at once (presence leaves), and the close frame waits behind the unread data.
      await waitFor(() => slow.app.services.hub.subscriberCount() === 0, {
        timeout: 20_000,
        description: 'the slow subscriber to be cut',
      });
      (raw as unknown as { _socket: import('node:net').Socket })._socket.resume();
      expect(await closed.promise).toBe(1013);
      expect(versions.length).toBeLessThan(OPS);
      // Delivered in order, without a gap, up to where it was cut.
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));

      // Resuming from the last version received brings every remaining op.
      const resumed = subscribeEvents(slow.wsClient(ann.token), { d: id, c: cid('slow'), f: versions.length });
      await resumed.until((events) => events.some((e) => e.__typename === 'SyncCompleted'));
      const rest = resumed.events.filter((e) => e.__typename === 'OperationApplied').map((e) => e.version);
      expect([...versions, ...rest]).toEqual(Array.from({ length: version }, (_, i) => i + 1));
    } finally {
      socket?.terminate();
      await slow.stop();
    }
  }, 60_000);
});

describe('review regressions', () => {
  /** A raw graphql-transport-ws socket: frames as they come, and a way to await one. */
  async function rawSocket(token: string) {
    const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    const frames: any[] = [];
    const waiters = new Set<() => void>();
    const closed = deferred<number>();
    socket.on('message', (data) => {
      frames.push(JSON.parse(String(data)));
      for (const check of [...waiters]) check();
    });
    socket.on('close', (code) => closed.resolve(code));
    const next = (predicate: (frame: any) => boolean, from = 0) =>
      new Promise<any>((resolve, reject) => {
        const limit = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(frames.slice(-3))}`)), 10_000);
        const check = () => {
          const found = frames.slice(from).find(predicate);
          if (!found) return;
          clearTimeout(limit);
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
      });
    await new Promise((resolve) => socket.once('open', resolve));
    const send = (message: unknown) => socket.send(JSON.stringify(message));
    send({ type: 'connection_init', payload: { authToken: token } });
    await next((f) => f.type === 'connection_ack');
    return { socket, frames, next, send, closed: closed.promise };
  }
  const syncedFrame = (id: string) => (f: any) =>
    f.id === id && f.payload?.data?.dashboardEvents?.__typename === 'SyncCompleted';

  it('an id completed by the client can be reused at once: the new subscription streams', async () => {
    const id = await board('reuse');
    const raw = await rawSocket(ann.token);
    const subscribe = (clientId: string) =>
      raw.send({ id: 'x', type: 'subscribe', payload: { query: EVENTS, variables: { d: id, c: clientId } } });
    subscribe(cid('reuse-1'));
    await raw.next(syncedFrame('x'));
    const before = raw.frames.length;
    raw.send({ id: 'x', type: 'complete' });
    subscribe(cid('reuse-2'));
    await raw.next(syncedFrame('x'), before);
    // And it is live: Bob's cursor reaches it.
    await t.ok(MOVE, { d: id, c: cid('reuse-bob'), cursor: { x: 1, y: 2 } }, bob.token);
    await raw.next((f) => f.id === 'x' && f.payload?.data?.dashboardEvents?.__typename === 'PresenceUpdated', before);
    raw.socket.close();
  });

  it('a malformed subscribe message closes the socket with 4400, as graphql-ws does', async () => {
    const id = await board('malformed');
    const raw = await rawSocket(ann.token);
    raw.send({ id: 'm', type: 'subscribe', payload: { query: EVENTS, variables: 'oops', extra: { d: id } } });
    expect(await raw.closed).toBe(4400);
  });

  it('[AC1] a removed editor resubmitting an op acked before is NOT_FOUND, not a duplicate ack', async () => {
    const id = await board('removed');
    const doc = createDocument('removed');
    const op = addWidget(doc, newWidget('note'));
    const first = await t.ok(SUBMIT, { d: id, c: cid('removed-bob'), s: 1, b: 0, op }, bob.token);
    expect(first.submitOperation.duplicate).toBe(false);
    await t.ok(
      `mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }`,
      { d: id, u: bob.userId },
      ann.token,
    );
    const again = await t.gql(SUBMIT, { d: id, c: cid('removed-bob'), s: 1, b: 0, op }, bob.token);
    expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('hub rooms', () => {
  it('a subscriber that joined a room which then failed to open fails (UNAVAILABLE) instead of hanging; the next one opens a fresh room', async () => {
    const id = await board('orphan');
    let failFirstRead = true;
    const flaky = new Proxy(backend.store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        if (key !== 'getDashboard') return value.bind(target);
        return async (...args: unknown[]) => {
          if (!failFirstRead) return value.apply(target, args);
          failFirstRead = false;
          await new Promise((resolve) => setTimeout(resolve, 100)); // a slow, failing database
          throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
        };
      },
    }) as Store;
    const bus = createMemoryEventBus();
    const hub = createHub({ store: flaky, bus });
    try {
      const stream = (clientId: string) =>
        hub.events({ dashboardId: id, userId: ann.userId, clientId, role: 'OWNER', fromVersion: null });
      const events: string[] = [];
      const first = stream(cid('orphan-1')).pipe(() => {});
      const second = stream(cid('orphan-2')).pipe(() => {}); // joins the room being opened
      await expect(first).rejects.toThrow('connection reset');
      await expect(second).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(hub.roomCount()).toBe(0);

      const third = stream(cid('orphan-3'));
      const piped = third.pipe((event) => void events.push(event.__typename));
      await waitFor(() => events.includes('SyncCompleted'));
      hub.deliverLocally({ type: 'changed', dashboardId: id });
      await waitFor(() => events.includes('DashboardChanged'));
      await third.return();
      await piped;
    } finally {
      await hub.stop();
      await bus.close();
    }
  });
});
