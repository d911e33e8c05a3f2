/**
 * Faults that must be survived with zero acked ops lost (issue 6; DESIGN.md OP2, OP4), here
 * an instance that dies: killed with SIGKILL, or stopped gracefully with SIGTERM. Sync-engine
 * clients on a child-process instance and an in-process one edit, the child dies mid-stream,
 * its clients move to the other instance, and the final op log is checked through GraphQL
 * (helpers/fault-peers.ts `verifyConverged`; see faults.test.ts).
 *
 * Child processes on free loopback ports only. Both scenarios need DATABASE_URL (PGlite cannot
 * be shared between processes).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { createBackend, startApp, subscribeEvents } from './helpers/harness.js';
import { startChildApp } from './helpers/child-app.js';
import { createPeer, edit, newAckBook, verifyConverged, type Peer } from './helpers/fault-peers.js';
import {
  allConnected,
  DATABASE_URL,
  REDIS_URL,
  RUN,
  SCENARIO_TIMEOUT,
  setup,
  summary,
  withPostgres,
} from './helpers/fault-scenario.js';
import { createRng } from '@collab-dashboards/core/testing';
import { deferred, withTimeout } from './helpers/wait.js';

withPostgres('[OP2][OP4] an instance killed with SIGKILL mid-stream', () => {
  it(
    'clients of the killed child instance fail over to the other, resubmit, and nothing is lost or doubled',
    async () => {
      const started = Date.now();
      const secret = randomBytes(32).toString('hex');
      const backend = await createBackend();
      const b = await startApp(backend, { config: { jwtSecret: secret, recheckIntervalMs: 250 } });
      const a = await startChildApp({
        DATABASE_URL: DATABASE_URL!,
        JWT_SECRET: secret,
        RECHECK_INTERVAL_MS: '250',
        ...(REDIS_URL ? { REDIS_URL } : {}),
      });
      let aAlive = true;
      const peers: Peer[] = [];
      try {
        const { owner, editor, id, head } = await setup(b, 'sigkill');
        const book = newAckBook();
        for (let i = 0; i < 4; i++) {
          const onA = i % 2 === 0;
          peers.push(
            createPeer({
              url: () => (onA && aAlive ? a.wsUrl : b.wsUrl),
              token: (i < 2 ? owner : editor).token,
              dashboardId: id,
              clientId: `f3-${RUN}-${i}`,
              initial: head,
              book,
            }),
          );
        }
        await allConnected(peers);
        const onA = [peers[0]!, peers[2]!];
        expect(onA.every((p) => p.connections === 1)).toBe(true);
        const rng = createRng(0xf3);
        const counter = { n: 0 };
        let made = await edit(peers, rng, 30, counter);
        // Put submissions in flight on A, then crash it without waiting for their acks.
        made += await edit(onA, rng, 4, counter, 0);
        const inflightAtKill = onA.reduce((n, p) => n + p.engine.pendingCount, 0);
        aAlive = false;
        await a.kill();
        made += await edit(peers, rng, 30, counter);
        const result = await verifyConverged(b.ok, owner.token, id, peers, book, { timeout: 20_000 });
        expect((await a.exited).signal).toBe('SIGKILL');
        expect(onA.every((p) => p.connections >= 2)).toBe(true); // they reconnected (to B)
        summary('instance SIGKILL', {
          edits: made,
          acked: result.verified,
          duplicateAcks: book.duplicateAcks,
          streamOnlyAcks: result.streamOnly,
          inflightAtKill,
          logLength: result.version,
          faults: 'child SIGKILL x1',
          ms: Date.now() - started,
        });
      } finally {
        await a.kill();
        await Promise.all(peers.map((p) => p.dispose()));
        await b.stop();
        await backend.close();
      }
    },
    SCENARIO_TIMEOUT,
  );
});

withPostgres('[OP4] graceful shutdown (SIGTERM)', () => {
  it(
    'closes sockets with 1001, keeps every acked op, turns unready, exits 0; its clients move on',
    async () => {
      const started = Date.now();
      const backend = await createBackend();
      const b = await startApp(backend, { config: { recheckIntervalMs: 250 } });
      // No JWT_SECRET: both instances read the generated one from the settings table.
      const a = await startChildApp({
        DATABASE_URL: DATABASE_URL!,
        RECHECK_INTERVAL_MS: '250',
        ...(REDIS_URL ? { REDIS_URL } : {}),
      });
      let aAlive = true;
      const peers: Peer[] = [];
      try {
        const { owner, editor, id, head } = await setup(b, 'sigterm');
        // A plain subscriber on A that does not reconnect, to see the close code.
        const closeCode = deferred<number>();
        const watcherClient = createClient({
          url: a.wsUrl,
          webSocketImpl: WebSocket,
          connectionParams: { authToken: owner.token },
          retryAttempts: 0,
          lazy: true,
          on: { closed: (event) => closeCode.resolve((event as { code: number }).code) },
        });
        const watcher = subscribeEvents(watcherClient, { d: id, c: `f5-watch-${RUN}` });
        await watcher.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));

        const book = newAckBook();
        for (let i = 0; i < 3; i++) {
          const onA = i < 2;
          peers.push(
            createPeer({
              url: () => (onA && aAlive ? a.wsUrl : b.wsUrl),
              token: (i === 1 ? editor : owner).token,
              dashboardId: id,
              clientId: `f5-${RUN}-${i}`,
              initial: head,
              book,
            }),
          );
        }
        await allConnected(peers);
        const onA = [peers[0]!, peers[1]!];
        const rng = createRng(0xf5);
        const counter = { n: 0 };
        let made = await edit(peers, rng, 25, counter);
        made += await edit(onA, rng, 4, counter, 0);
        const inflightAtTerm = onA.reduce((n, p) => n + p.engine.pendingCount, 0);

        // SIGTERM, then watch /readyz until the process is gone.
        const readiness: Array<number | 'refused'> = [];
        let exited = false;
        void a.exited.then(() => (exited = true));
        aAlive = false;
        a.process.kill('SIGTERM');
        const probing = (async () => {
          while (!exited) {
            readiness.push(
              await fetch(`${a.url}/readyz`).then(
                (r) => r.status,
                () => 'refused' as const,
              ),
            );
            if (readiness.at(-1) === 'refused') break;
            await new Promise((r) => setTimeout(r, 10));
          }
        })();
        expect(await withTimeout(closeCode.promise, 10_000, 'subscriber socket close')).toBe(1001);
        const exit = await withTimeout(a.exited, 15_000, 'child exit after SIGTERM');
        await probing;
        expect(exit).toEqual({ code: 0, signal: null });
        // Once unready it stays unready: a 503 or a refused connection, never 200 again.
        const firstDown = readiness.findIndex((r) => r !== 200);
        expect(firstDown).toBeGreaterThanOrEqual(0);
        expect(readiness.slice(firstDown).every((r) => r === 503 || r === 'refused')).toBe(true);

        made += await edit(peers, rng, 15, counter);
        const result = await verifyConverged(b.ok, owner.token, id, peers, book, { timeout: 20_000 });
        await watcherClient.dispose();
        summary('graceful SIGTERM', {
          edits: made,
          acked: result.verified,
          duplicateAcks: book.duplicateAcks,
          streamOnlyAcks: result.streamOnly,
          inflightAtTerm,
          logLength: result.version,
          closeCode: 1001,
          readyz: [...new Set(readiness)].join('/'),
          faults: 'child SIGTERM x1',
          ms: Date.now() - started,
        });
      } finally {
        await a.kill();
        await Promise.all(peers.map((p) => p.dispose()));
        await b.stop();
        await backend.close();
      }
    },
    SCENARIO_TIMEOUT,
  );
});
