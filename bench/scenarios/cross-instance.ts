/**
 * (3) Cross-instance latency: two app instances on one PostgreSQL and one Redis; 10 editors
 * submit on A at a fixed offered rate (open loop), one subscriber on B sees the ops: submit
 * on A -> delivered on B, p50/p99, and the rate A sustains. Baseline: a raw ioredis publish
 * -> subscribe round trip of an equal-size payload at the same rate. Skipped without
 * PostgreSQL and Redis.
 */
import { percentile, round, spawnChild, type Seeded } from '../lib.js';
import {
  REDIS_URL,
  redisRoundTrips,
  RUN,
  freshDatabase,
  ratioOf,
  redisUp,
  startServer,
  withoutFigure,
  type BenchContext,
} from '../harness.js';

const METRIC = 'submit on A -> delivered on B, p99';

export async function crossInstance(ctx: BenchContext) {
  const { quick, emit } = ctx;
  // The target is judged at 1k ops/s; lower rates show where this machine stops keeping up.
  const rates = quick ? [300] : [300, 600, 1000];
  const duration = quick ? 2000 : 6000;
  const target = 'p99 < 30 ms';
  const db = await freshDatabase();
  const redis = await redisUp();
  if (!db || !redis) {
    emit(
      withoutFigure('cross-instance', METRIC, 'ms', target, {
        skipped: `needs PostgreSQL and Redis (${db ? '' : 'no PostgreSQL '}${redis ? '' : `no Redis at ${REDIS_URL}`})`,
      }),
    );
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
    for (const rate of rates) {
      const editors = Array.from({ length: 10 }, (_, i) => ({
        token: d.users[i]!.token,
        dashboardId: d.id,
        clientId: `xa-${RUN}-${rate}-${i}`,
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
      const { times: rtts } = await redisRoundTrips(payload, rate, duration);
      const baseP99 = percentile(rtts, 99);
      emit({
        scenario: 'cross-instance',
        metric: METRIC,
        value: round(r.p99),
        unit: 'ms',
        baseline: { name: 'raw ioredis publish -> subscribe p99', value: round(baseP99) },
        ratio: ratioOf(r.p99, baseP99),
        target,
        meets: rate >= 1000 ? r.p99 < 30 && r.unackedAfterWindow === 0 : null,
        unackedAfterWindow: r.unackedAfterWindow,
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
    }
  } finally {
    await clients.kill();
    for (const s of [a, b]) await s.stop();
    await db.drop();
  }
}
