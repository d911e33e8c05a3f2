/**
 * A fault that must be survived with zero acked ops lost (issue 6; DESIGN.md OP2): a client
 * whose connection drops after its submission reached the server but before the ack came
 * back. Its resubmission over a new connection, on either of two instances, is answered with
 * the original ack, and the log holds each submission once (see faults.test.ts).
 */
import WebSocket from 'ws';
import { addWidget, applyOp, newWidget, request } from '@collab-dashboards/core';
import { createBackend, startApp, subscribeEvents, SUBMIT } from './helpers/harness.js';
import { RUN, SCENARIO_TIMEOUT, setup, summary } from './helpers/fault-scenario.js';
import { deferred, withTimeout } from './helpers/wait.js';

/** Opens a raw graphql-transport-ws socket and waits for connection_ack. */
async function rawSocket(wsUrl: string, token: string): Promise<WebSocket> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  const acked = deferred<void>();
  socket.on('message', (data) => {
    if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') acked.resolve();
  });
  socket.on('close', (code) => acked.reject(new Error(`closed ${code} before connection_ack`)));
  socket.on('error', (error) => acked.reject(error));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authToken: token } }));
  await withTimeout(acked.promise, 5000, 'connection_ack');
  return socket;
}

describe('[OP2] a client that drops between submit and ack', () => {
  it(
    'the resubmission over a new connection answers the original version with duplicate: true',
    async () => {
      const started = Date.now();
      const backend = await createBackend();
      const a = await startApp(backend);
      const b = await startApp(backend);
      try {
        const { owner, id, head } = await setup(a, 'drop');
        const watcher = subscribeEvents(b.wsClient(owner.token), { d: id, c: `f4-watch-${RUN}` });
        await watcher.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
        const clientId = `f4-${RUN}`;
        let doc = head.document;
        let version = head.version;
        const ROUNDS = 6;
        let duplicates = 0;
        for (let seq = 1; seq <= ROUNDS; seq++) {
          const op = addWidget(doc, newWidget('note', { id: `drop-${seq}`, text: `n${seq}` }));
          const variables = { d: id, c: clientId, s: seq, b: version, op };
          const socket = await rawSocket(a.wsUrl, owner.token);
          const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
          const answers: unknown[] = [];
          socket.on('message', (data) => answers.push(JSON.parse(String(data))));
          // Terminate once the frame is handed to the kernel: it reaches the server, the ack cannot
          // reach us.
          socket.send(JSON.stringify({ id: 'submit', type: 'subscribe', payload: { query: SUBMIT, variables } }), () =>
            socket.terminate(),
          );
          await closed;
          expect(answers).toEqual([]);
          // Deterministic: the first submission did reach the server and committed.
          const events = await watcher.until((e) =>
            e.some((x) => x.__typename === 'OperationApplied' && x.clientId === clientId && x.seq === seq),
          );
          const applied = events.find((x) => x.clientId === clientId && x.seq === seq);
          // Resubmit the same (clientId, seq, baseVersion, op) over a new connection, on either instance.
          const client = (seq % 2 === 0 ? a : b).wsClient(owner.token);
          const again = await request<{ submitOperation: { version: number; op: unknown; duplicate: boolean } }>(
            client,
            SUBMIT,
            variables,
          );
          await client.dispose();
          expect(again.submitOperation).toEqual({ version: applied.version, op: applied.op, duplicate: true });
          duplicates++;
          doc = applyOp(doc, applied.op);
          version = applied.version;
        }
        // The log: each seq exactly once, versions without gaps.
        const ops = (
          await a.ok(
            `query($d: ID!) { dashboard(id: $d) { version document operations(fromVersion: 0, limit: 1000) { version clientId seq } } }`,
            { d: id },
            owner.token,
          )
        ).dashboard;
        expect(ops.operations).toEqual(
          Array.from({ length: ROUNDS }, (_, i) => ({ version: head.version + i + 1, clientId, seq: i + 1 })),
        );
        expect(ops.document).toEqual(doc);
        watcher.dispose();
        summary('drop before ack', {
          submits: ROUNDS,
          duplicateAcks: duplicates,
          logLength: ops.version,
          faults: `socket terminated after send x${ROUNDS}`,
          ms: Date.now() - started,
        });
      } finally {
        await a.stop();
        await b.stop();
        await backend.close();
      }
    },
    SCENARIO_TIMEOUT,
  );
});
