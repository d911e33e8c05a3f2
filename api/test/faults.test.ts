/**
 * Faults that must be survived with zero acked ops lost (issue 6; DESIGN.md OP1, OP2, OP4,
 * SUB1, SUB2), here the shared services failing: Redis restarted and PostgreSQL unreachable
 * mid-stream. Each scenario runs sync-engine clients (core `createSyncEngine` over real
 * graphql-ws clients) against two instances, injects a fault mid-stream and then checks the
 * final op log through GraphQL: every acked (clientId, seq) present exactly once at its acked
 * version, versions 1..N without gaps, no (clientId, seq) twice, every client's document equal
 * to the server's (helpers/fault-peers.ts `verifyConverged`). Instances killed or stopped are
 * in faults-instances.test.ts, a client dropping before its ack in faults-client-drop.test.ts.
 *
 * Private redis-servers and TCP proxies on free loopback ports only; the shared PostgreSQL
 * and Redis are never stopped. The PostgreSQL scenario needs DATABASE_URL (the proxy sits in
 * front of PostgreSQL).
 */
import { addWidget, newWidget, type DashboardDocument } from '@collab-dashboards/core';
import { createBackend, errorCode, startApp, SUBMIT } from './helpers/harness.js';
import { createPeer, edit, newAckBook, verifyConverged, type Peer } from './helpers/fault-peers.js';
import {
  allConnected,
  DATABASE_URL,
  RUN,
  SCENARIO_TIMEOUT,
  setup,
  summary,
  withPostgres,
} from './helpers/fault-scenario.js';
import { createRng } from '@collab-dashboards/core/testing';
import { findRedisServerBinary, startRedisServer } from './helpers/redis-server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { waitFor } from './helpers/wait.js';
import { describeWhen, NEEDS_REDIS_BINARY } from './helpers/skip.js';

const redisBinary = findRedisServerBinary();
const withRedisBinary = describeWhen(Boolean(redisBinary), NEEDS_REDIS_BINARY);

withRedisBinary('[SUB2][OP4] Redis restarted mid-stream', () => {
  it(
    '4 clients on 2 instances keep editing through a Redis SIGKILL and restart; all acked ops present, converged',
    async () => {
      const started = Date.now();
      const redis = await startRedisServer();
      const backend = await createBackend({ redisUrl: redis.url });
      // Default recheck interval: it is the reconnect re-check (SUB2) that must catch the clients up.
      const a = await startApp(backend);
      const b = await startApp(backend);
      const peers: Peer[] = [];
      try {
        const { owner, editor, id, head } = await setup(a, 'redis');
        const book = newAckBook();
        for (let i = 0; i < 4; i++) {
          const t = i % 2 === 0 ? a : b;
          peers.push(
            createPeer({
              url: () => t.wsUrl,
              token: (i < 2 ? owner : editor).token,
              dashboardId: id,
              clientId: `f1-${RUN}-${i}`,
              initial: head,
              book,
            }),
          );
        }
        await allConnected(peers);
        const rng = createRng(0xf1);
        const counter = { n: 0 };
        await waitFor(() => a.app.services.bus.isUp() && b.app.services.bus.isUp(), {
          timeout: 10_000,
          description: 'buses up',
        });
        let made = await edit(peers, rng, 25, counter);
        await redis.kill();
        await waitFor(() => !a.app.services.bus.isUp() && !b.app.services.bus.isUp(), {
          timeout: 10_000,
          description: 'both instances see Redis down',
        });
        const ackedBeforeOutage = book.acks.size;
        made += await edit(peers, rng, 25, counter);
        // Direct submits over HTTP on both instances commit without Redis (SUB2: a hint). Their
        // OperationApplied messages are lost: the peers can only get them from the database.
        const directId = `f1-direct-${RUN}`;
        for (let s = 1; s <= 4; s++) {
          const t = s % 2 === 0 ? a : b;
          const now = (await t.ok(`query($d: ID!) { dashboard(id: $d) { version document } }`, { d: id }, owner.token))
            .dashboard;
          const op = addWidget(now.document, newWidget('metric', { id: `direct-${RUN}-${s}` }));
          const ack = (await t.ok(SUBMIT, { d: id, c: directId, s, b: now.version, op }, owner.token)).submitOperation;
          book.acks.set(`${directId}#${s}`, { version: ack.version, duplicates: 0 });
        }
        made += await edit(peers, rng, 10, counter);
        const ackedDuringOutage = book.acks.size - ackedBeforeOutage;
        const restartAt = Date.now();
        await redis.restart();
        await waitFor(() => a.app.services.bus.isUp() && b.app.services.bus.isUp(), {
          timeout: 15_000,
          interval: 20,
          description: 'both instances reconnected to Redis',
        });
        const reconnectMs = Date.now() - restartAt;
        made += await edit(peers, rng, 20, counter);
        const convergeAt = Date.now();
        const result = await verifyConverged(a.ok, owner.token, id, peers, book);
        const convergeMs = Date.now() - convergeAt;
        expect(ackedDuringOutage).toBeGreaterThanOrEqual(4); // commits go on without Redis (SUB2: a hint)
        summary('redis restart', {
          edits: made,
          acked: result.verified,
          ackedDuringOutage,
          streamOnlyAcks: result.streamOnly,
          logLength: result.version,
          faults: 'redis SIGKILL x1 + restart',
          reconnectMs,
          convergeMs,
          ms: Date.now() - started,
        });
      } finally {
        await Promise.all(peers.map((p) => p.dispose()));
        await a.stop();
        await b.stop();
        await backend.close();
        await redis.stop();
      }
    },
    SCENARIO_TIMEOUT,
  );
});

withPostgres('[OP4][OP2] PostgreSQL unreachable mid-stream', () => {
  it(
    'submits fail with UNAVAILABLE while the proxy is cut, nothing partial is committed, engines retry and converge',
    async () => {
      const started = Date.now();
      const pg = new URL(DATABASE_URL!);
      const backend = await createBackend();
      const proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
      const viaProxy = new URL(pg.href);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const config = { databaseUrl: viaProxy.href, recheckIntervalMs: 250 };
      const a = await startApp(backend, { config });
      const b = await startApp(backend, { config });
      const peers: Peer[] = [];
      try {
        const { owner, editor, id, head } = await setup(a, 'pg');
        const book = newAckBook();
        for (let i = 0; i < 4; i++) {
          const t = i % 2 === 0 ? a : b;
          peers.push(
            createPeer({
              url: () => t.wsUrl,
              token: (i < 2 ? owner : editor).token,
              dashboardId: id,
              clientId: `f2-${RUN}-${i}`,
              initial: head,
              book,
            }),
          );
        }
        await allConnected(peers);
        const rng = createRng(0xf2);
        const counter = { n: 0 };
        let made = await edit(peers, rng, 25, counter);
        const before = (await a.ok(`query($d: ID!) { dashboard(id: $d) { version document } }`, { d: id }, owner.token))
          .dashboard as { version: number; document: DashboardDocument };

        proxy.cut();
        // A direct submit over HTTP while PostgreSQL is unreachable: UNAVAILABLE.
        const directOp = addWidget(before.document, newWidget('note', { id: `direct-${RUN}`, text: 'd' }));
        const direct = { d: id, c: `f2-direct-${RUN}`, s: 1, b: before.version, op: directOp };
        const codes: Array<string | undefined> = [];
        for (const t of [a, b])
          codes.push(errorCode(await t.gql(SUBMIT, { ...direct, s: codes.length + 1 }, owner.token)));
        expect(codes).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
        // The engines keep editing locally and retrying.
        const ackedBefore = book.acks.size;
        made += await edit(peers, rng, 15, counter);
        const ackedWhileCut = book.acks.size - ackedBefore;
        await waitFor(() => peers.some((p) => p.errors.some((e) => e.code === 'UNAVAILABLE' || e.code === undefined)), {
          timeout: 10_000,
          description: 'an engine saw the outage',
        });
        proxy.restore();
        made += await edit(peers, rng, 15, counter);
        const result = await verifyConverged(a.ok, owner.token, id, peers, book, { timeout: 20_000 });
        expect(ackedWhileCut).toBe(0); // an ack means committed (OP4): none can come while the database is gone
        // Nothing partial: the refused direct submissions are not in the log, and resubmitting
        // one now commits it fresh (duplicate: false).
        expect(result.ops.filter((o) => o.clientId === direct.c)).toEqual([]);
        const fresh = await a.ok(SUBMIT, { ...direct, b: before.version }, owner.token);
        expect(fresh.submitOperation.duplicate).toBe(false);
        expect(fresh.submitOperation.version).toBe(result.version + 1);
        const retries = peers.reduce((n, p) => n + p.errors.length, 0);
        summary('postgres cut', {
          edits: made,
          acked: result.verified,
          streamOnlyAcks: result.streamOnly,
          logLength: result.version,
          directUnavailable: codes.length,
          engineRetries: retries,
          faults: 'tcp cut x1 (both instances)',
          ms: Date.now() - started,
        });
      } finally {
        proxy.restore();
        await Promise.all(peers.map((p) => p.dispose()));
        await a.stop();
        await b.stop();
        await backend.close();
        await proxy.close();
      }
    },
    SCENARIO_TIMEOUT,
  );
});
