/**
 * Fan-out to a socket that does not drain (FO2): it is cut with 1013 after a grace period and
 * resumes from its last version without losing an op.
 */
import WebSocket from 'ws';
import {
  addWidget,
  applyOp,
  composeOps,
  newWidget,
  removeWidget,
  type DashboardDocument,
  type JSONOp,
} from '@collab-dashboards/core';
import { createDashboard, startApp, subscribeEvents, SUBMIT } from './helpers/harness.js';
import { deferred, waitFor } from './helpers/wait.js';
import { ann, backend, bob, cid, INVITE, useSharedExecutionApp } from './helpers/shared-execution-app.js';

useSharedExecutionApp();

describe('[FO2] slow consumers', () => {
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
