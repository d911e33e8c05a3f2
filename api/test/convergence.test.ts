/**
 * Seeded convergence fuzz (CONVENTIONS.md 10): two app instances on one database and bus,
 * five clients (the core sync engine over the real graphql-ws client) split across them,
 * random ops including text edits, undo/redo, random disconnects with resubmits. At the end
 * every client's document equals the server's, and documentAt(v) agrees with a replay of
 * the op log. A failing seed prints how to replay it (seedHint); pin it in REGRESSION_SEEDS.
 *
 * FUZZ_SEEDS (default 20) and FUZZ_OPS (default 200) size the run; FUZZ_SEED runs one seed.
 */
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import {
  addWidget,
  applyOp,
  createDocument,
  createGraphQLTransport,
  createSyncEngine,
  deleteText,
  findOverlaps,
  insertText,
  moveWidget,
  newWidget,
  removeWidget,
  resizeWidget,
  setWidgetConfig,
  type DashboardDocument,
  type JSONOp,
  type SyncEngine,
} from '@collab-dashboards/core';
import type { EventBus } from '../src/ports/event-bus.js';
import { filteringBus } from './helpers/filtering-bus.js';
import {
  createBackend,
  mapAll,
  createDashboard,
  signUp,
  startApp,
  subscribeEvents,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';
import { createRng, seedCases, seeded, type RegressionSeed, type Rng } from '@collab-dashboards/core/testing';
import { waitFor } from './helpers/wait.js';
import { HAS_REDIS_CLUSTER, startRedisCluster, type RedisClusterHandle } from './helpers/redis-cluster.js';
import { describeWhen, NEEDS_REDIS_BINARY } from './helpers/skip.js';

const SEEDS = Number(process.env.FUZZ_SEEDS ?? 20);
const OPS = Number(process.env.FUZZ_OPS ?? 200);
/** Seeds that once failed here, each with the bug it caught; git history records none so far. */
const REGRESSION_SEEDS: RegressionSeed[] = [];
const RUN = Math.random().toString(36).slice(2, 8);

let backend: Backend;
let instances: TestApp[];
let users: Array<Awaited<ReturnType<typeof signUp>>>;
const usersOfMain = () => users;

beforeAll(async () => {
  backend = await createBackend();
  instances = [await startApp(backend), await startApp(backend)];
  users = await mapAll(['Ana', 'Ben', 'Cy'], (n) => signUp(instances[0]!, n));
});

interface Peer {
  engine: SyncEngine;
  ws: Client;
  /** The live socket, to cut it like a network drop. */
  socket: WebSocket | null;
  offlineFor: number;
  errors: string[];
}

function wsClient(t: TestApp, token: string): Client {
  return createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authToken: token },
    lazy: true,
    retryAttempts: 1_000,
    retryWait: async () => new Promise((r) => setTimeout(r, 20)),
    shouldRetry: () => true,
  });
}

/** A random valid op for the document, or null when none applies. */
function randomOp(rng: Rng, doc: DashboardDocument, counter: { n: number }): JSONOp | null {
  const ids = Object.keys(doc.widgets);
  const notes = ids.filter((id) => doc.widgets[id]!.type === 'note');
  const roll = rng();
  if (ids.length === 0 || roll < 0.18) {
    const type = rng.pick(['note', 'note', 'metric', 'chart'] as const);
    return addWidget(
      doc,
      newWidget(type, { id: `w${counter.n++}-${rng.int(1e6)}`, text: type === 'note' ? 'abc' : '' }),
      rng.int(doc.layout.length + 1),
    );
  }
  const id = rng.pick(ids);
  if (roll < 0.28) return moveWidget(doc, id, rng.int(20), rng.int(20));
  if (roll < 0.34) return resizeWidget(doc, id, 1 + rng.int(6), 1 + rng.int(6));
  if (roll < 0.4) return removeWidget(doc, id);
  if (roll < 0.46) return setWidgetConfig(doc, id, ['label'], `L${rng.int(100)}`);
  if (notes.length === 0) return moveWidget(doc, id, rng.int(20), rng.int(20));
  const note = rng.pick(notes);
  const text = [...doc.widgets[note]!.text];
  if (roll < 0.8 || text.length === 0) {
    return insertText(doc, note, rng.int(text.length + 1), rng.pick(['x', 'yz', '🙂', ' hello', 'é']));
  }
  const at = rng.int(text.length);
  return deleteText(doc, note, at, 1 + rng.int(Math.min(3, text.length - at)));
}

const turns = (n: number) =>
  (async () => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  })();

/** Resolves on the next change of any engine (an ack, a remote op), or after `capMs` if idle. */
function nextChange(peers: Peer[], capMs: number): Promise<void> {
  return new Promise((resolve) => {
    const stops = peers.map((p) => p.engine.subscribe(done));
    const timer = setTimeout(done, capMs);
    function done() {
      clearTimeout(timer);
      for (const stop of stops) stop();
      resolve();
    }
  });
}

async function runSeed(
  seed: number,
  opts: {
    instances: TestApp[];
    ops: number;
    /** Who edits (default: the users of the two-instance backend). */
    users?: typeof users;
    /** Runs before each step with the step number and the dashboard (fault injection). */
    beforeStep?: (step: number, dashboardId: string) => Promise<void>;
  },
) {
  const rng = createRng(seed);
  const users = opts.users ?? usersOfMain();
  const [owner, ...editors] = users;
  const t0 = opts.instances[0]!;
  const id = await createDashboard(t0, owner!.token, `fuzz ${seed}`);
  for (const e of editors) {
    await t0.ok(
      `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
      { d: id, e: e.email },
      owner!.token,
    );
  }
  const peers: Peer[] = [];
  for (let i = 0; i < 5; i++) {
    const user = users[i % users.length]!;
    const t = opts.instances[i % opts.instances.length]!;
    const ws = wsClient(t, user.token);
    const clientId = `fuzz-${RUN}-${seed}-${i}`; // clientIds belong to users (OP2): unique per run
    // eslint-disable-next-line prefer-const
    let peer: Peer;
    const transport = createGraphQLTransport({ client: ws, dashboardId: id });
    const engine = createSyncEngine({
      transport,
      clientId,
      initial: { version: 0, document: createDocument(`fuzz ${seed}`) },
      retry: { baseMs: 5, maxMs: 50 },
      onError: (e) => peer.errors.push(`${e.code ?? ''} ${String((e.error as Error)?.message ?? e.error)}`),
    });
    peer = { engine, ws, socket: null, offlineFor: 0, errors: [] };
    ws.on('connected', (socket) => (peer.socket = socket as WebSocket));
    ws.on('closed', () => (peer.socket = null));
    engine.connect();
    peers.push(peer);
  }
  const counter = { n: 0 };
  let submitted = 0;
  for (let step = 0; submitted < opts.ops; step++) {
    await opts.beforeStep?.(step, id);
    const peer = rng.pick(peers);
    const roll = rng();
    if (peer.offlineFor > 0) {
      if (--peer.offlineFor === 0) peer.engine.connect();
    } else if (roll < 0.05) {
      // Drop the socket (possibly between a submit and its ack) and stay away a while.
      peer.engine.disconnect();
      peer.socket?.terminate();
      peer.offlineFor = 1 + rng.int(15);
    } else if (roll < 0.1) {
      if (rng.chance(0.6)) peer.engine.undo();
      else peer.engine.redo();
    } else {
      const op = randomOp(rng, peer.engine.document, counter);
      if (op !== null) {
        peer.engine.submit(op);
        submitted++;
      }
    }
    // Sometimes let the network make progress, so ops interleave with acks and remote ops
    // instead of all composing locally.
    if (rng.chance(0.5)) await nextChange(peers, 50);
    else await turns(rng.int(4));
  }
  for (const peer of peers) if (peer.offlineFor > 0) peer.engine.connect();

  const server = async () =>
    (await t0.ok(`query($d: ID!) { dashboard(id: $d) { version document } }`, { d: id }, owner!.token)).dashboard;
  try {
    await waitFor(
      async () => {
        const head = await server();
        return peers.every(
          (p) => p.engine.pendingCount === 0 && p.engine.state === 'connected' && p.engine.version === head.version,
        );
      },
      { timeout: 30_000, interval: 20, description: `seed ${seed}: clients caught up` },
    );
    const head = await server();
    for (const p of peers) expect(p.engine.document).toEqual(head.document);
    // [LY2] concurrent moves, resizes and adds left no widget hidden behind another.
    expect(findOverlaps(head.document)).toEqual([]);

    // documentAt(v) agrees with replaying the op log from version 0.
    const ops: Array<{ version: number; op: JSONOp }> = [];
    for (let from = 0; ;) {
      const page = (
        await t0.ok(
          `query($d: ID!, $f: Int!) { dashboard(id: $d) { operations(fromVersion: $f, limit: 1000) { version op } } }`,
          { d: id, f: from },
          owner!.token,
        )
      ).dashboard.operations;
      if (page.length === 0) break;
      ops.push(...page);
      from = page.at(-1).version;
    }
    expect(ops.map((o) => o.version)).toEqual(Array.from({ length: head.version }, (_, i) => i + 1));
    let doc: DashboardDocument = createDocument(`fuzz ${seed}`);
    const checkAt = new Set([0, 1, Math.floor(head.version / 2), head.version - 1, head.version].filter((v) => v >= 0));
    for (let v = 0; v <= head.version; v++) {
      if (v > 0 && ops[v - 1]!.op !== null) doc = applyOp(doc, ops[v - 1]!.op);
      if (checkAt.has(v)) {
        const at = (
          await t0.ok(
            `query($d: ID!, $v: Int!) { dashboard(id: $d) { documentAt(version: $v) } }`,
            { d: id, v },
            owner!.token,
          )
        ).dashboard.documentAt;
        expect([v, at]).toEqual([v, doc]);
      }
    }
    expect(doc).toEqual(head.document);
    return { committed: head.version, submitted };
  } catch (error) {
    const head = await server().catch(() => null);
    console.error(
      JSON.stringify({
        serverVersion: head?.version,
        peers: peers.map((p) => ({
          id: p.engine.clientId,
          state: p.engine.state,
          version: p.engine.version,
          pending: p.engine.pendingCount,
          errors: p.errors.slice(-3),
        })),
      }),
    );
    throw error; // seeded() prints how to replay and pin the seed
  } finally {
    for (const p of peers) {
      p.engine.disconnect();
      await p.ws.dispose();
    }
  }
}

const seeds = Array.from({ length: SEEDS }, (_, i) => 1000 + i);

describe('[OP1][OP2][OP3][SUB1][LY2] convergence fuzz: 5 clients on 2 instances', () => {
  const totals = { seeds: 0, committed: 0, submitted: 0, started: Date.now() };
  afterAll(() => {
    console.log(
      `convergence fuzz (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'} + ${process.env.REDIS_URL ? 'Redis' : 'memory bus'}): ` +
        `${totals.seeds} seeds, ${totals.submitted} ops submitted, ${totals.committed} committed, ${Date.now() - totals.started} ms`,
    );
  });
  it.each(seedCases(REGRESSION_SEEDS, seeds))(
    '%s',
    seeded(import.meta.url, async (seed) => {
      const result = await runSeed(seed, { instances, ops: OPS });
      totals.seeds++;
      totals.committed += result.committed;
      totals.submitted += result.submitted;
      expect(result.committed).toBeGreaterThan(0);
    }),
  );
});

/** Drops a share of op messages on their way in, like a flaky pub/sub (SUB2). */
const lossyBus = (inner: EventBus, rng: Rng, dropRate: number, dropped: { n: number }) =>
  filteringBus(inner, {
    drop: (message) => {
      if (message.type !== 'op' || !rng.chance(dropRate)) return false;
      dropped.n++;
      return true;
    },
  });

describe('[SUB2][SUB3] pub/sub is a hint: clients converge when the bus loses messages', () => {
  it('an instance whose bus drops 30% of op messages still delivers every op, in order', async () => {
    const rng = createRng(4242);
    const dropped = { n: 0 };
    const lossy = await startApp(backend, {
      bus: lossyBus(backend.newBus(), rng, 0.3, dropped),
      config: { recheckIntervalMs: 100 },
    });
    try {
      const result = await runSeed(77, { instances: [instances[0]!, lossy], ops: 120 });
      expect(dropped.n).toBeGreaterThan(0);
      expect(result.committed).toBeGreaterThan(0);
    } finally {
      await lossy.stop();
    }
  });
});

describe('[SUB2][SUB3] after a bus reconnect, live subscriptions re-check the database', () => {
  it('ops whose messages were lost during an outage arrive once the bus reports a reconnect', async () => {
    const inner = backend.newBus();
    const reconnects = new Set<() => void>();
    let outage = true;
    const flaky = filteringBus(inner, {
      drop: (message) => outage && message.type === 'op', // lost while "down"
      onReconnect: (cb) => {
        reconnects.add(cb);
        return () => reconnects.delete(cb);
      },
      isUp: () => !outage,
    });
    // No periodic re-check: only the reconnect can reveal the lost ops.
    const lonely = await startApp(backend, { bus: flaky, config: { recheckIntervalMs: 0 } });
    try {
      const [owner] = users;
      const id = await createDashboard(instances[0]!, owner!.token, 'reconnect');
      const log = subscribeEvents(lonely.wsClient(owner!.token), { d: id, c: `rc-${RUN}` });
      await log.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
      let doc = createDocument('reconnect');
      for (let i = 0; i < 3; i++) {
        const op = addWidget(doc, newWidget('note', { id: `r${i}` }));
        await instances[0]!.ok(SUBMIT, { d: id, c: `rc-w-${RUN}`, s: i + 1, b: i, op }, owner!.token);
        doc = applyOp(doc, op);
      }
      expect(log.events.filter((x) => x.__typename === 'OperationApplied')).toHaveLength(0);
      outage = false;
      for (const cb of reconnects) cb();
      await log.until((e) => e.filter((x) => x.__typename === 'OperationApplied').length === 3);
      expect(log.events.filter((x) => x.__typename === 'OperationApplied').map((x) => x.version)).toEqual([1, 2, 3]);
      log.dispose();
    } finally {
      await lonely.stop();
    }
  });
});

describe('[SUB2] an instance delivers its own commits without the bus', () => {
  it('a subscriber on the submitting instance gets the op even when the bus delivers nothing', async () => {
    const deaf = await startApp(backend, {
      bus: lossyBus(backend.newBus(), createRng(1), 1, { n: 0 }),
      config: { recheckIntervalMs: 0 },
    });
    try {
      const [owner] = users;
      const id = await createDashboard(deaf, owner!.token, 'local');
      const log = subscribeEvents(deaf.wsClient(owner!.token), { d: id, c: `local-${RUN}` });
      await log.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
      const op = addWidget(createDocument('local'), newWidget('note', { id: 'n' }));
      await deaf.ok(SUBMIT, { d: id, c: `local-w-${RUN}`, s: 1, b: 0, op }, owner!.token);
      await log.until((e) => e.some((x) => x.__typename === 'OperationApplied' && x.version === 1));
      log.dispose();
    } finally {
      await deaf.stop();
    }
  });
});

describeWhen(HAS_REDIS_CLUSTER, NEEDS_REDIS_BINARY)(
  '[SO1][SUB2] convergence fuzz on a Redis Cluster: 5 clients on 3 instances, sharded pub/sub (issue #17)',
  () => {
    let cluster: RedisClusterHandle;
    let onCluster: Backend;
    const apps: TestApp[] = [];
    let editors: typeof users;
    beforeAll(async () => {
      // Each master with a replica, so a killed master fails over as in production.
      cluster = await startRedisCluster({ replicas: 1 });
      onCluster = await createBackend({ redisUrl: cluster.url });
      for (let i = 0; i < 3; i++) apps.push(await startApp(onCluster, { config: { recheckIntervalMs: 1000 } }));
      editors = await mapAll(['Dee', 'Eve', 'Fay'], (n) => signUp(apps[0]!, n));
    });
    afterAll(async () => {
      // The apps and their cluster clients first: the cluster must outlive their goodbyes
      // (stopped after it, they would reconnect to dead nodes until the harness closed them).
      for (const app of apps) await app.stop();
      await onCluster?.close();
      await cluster?.stop();
    });

    const clusterSeeds = Array.from({ length: Math.max(2, Math.ceil(SEEDS / 10)) }, (_, i) => 5000 + i);
    it.each(seedCases([], clusterSeeds))(
      '%s',
      seeded(import.meta.url, async (seed) => {
        const result = await runSeed(seed, { instances: apps, ops: OPS, users: editors });
        expect(result.committed).toBeGreaterThan(0);
      }),
    );

    it('converges with the master of the dashboard’s shard killed mid-run (failover to its replica)', async () => {
      let killed = false;
      const result = await runSeed(6000, {
        instances: apps,
        ops: OPS,
        users: editors,
        beforeStep: async (step, dashboardId) => {
          if (killed || step !== 40) return;
          killed = true;
          await cluster.killMasterOf(`{d:${dashboardId}}`);
        },
      });
      expect(killed).toBe(true);
      expect(result.committed).toBeGreaterThan(0);
      await cluster.waitForFailover();
    });
  },
);
