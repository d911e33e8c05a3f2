/**
 * (5) Cold open: a dashboard with a long history (10k ops quick, 100k full), written
 * straight through the store in batches; then the first `dashboard { version document }`
 * request over HTTP of a fresh app instance (a new app on PostgreSQL; the same app on
 * PGlite, which lives in one process), and warm p50/p99. Baseline: the store reading the
 * newest snapshot row alone (store.latestSnapshot), p50.
 */
import { applyOp, invertOp, type JSONOp } from '@collab-dashboards/core';
import { buildApp, type App } from '../../api/src/app.js';
import { loadConfig } from '../../api/src/config.js';
import type { OperationRow } from '../../api/src/ports/operation-log.js';
import { benchEnv, percentile, round, seed, type Seeded } from '../lib.js';
import { freshDatabase, log, ratioOf, type BenchContext } from '../harness.js';

const BATCH = 2000;

/**
 * Writes `history` ops (a widget moved sideways each) straight through the store, BATCH per
 * transaction, with a snapshot every `snapshotEvery` versions, as the product would have.
 */
export async function writeHistory(
  app: App,
  d: Seeded['dashboards'][number],
  authorId: string,
  history: number,
  snapshotEvery: number,
) {
  let doc = (await app.services.store.getDashboard(d.id))!.document;
  const now = new Date();
  let version = 0;
  while (version < history) {
    await app.services.store.withDashboardLocks([{ dashboardId: d.id }], async (txs) => {
      const tx = txs.get(d.id)!;
      const rows: OperationRow[] = [];
      const snapshots: Array<{ version: number; document: unknown }> = [];
      for (let i = 0; i < BATCH && version < history; i++) {
        version++;
        const op = ['widgets', d.widgetIds[version % d.widgetIds.length]!, 'x', { r: true, i: version }] as JSONOp;
        const inverse = invertOp(op, doc);
        doc = applyOp(doc, op);
        rows.push({
          dashboardId: d.id,
          version,
          op,
          inverse,
          authorId,
          clientId: 'seed',
          seq: version,
          kind: 'edit',
          undoState: 'active',
          refVersion: null,
          undoGroup: version,
          createdAt: now,
        });
        if (version % snapshotEvery === 0) snapshots.push({ version, document: doc });
      }
      await tx.write({
        clearRedo: [],
        undoStates: [],
        operations: rows,
        snapshots,
        head: { version, document: doc, title: (doc as { title: string }).title, at: now },
      });
    });
  }
}

export async function coldOpen(ctx: BenchContext) {
  const HISTORY = ctx.quick ? 10_000 : 100_000;
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
    await writeHistory(app, d, user.userId, HISTORY, config.snapshotEvery);
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
    ctx.emit({
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
