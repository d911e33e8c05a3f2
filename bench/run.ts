/**
 * The benchmarks (DESIGN.md section 9): `npm run bench` (full), `-- --quick` (CI smoke,
 * under a minute), `-- --only <scenario>`, `-- --profile` (fan-out server under --cpu-prof).
 * Each scenario is bounded, loopback only, and prints one JSON line. The exit code is 1
 * only when a scenario crashed; missing targets never fail the run.
 */
import { readdirSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { buildApp } from '../api/src/app.js';
import { loadConfig } from '../api/src/config.js';
import { applyOp, invertOp, type JSONOp } from '../core/src/index.js';
import type { OperationRow } from '../api/src/ports/store.js';
import {
  BENCH_DIR,
  benchEnv,
  cpuSeconds,
  machine,
  percentile,
  round,
  seed,
  sleep,
  spawnChild,
  type Child,
  type Result,
  type Seeded,
} from './lib.js';
import { runShareDb } from './sharedb-baseline.js';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const PROFILE = argv.includes('--profile');
const onlyAt = argv.indexOf('--only');
const ONLY = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
const log = (...args: unknown[]) => console.error('[bench]', ...args);

const PG_ADMIN = process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const samples: Record<string, string> = {};
/** clientIds are claimed for good (rule OP2): unique per run. */
const RUN = randomUUID().slice(0, 8);

function emit(r: Result) {
  console.log(JSON.stringify({ ...r, machine: { cpus: machine().cpus, node: machine().node }, quick: QUICK }));
}

function ratioOf(value: number | null, base: number | null | undefined) {
  return value !== null && base !== null && base !== undefined && base !== 0 ? round(value / base) : null;
}

/** A fresh PostgreSQL database (dropped by the returned function), or DATABASE_URL as is. */
async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> } | null> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, drop: async () => {} };
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  try {
    await admin.connect();
  } catch {
    return null;
  }
  const name = `bench_${Date.now()}_${randomUUID().slice(0, 6)}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = PG_ADMIN.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function redisUp(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function startServer(env: Record<string, string>, execArgv: string[] = []) {
  const child = await spawnChild('server.ts', { execArgv: ['--expose-gc', ...execArgv] });
  const { port } = await child.call<{ port: number }>('start', { env });
  return { child, port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/graphql` };
}

/** Waits until the clients' message count stops moving (a burst has drained). */
async function quiesce(clients: Child, stableMs = 500, maxMs = 30_000) {
  const until = performance.now() + maxMs;
  let last = -1;
  while (performance.now() < until) {
    const { messages } = await clients.call<{ messages: number }>('counts');
    if (messages === last) return messages;
    last = messages;
    await sleep(stableMs);
  }
  return last;
}

function subsFor(seeded: Seeded, n: number, prefix: string) {
  return Array.from({ length: n }, (_, j) => {
    const d = seeded.dashboards[j % seeded.dashboards.length]!;
    const u = d.users[Math.floor(j / seeded.dashboards.length) % d.users.length]!;
    return { token: u.token, dashboardId: d.id, clientId: `${prefix}-${RUN}-${j}` };
  });
}

/** Top self-time frames of the newest .cpuprofile in `dir`. */
function profileTop(dir: string, n = 12) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return null;
  const profile = JSON.parse(readFileSync(path.join(dir, files.sort().at(-1)!), 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const url = f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/main\//, '');
    const key = `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, us]) => ({ frame, selfPct: round((100 * us) / total, 3) }));
}

// ---------------------------------------------------------------------------------------
// (1) fan-out and (6) scale-out
async function fanout() {
  const S = QUICK ? 100 : 1000;
  const SENDERS = QUICK ? 8 : 20;
  const duration = QUICK ? 2000 : 6000;
  const profileDir = path.join(BENCH_DIR, '.profiles');
  if (PROFILE) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const server = await startServer({}, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
  const clients = await spawnChild('clients.ts');
  try {
    const seeded = await server.child.call<Seeded>('seed', {
      spec: { dashboards: 1, usersPer: Math.max(5, Math.ceil(S / 40)), widgets: 4 },
    });
    const subs = subsFor(seeded, S, 'sub');
    log(`fan-out: connecting ${S} subscribers`);
    await clients.call('connectGql', { url: server.wsUrl, subs }, 300_000);
    await quiesce(clients);
    const senders = subsFor(seeded, SENDERS, 'cursor');
    const c0 = await clients.call('counts');
    const u0 = await server.child.call('usage');
    const load = await clients.call('presenceLoad', { url: server.url, senders, intervalMs: 34, durationMs: duration });
    const c1 = await clients.call('counts');
    const u1 = await server.child.call('usage');
    await quiesce(clients);
    const c2 = await clients.call('counts');
    const u2 = await server.child.call('usage');
    const delivered = c1.messages - c0.messages;
    const rate = delivered / (duration / 1000);
    const serverCpu = cpuSeconds({ user: u2.cpu.user - u0.cpu.user, system: u2.cpu.system - u0.cpu.system });
    const allDelivered = c2.messages - c0.messages;
    Object.assign(samples, c2.samples);
    const frame = c2.samples.PresenceUpdated as string;
    await clients.call('closeAll');

    // Baseline: plain ws broadcast of an equal-size frame to as many sockets.
    const base = await spawnChild('ws-baseline.ts');
    let baseRate: number | null = null;
    let baseDetail: unknown = null;
    try {
      const { port } = await base.call('start', {});
      await clients.call('connectRaw', { url: `ws://127.0.0.1:${port}`, n: S }, 120_000);
      const b0 = await clients.call('counts');
      const sent = await base.call('broadcast', { frame, durationMs: duration }, duration + 60_000);
      const b1 = await clients.call('counts');
      baseRate = (b1.messages - b0.messages) / (duration / 1000);
      baseDetail = { sent: sent.sent, skippedFull: sent.skipped, serverCpuS: round(cpuSeconds(sent.cpu)) };
      await clients.call('closeAll');
    } finally {
      await base.kill();
    }
    const ratio = ratioOf(rate, baseRate);
    emit({
      scenario: 'fanout',
      metric: 'delivered cursor events/s',
      value: round(rate),
      unit: 'msg/s',
      baseline: { name: 'plain ws broadcast (own process)', value: baseRate && round(baseRate) },
      ratio,
      target: '>= 0.6x baseline',
      meets: ratio === null ? null : ratio >= 0.6,
      subscribers: S,
      senders: SENDERS,
      presenceSent: load.sent,
      presenceFailed: load.failed,
      presenceError: load.lastError || undefined,
      offeredEventsPerSec: round((load.sent * S) / (duration / 1000)),
      backlogAfterWindow: allDelivered - delivered,
      frameBytes: Buffer.byteLength(frame ?? ''),
      serverCpuPerSec: round(
        cpuSeconds({ user: u1.cpu.user - u0.cpu.user, system: u1.cpu.system - u0.cpu.system }) / (duration / 1000),
      ),
      baselineDetail: baseDetail,
      durationMs: duration,
    });
    const cpuPer1k = allDelivered > 0 ? serverCpu / (allDelivered / 1000) : null;
    const cores = machine().cpus;
    emit({
      scenario: 'scaleout',
      metric: 'server CPU seconds per 1k delivered events',
      value: cpuPer1k === null ? null : round(cpuPer1k),
      unit: 'cpu-s/1k events',
      baseline: {
        name: 'plain ws broadcast CPU s per 1k',
        value:
          baseDetail && baseRate
            ? round((baseDetail as { serverCpuS: number }).serverCpuS / ((baseRate * duration) / 1000 / 1000))
            : null,
      },
      ratio: null,
      target: 'arithmetic for N machines in bench/RESULTS.md',
      meets: null,
      eventsPerCoreSec: cpuPer1k ? round(1000 / cpuPer1k) : null,
      note: `one instance per core delivers ~1000/cpuPer1k events/s; N machines x ${cores} cores, minus Redis fan-out (1 publish + 1 message per instance per event)`,
    });
  } finally {
    await clients.call('closeAll').catch(() => {});
    await clients.kill();
    await server.child.call('stop').catch(() => {});
    await server.child.kill();
  }
  if (PROFILE) {
    await sleep(500);
    emit({
      scenario: 'fanout-profile',
      metric: 'top self-time frames (server process)',
      value: null,
      unit: '',
      baseline: null,
      ratio: null,
      target: '',
      meets: null,
      profileDir,
      top: profileTop(profileDir),
    });
  }
}

// ---------------------------------------------------------------------------------------
// (2) op throughput
async function opsOne(layout: 'one' | 'many', databaseUrl?: string) {
  const C = 50;
  const duration = QUICK ? 1000 : 6000;
  const warmup = QUICK ? 300 : 1000;
  const server = await startServer(databaseUrl ? { DATABASE_URL: databaseUrl } : {});
  const clients = await spawnChild('clients.ts');
  try {
    const seeded = await server.child.call<Seeded>('seed', {
      spec: layout === 'one' ? { dashboards: 1, usersPer: C, widgets: C } : { dashboards: C, usersPer: 1, widgets: 1 },
    });
    const editors = Array.from({ length: C }, (_, i) => {
      const d = layout === 'one' ? seeded.dashboards[0]! : seeded.dashboards[i]!;
      const u = layout === 'one' ? d.users[i]! : d.users[0]!;
      return {
        token: u.token,
        dashboardId: d.id,
        clientId: `ed-${RUN}-${layout}-${i}`,
        widgetId: layout === 'one' ? d.widgetIds[i]! : d.widgetIds[0]!,
      };
    });
    const u0 = await server.child.call('usage');
    const r = await clients.call(
      'editors',
      { url: server.wsUrl, editors, durationMs: duration, warmupMs: warmup },
      duration + warmup + 120_000,
    );
    const u1 = await server.child.call('usage');
    const c = await clients.call('counts');
    Object.assign(samples, c.samples);
    return {
      ...r,
      serverCpuS: round(cpuSeconds({ user: u1.cpu.user - u0.cpu.user, system: u1.cpu.system - u0.cpu.system })),
      durationMs: duration,
    };
  } finally {
    await clients.call('closeAll').catch(() => {});
    await clients.kill();
    await server.child.call('stop').catch(() => {});
    await server.child.kill();
  }
}

async function ops() {
  const db = await freshDatabase();
  try {
    let shareDb: { value: number | null; reason?: string; detail?: unknown } = { value: null, reason: 'no PostgreSQL' };
    if (db) {
      shareDb = await runShareDb({ adminUrl: PG_ADMIN, editors: 50, durationMs: QUICK ? 1500 : 6000 }).catch(
        (error: Error) => ({ value: null, reason: `ShareDB baseline failed: ${error.message}` }),
      );
    }
    for (const storage of ['postgres', 'pglite'] as const) {
      if (storage === 'postgres' && !db) {
        emit({
          scenario: 'ops-postgres',
          metric: 'committed ops/s',
          value: null,
          unit: 'ops/s',
          baseline: null,
          ratio: null,
          target: '>= 30x ShareDB, p99 < 50 ms',
          meets: null,
          skipped: 'PostgreSQL not reachable',
        });
        continue;
      }
      for (const layout of QUICK ? (['one'] as const) : (['one', 'many'] as const)) {
        log(`ops: ${storage}, ${layout === 'one' ? '50 editors on one dashboard' : '50 dashboards'}`);
        const r = await opsOne(layout, storage === 'postgres' ? db!.url : undefined);
        const base = storage === 'postgres' && layout === 'one' ? shareDb.value : null;
        const ratio = ratioOf(r.opsPerSec, base);
        emit({
          scenario: `ops-${storage}-${layout === 'one' ? 'one-dashboard' : 'many-dashboards'}`,
          metric: 'committed ops/s',
          value: round(r.opsPerSec),
          unit: 'ops/s',
          baseline:
            layout === 'one' && storage === 'postgres'
              ? { name: 'ShareDB + sharedb-postgres + ot-json1, 50 editors one doc', value: base }
              : null,
          baselineReason: layout === 'one' && storage === 'postgres' && base === null ? shareDb.reason : undefined,
          baselineDetail: layout === 'one' && storage === 'postgres' ? shareDb.detail : undefined,
          ratio,
          target: layout === 'one' ? '>= 30x ShareDB ops/s, p99 ack < 50 ms' : 'p99 ack < 50 ms',
          meets: layout === 'one' ? (ratio === null ? null : ratio >= 30 && r.p99 < 50) : r.p99 < 50,
          editors: 50,
          p50AckMs: round(r.p50),
          p99AckMs: round(r.p99),
          failed: r.failed,
          lastError: r.lastError || undefined,
          serverCpuS: r.serverCpuS,
          durationMs: r.durationMs,
        });
      }
    }
  } finally {
    await db?.drop();
  }
}

// ---------------------------------------------------------------------------------------
// (3) cross-instance latency
async function crossInstance() {
  const rate = QUICK ? 300 : 1000;
  const duration = QUICK ? 2000 : 6000;
  const target = 'p99 < 30 ms';
  const db = await freshDatabase();
  const redis = await redisUp();
  if (!db || !redis) {
    emit({
      scenario: 'cross-instance',
      metric: 'submit on A -> delivered on B, p99',
      value: null,
      unit: 'ms',
      baseline: null,
      ratio: null,
      target,
      meets: null,
      skipped: `needs PostgreSQL and Redis (${db ? '' : 'no PostgreSQL '}${redis ? '' : `no Redis at ${REDIS_URL}`})`,
    });
    await db?.drop();
    return;
  }
  const env = { DATABASE_URL: db.url, REDIS_URL };
  const a = await startServer(env);
  const b = await startServer(env);
  const clients = await spawnChild('clients.ts');
  try {
    const seeded = await a.child.call<Seeded>('seed', { spec: { dashboards: 1, usersPer: 11, widgets: 10 } });
    const d = seeded.dashboards[0]!;
    await clients.call('connectGql', {
      url: b.wsUrl,
      subs: [{ token: d.users[10]!.token, dashboardId: d.id, clientId: `watcher-${RUN}` }],
    });
    const editors = Array.from({ length: 10 }, (_, i) => ({
      token: d.users[i]!.token,
      dashboardId: d.id,
      clientId: `xa-${RUN}-${i}`,
      widgetId: d.widgetIds[i]!,
    }));
    const r = await clients.call(
      'crossInstance',
      { urlA: a.wsUrl, editors, rate, durationMs: duration, warmupMs: 500 },
      duration + 120_000,
    );
    // Baseline: raw ioredis publish -> subscribe round trip at the same rate and size.
    const payload = JSON.stringify({
      type: 'op',
      dashboardId: d.id,
      version: 1,
      op: ['widgets', d.widgetIds[0], 'x', { r: true, i: 1 }],
      clientId: 'xa-0',
      seq: 1,
      authorId: d.users[0]!.userId,
      createdAt: new Date().toISOString(),
      committedAt: Date.now(),
    });
    const pub = new Redis(REDIS_URL);
    const sub = new Redis(REDIS_URL);
    const channel = `bench-rtt-${randomUUID()}`;
    const rtts: number[] = [];
    const sent = new Map<string, number>();
    sub.on('message', (_ch, message: string) => {
      const key = message.slice(0, 12);
      const at = sent.get(key);
      if (at !== undefined) rtts.push(performance.now() - at);
    });
    await sub.subscribe(channel);
    const n = Math.round((rate * duration) / 1000);
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const key = String(i).padStart(12, '0');
      sent.set(key, performance.now());
      void pub.publish(channel, key + payload);
      const due = start + ((i + 1) * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
    }
    await sleep(300);
    pub.disconnect();
    sub.disconnect();
    const baseP99 = percentile(rtts, 99);
    emit({
      scenario: 'cross-instance',
      metric: 'submit on A -> delivered on B, p99',
      value: round(r.p99),
      unit: 'ms',
      baseline: { name: 'raw ioredis publish -> subscribe p99', value: round(baseP99) },
      ratio: ratioOf(r.p99, baseP99),
      target,
      meets: r.p99 < 30,
      p50Ms: round(r.p50),
      baselineP50Ms: round(percentile(rtts, 50)),
      achievedOpsPerSec: round(r.rate),
      offeredOpsPerSec: rate,
      ackP50Ms: round(r.ackP50),
      ackP99Ms: round(r.ackP99),
      delivered: r.delivered,
      lost: r.lost,
      failed: r.failed,
      lastError: r.lastError || undefined,
      durationMs: duration,
    });
  } finally {
    await clients.kill();
    for (const s of [a, b]) {
      await s.child.call('stop').catch(() => {});
      await s.child.kill();
    }
    await db.drop();
  }
}

// ---------------------------------------------------------------------------------------
// (4) idle connections
async function connections() {
  const N = QUICK ? 1000 : 10_000;
  const PER_DASHBOARD = 50;
  // PostgreSQL keeps the store out of the server's RSS (PGlite's heap would drown the figure).
  const db = await freshDatabase();
  const server = await startServer(db ? { DATABASE_URL: db.url } : {});
  const clients = await spawnChild('clients.ts');
  let perConn: number | null;
  let detail: Record<string, unknown>;
  try {
    const seeded = await server.child.call<Seeded>('seed', {
      spec: { dashboards: Math.ceil(N / PER_DASHBOARD), usersPer: 2, widgets: 2 },
    });
    await sleep(200);
    const r0 = await server.child.call('usage');
    log(`connections: opening ${N} graphql-ws subscribers`);
    const t0 = performance.now();
    await clients.call('connectGql', { url: server.wsUrl, subs: subsFor(seeded, N, 'idle') }, 600_000);
    const connectS = (performance.now() - t0) / 1000;
    await quiesce(clients, 500, 60_000);
    await sleep(500);
    const r1 = await server.child.call('usage');
    perConn = (r1.rss - r0.rss) / N;
    detail = {
      rssBeforeMB: round(r0.rss / 2 ** 20),
      rssAfterMB: round(r1.rss / 2 ** 20),
      heapPerConnKB: round((r1.heapUsed - r0.heapUsed) / N / 1024),
      connectSeconds: round(connectS),
    };
    await clients.call('closeAll', {}, 120_000);
  } finally {
    await server.child.call('stop').catch(() => {});
    await server.child.kill();
    await db?.drop();
  }
  const base = await spawnChild('ws-baseline.ts', { execArgv: ['--expose-gc'] });
  let basePer: number | null;
  try {
    const { port } = await base.call('start', {});
    const b0 = await base.call('usage');
    await clients.call('connectRaw', { url: `ws://127.0.0.1:${port}`, n: N }, 300_000);
    await sleep(500);
    const b1 = await base.call('usage');
    basePer = (b1.rss - b0.rss) / N;
    await clients.call('closeAll', {}, 120_000);
  } finally {
    await base.kill();
    await clients.kill();
  }
  const kb = perConn === null ? null : perConn / 1024;
  emit({
    scenario: 'connections',
    metric: 'server RSS per idle subscriber',
    value: kb === null ? null : round(kb),
    unit: 'KB',
    baseline: { name: 'plain ws idle socket RSS', value: basePer === null ? null : round(basePer / 1024) },
    ratio: ratioOf(perConn, basePer),
    target: `${QUICK ? 1000 : 10_000} subscribers at < 30 KB each`,
    meets: kb === null ? null : kb < 30,
    subscribers: N,
    subscribersPerDashboard: PER_DASHBOARD,
    storage: db ? 'postgres' : 'pglite',
    ...detail,
  });
}

// ---------------------------------------------------------------------------------------
// (5) cold open
async function coldOpen() {
  const HISTORY = QUICK ? 10_000 : 100_000;
  const BATCH = 2000;
  const db = await freshDatabase();
  const env = benchEnv({ DATA_DIR: 'memory://' });
  const config = loadConfig(env, { databaseUrl: db?.url });
  // PGlite lives in one process: seed and measure with one app; PostgreSQL: a fresh app.
  let app = buildApp({ config });
  try {
    await app.start(0, '127.0.0.1');
    const seeded = await seed(app, { dashboards: 1, usersPer: 1, widgets: 20 });
    const d = seeded.dashboards[0]!;
    const user = d.users[0]!;
    log(`cold open: seeding ${HISTORY} ops`);
    const seedStart = performance.now();
    let doc = (await app.services.store.getDashboard(d.id))!.document;
    const now = new Date();
    let version = 0;
    while (version < HISTORY) {
      await app.services.store.withDashboardLock(d.id, async (tx) => {
        const rows: OperationRow[] = [];
        for (let i = 0; i < BATCH && version < HISTORY; i++) {
          version++;
          const op = ['widgets', d.widgetIds[version % d.widgetIds.length]!, 'x', { r: true, i: version }] as JSONOp;
          const inverse = invertOp(op, doc);
          doc = applyOp(doc, op);
          rows.push({
            dashboardId: d.id,
            version,
            op,
            inverse,
            authorId: user.userId,
            clientId: 'seed',
            seq: version,
            kind: 'edit',
            undoState: 'active',
            refVersion: null,
            createdAt: now,
          });
          if (version % config.snapshotEvery === 0) await tx.insertSnapshot(version, doc);
        }
        await tx.insertOperations(rows);
        await tx.updateHead(version, doc, (doc as { title: string }).title, now);
      });
    }
    const seedS = (performance.now() - seedStart) / 1000;
    if (db) {
      await app.stop();
      app = buildApp({ config });
    }
    const { port } = db
      ? await app.start(0, '127.0.0.1')
      : { port: app.server.address() && (app.server.address() as { port: number }).port };
    const query = async () => {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
        body: JSON.stringify({
          query: 'query($id: ID!) { dashboard(id: $id) { version document } }',
          variables: { id: d.id },
        }),
      });
      const body = (await res.json()) as { data?: { dashboard?: { version: number } }; errors?: unknown };
      if (body.data?.dashboard?.version !== HISTORY)
        throw new Error(`cold open: ${JSON.stringify(body).slice(0, 300)}`);
      return performance.now() - t;
    };
    const cold = await query();
    const warm: number[] = [];
    for (let i = 0; i < 20; i++) warm.push(await query());
    const snapTimes: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      await app.services.store.latestSnapshot(d.id, HISTORY);
      snapTimes.push(performance.now() - t);
    }
    const base = percentile(snapTimes.slice(1), 50);
    emit({
      scenario: 'cold-open',
      metric: 'time to dashboard { document } over HTTP (first request of a fresh instance)',
      value: round(cold),
      unit: 'ms',
      baseline: { name: 'store.latestSnapshot (newest snapshot row alone), p50', value: round(base) },
      ratio: ratioOf(cold, base),
      target: '< 100 ms',
      meets: cold < 100,
      historyOps: HISTORY,
      storage: db ? 'postgres' : 'pglite',
      warmP50Ms: round(percentile(warm, 50)),
      warmP99Ms: round(percentile(warm, 99)),
      baselineFirstMs: round(snapTimes[0]!),
      seedSeconds: round(seedS),
    });
  } finally {
    await app.stop().catch(() => {});
    await db?.drop();
  }
}

// ---------------------------------------------------------------------------------------
// (7) permessage-deflate
async function deflate() {
  const S = QUICK ? 50 : 200;
  const ROUNDS = QUICK ? 200 : 1000;
  const frames = {
    op:
      samples.OperationApplied ??
      JSON.stringify({
        id: 'x',
        type: 'next',
        payload: {
          data: {
            dashboardEvents: {
              __typename: 'OperationApplied',
              version: 1,
              op: ['widgets', 'abc', 'x', { r: true, i: 1 }],
              clientId: 'ed-1',
              seq: 1,
              author: { id: randomUUID() },
              createdAt: new Date().toISOString(),
            },
          },
        },
      }),
    cursor:
      samples.PresenceUpdated ??
      JSON.stringify({
        id: 'x',
        type: 'next',
        payload: {
          data: {
            dashboardEvents: {
              __typename: 'PresenceUpdated',
              presence: {
                clientId: 'c-1',
                user: { id: randomUUID(), name: 'Bench', color: '#3366ff' },
                cursor: { x: 1, y: 2 },
                selection: null,
                version: 0,
                status: 'ACTIVE',
                lastSeen: new Date().toISOString(),
              },
            },
          },
        },
      }),
  };
  const rows: Record<string, unknown> = {};
  const clients = await spawnChild('clients.ts');
  try {
    for (const on of [false, true]) {
      for (const [kind, frame] of Object.entries(frames)) {
        // Vary the frame a little per round, as real traffic does (version, cursor position).
        const variants = Array.from({ length: 16 }, (_, i) => frame.replace(/\d(?=[,}])/, String(i % 10)));
        const base = await spawnChild('ws-baseline.ts');
        try {
          const { port } = await base.call('start', { deflate: on });
          await clients.call('setDeflate', { on });
          await clients.call('connectRaw', { url: `ws://127.0.0.1:${port}`, n: S });
          const c0 = await clients.call('counts');
          const r = await base.call('replay', { frames: variants, rounds: ROUNDS, intervalMs: 0 }, 120_000);
          await sleep(200);
          const c1 = await clients.call('counts');
          const msgs = S * ROUNDS;
          rows[`${kind}-${on ? 'on' : 'off'}`] = {
            frameBytes: Buffer.byteLength(frame),
            wireBytesPerMsg: round((c1.bytes - c0.bytes) / msgs),
            serverCpuUsPerMsg: round((cpuSeconds(r.cpu) * 1e6) / msgs),
            clientCpuUsPerMsg: round(((c1.cpu.user + c1.cpu.system - c0.cpu.user - c0.cpu.system) as number) / msgs),
            delivered: c1.messages - c0.messages,
          };
          await clients.call('closeAll');
        } finally {
          await base.kill();
        }
      }
    }
  } finally {
    await clients.kill();
  }
  const get = (k: string) => rows[k] as { wireBytesPerMsg: number; serverCpuUsPerMsg: number };
  const bytesRatio = round(
    (get('op-on').wireBytesPerMsg + get('cursor-on').wireBytesPerMsg) /
      (get('op-off').wireBytesPerMsg + get('cursor-off').wireBytesPerMsg),
  );
  const cpuRatio = round(
    (get('op-on').serverCpuUsPerMsg + get('cursor-on').serverCpuUsPerMsg) /
      (get('op-off').serverCpuUsPerMsg + get('cursor-off').serverCpuUsPerMsg),
  );
  emit({
    scenario: 'deflate',
    metric: 'wire bytes per message, deflate on / off (op + cursor frames)',
    value: bytesRatio,
    unit: 'x',
    baseline: { name: 'deflate off', value: 1 },
    ratio: bytesRatio,
    target: 'choose the default from the figures',
    meets: null,
    serverCpuRatioOnOff: cpuRatio,
    subscribers: S,
    messagesPerSocket: ROUNDS,
    rows,
    note: 'real frames captured from the product, replayed by a plain ws server with perMessageDeflate on/off (the product server leaves it at the ws default: off)',
  });
}

// ---------------------------------------------------------------------------------------
const SCENARIOS: Record<string, () => Promise<void>> = {
  fanout,
  ops,
  'cross-instance': crossInstance,
  connections,
  'cold-open': coldOpen,
  deflate,
};

async function main() {
  if (ONLY && !SCENARIOS[ONLY]) {
    console.error(`unknown scenario ${ONLY}; one of ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
  log(`machine ${JSON.stringify(machine())}${QUICK ? ' (quick)' : ''}`);
  let crashed = 0;
  const started = performance.now();
  for (const [name, run] of Object.entries(SCENARIOS)) {
    if (ONLY && name !== ONLY) continue;
    const t = performance.now();
    try {
      await run();
    } catch (error) {
      crashed++;
      emit({
        scenario: name,
        metric: 'crashed',
        value: null,
        unit: '',
        baseline: null,
        ratio: null,
        target: '',
        meets: null,
        error: String((error as Error).stack ?? error).slice(0, 2000),
      });
    }
    log(`${name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s, ${crashed} crashed`);
  process.exit(crashed > 0 ? 1 : 0);
}

void main();
