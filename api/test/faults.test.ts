/**
 * Faults that must be survived with zero acked ops lost (issue 6; DESIGN.md OP1, OP2, OP4,
 * SUB1, SUB2). Each scenario runs sync-engine clients (core `createSyncEngine` over real
 * graphql-ws clients) against two instances, injects a fault mid-stream and then checks the
 * final op log through GraphQL: every acked (clientId, seq) present exactly once at its acked
 * version, versions 1..N without gaps, no (clientId, seq) twice, every client's document equal
 * to the server's (helpers/fault-peers.ts `verifyConverged`).
 *
 * Private redis-servers, TCP proxies and child processes on free loopback ports only; the
 * shared PostgreSQL and Redis are never stopped. Scenarios 2, 3 and 5 need DATABASE_URL
 * (PGlite cannot be shared between processes, and the proxy sits in front of PostgreSQL).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { addWidget, applyOp, newWidget, request, type DashboardDocument } from '@collab-dashboards/core';
import {
  createBackend,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  subscribeEvents,
  SUBMIT,
  type TestApp,
} from './helpers/harness.js';
import { startChildApp } from './helpers/child-app.js';
import { createPeer, edit, newAckBook, verifyConverged, type Peer } from './helpers/fault-peers.js';
import { createRng } from '@collab-dashboards/core/testing';
import { findRedisServerBinary, startRedisServer } from './helpers/redis-server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { deferred, waitFor, withTimeout } from './helpers/wait.js';
import { describeWhen, NEEDS_DATABASE_URL, NEEDS_REDIS_BINARY } from './helpers/skip.js';

const RUN = randomBytes(4).toString('hex');
const DATABASE_URL = process.env.DATABASE_URL || undefined;
const REDIS_URL = process.env.REDIS_URL || undefined;
const MODE = `${DATABASE_URL ? 'PostgreSQL' : 'PGlite'} + ${REDIS_URL ? 'Redis' : 'memory bus'}`;
const SCENARIO_TIMEOUT = 40_000;

/** Two users (owner and an invited editor) and a fresh dashboard; returns its snapshot too. */
async function setup(t: TestApp, title: string) {
  const owner = await signUp(t, 'Owner');
  const editor = await signUp(t, 'Editor');
  const id = await createDashboard(t, owner.token, `${title} ${RUN}`);
  await t.ok(
    `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
    { d: id, e: editor.email },
    owner.token,
  );
  const head = (await t.ok(`query($d: ID!) { dashboard(id: $d) { version document } }`, { d: id }, owner.token))
    .dashboard as { version: number; document: DashboardDocument };
  return { owner, editor, id, head };
}

async function allConnected(peers: Peer[]) {
  await waitFor(() => peers.every((p) => p.engine.state === 'connected'), {
    timeout: 10_000,
    interval: 10,
    description: 'peers connected',
  });
}

const summary = (name: string, fields: Record<string, unknown>) =>
  console.log(
    `faults [${MODE}] ${name}: ${Object.entries(fields)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')}`,
  );

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

const withPostgres = describeWhen(Boolean(DATABASE_URL), NEEDS_DATABASE_URL);

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
