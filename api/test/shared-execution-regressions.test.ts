/**
 * Regressions found in review of fan-out (transport/shared-execution.ts, services/hub.ts):
 * operation ids reused on one socket, malformed subscribe messages, a removed editor's
 * resubmission (AC1, AC2), and a room that failed to open.
 */
import WebSocket from 'ws';
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import type { Store } from '../src/ports/store.js';
import { createHub } from '../src/services/hub.js';
import { createMemoryEventBus } from '../src/adapters/memory-event-bus.js';
import { EVENTS, SUBMIT } from './helpers/harness.js';
import { deferred, waitFor } from './helpers/wait.js';
import { ann, backend, board, bob, cid, MOVE, t, useSharedExecutionApp } from './helpers/shared-execution-app.js';

useSharedExecutionApp();

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

  it('[AC1][AC2] a removed editor resubmitting an op acked before is NOT_FOUND, not a duplicate ack', async () => {
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
        if (key !== 'dashboardVersions') return value.bind(target);
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
