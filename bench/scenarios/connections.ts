/**
 * (4) Idle connections: server RSS per idle graphql-ws subscriber (N subscribers, 50 per
 * dashboard, after a warm-up and a settle), the store on PostgreSQL so its data stays out
 * of the server's RSS (PGlite when PostgreSQL is not reachable). Baseline: RSS per idle
 * socket of a plain `ws` server (ws-baseline.ts).
 */
import { round, sleep, spawnChild, type Seeded } from '../lib.js';
import { freshDatabase, log, quiesce, ratioOf, startServer, subsFor, type BenchContext } from '../harness.js';

const PER_DASHBOARD = 50;

export async function connections(ctx: BenchContext) {
  const { quick } = ctx;
  const N = quick ? 1000 : 10_000;
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
    // Warm up first (code paths compiled, pools and caches filled), so the baseline reading
    // does not charge one-time costs to the subscribers.
    await clients.call('connectGql', { url: server.wsUrl, subs: subsFor(seeded, 200, 'warm') }, 120_000);
    await clients.call('closeAll', {}, 120_000);
    await sleep(1000);
    await server.child.call('usage');
    const r0 = await server.child.call('usage');
    log(`connections: opening ${N} graphql-ws subscribers`);
    const t0 = performance.now();
    await clients.call('connectGql', { url: server.wsUrl, subs: subsFor(seeded, N, 'idle') }, 600_000);
    const connectS = (performance.now() - t0) / 1000;
    await quiesce(clients, 500, 60_000);
    // Let V8 return the burst's slack (committed but unused heap) before reading RSS.
    await sleep(quick ? 2000 : 10_000);
    await server.child.call('usage');
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
    await server.stop();
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
  ctx.emit({
    scenario: 'connections',
    metric: 'server RSS per idle subscriber',
    value: kb === null ? null : round(kb),
    unit: 'KB',
    baseline: { name: 'plain ws idle socket RSS', value: basePer === null ? null : round(basePer / 1024) },
    ratio: ratioOf(perConn, basePer),
    target: `${quick ? 1000 : 10_000} subscribers at < 30 KB each`,
    meets: kb === null ? null : kb < 30,
    subscribers: N,
    subscribersPerDashboard: PER_DASHBOARD,
    storage: db ? 'postgres' : 'pglite',
    ...detail,
  });
}
