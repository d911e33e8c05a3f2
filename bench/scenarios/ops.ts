/**
 * (2) Op throughput: 50 editors (real graphql-ws clients), each submitting its next op as
 * soon as the previous one is acked, on one dashboard or on 50 (`many`, full run only), on
 * PostgreSQL and on PGlite: committed ops/s and ack latency. Baseline (PostgreSQL, one
 * dashboard): ShareDB + sharedb-postgres + ot-json1 on the same database and workload
 * (sharedb-baseline.ts). `--case <storage>-<layout>` runs one case without the baseline.
 */
import { cpuSeconds, round, spawnChild, type Seeded } from '../lib.js';
import {
  PG_ADMIN,
  RUN,
  freshDatabase,
  log,
  ratioOf,
  startServer,
  withoutFigure,
  type BenchContext,
} from '../harness.js';
import { cpuProfiling, emitProfile, type ProfileWindow } from '../profile.js';
import { runShareDb } from '../sharedb-baseline.js';

const EDITORS = 50;

type Layout = 'one' | 'many';

/** One case: the app on PostgreSQL (`databaseUrl`) or PGlite, EDITORS editors on `layout`. */
async function opsCase(ctx: BenchContext, layout: Layout, databaseUrl?: string) {
  const C = EDITORS;
  const duration = ctx.quick ? 1000 : 6000;
  const warmup = ctx.quick ? 300 : 1000;
  const profiling = cpuProfiling(ctx.profile);
  const server = await startServer(databaseUrl ? { DATABASE_URL: databaseUrl } : {}, profiling.execArgv);
  let profileWindow: ProfileWindow | undefined;
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
    const hrUs = () => Number(process.hrtime.bigint() / 1000n);
    const fromUs = hrUs() + warmup * 1000;
    const r = await clients.call(
      'editors',
      { url: server.wsUrl, editors, durationMs: duration, warmupMs: warmup },
      duration + warmup + 120_000,
    );
    profileWindow = { fromUs, toUs: Math.min(hrUs(), fromUs + duration * 1000) };
    const u1 = await server.child.call('usage');
    const c = await clients.call('counts');
    Object.assign(ctx.samples, c.samples);
    return {
      ...r,
      serverCpuS: round(cpuSeconds({ user: u1.cpu.user - u0.cpu.user, system: u1.cpu.system - u0.cpu.system })),
      serverSystemCpuS: round((u1.cpu.system - u0.cpu.system) / 1e6),
      durationMs: duration,
    };
  } finally {
    await clients.call('closeAll').catch(() => {});
    await clients.kill();
    await server.stop();
    if (ctx.profile) await emitProfile(ctx.emit, `ops-profile-${layout}`, profiling.dir, profileWindow);
  }
}

export async function ops(ctx: BenchContext) {
  const { quick, caseName, emit } = ctx;
  const db = await freshDatabase();
  try {
    let shareDb: { value: number | null; reason?: string; detail?: unknown } = { value: null, reason: 'no PostgreSQL' };
    if (db && !caseName) {
      shareDb = await runShareDb({ adminUrl: PG_ADMIN, editors: EDITORS, durationMs: quick ? 1500 : 6000 }).catch(
        (error: Error) => ({ value: null, reason: `ShareDB baseline failed: ${error.message}` }),
      );
    }
    for (const storage of ['postgres', 'pglite'] as const) {
      if (storage === 'postgres' && !db) {
        emit(
          withoutFigure('ops-postgres', 'committed ops/s', 'ops/s', '>= 30x ShareDB, p99 < 50 ms', {
            skipped: 'PostgreSQL not reachable',
          }),
        );
        continue;
      }
      for (const layout of quick ? (['one'] as const) : (['one', 'many'] as const)) {
        if (caseName && caseName !== `${storage}-${layout}`) continue;
        log(`ops: ${storage}, ${layout === 'one' ? '50 editors on one dashboard' : '50 dashboards'}`);
        const r = await opsCase(ctx, layout, storage === 'postgres' ? db!.url : undefined);
        const againstShareDb = storage === 'postgres' && layout === 'one';
        const base = againstShareDb ? shareDb.value : null;
        const ratio = ratioOf(r.opsPerSec, base);
        emit({
          scenario: `ops-${storage}-${layout === 'one' ? 'one-dashboard' : 'many-dashboards'}`,
          metric: 'committed ops/s',
          value: round(r.opsPerSec),
          unit: 'ops/s',
          baseline: againstShareDb
            ? { name: 'ShareDB + sharedb-postgres + ot-json1, 50 editors one doc', value: base }
            : null,
          baselineReason: againstShareDb && base === null ? shareDb.reason : undefined,
          baselineDetail: againstShareDb ? shareDb.detail : undefined,
          ratio,
          target: layout === 'one' ? '>= 30x ShareDB ops/s, p99 ack < 50 ms' : 'p99 ack < 50 ms',
          meets: layout === 'one' ? (ratio === null ? null : ratio >= 30 && r.p99 < 50) : r.p99 < 50,
          editors: EDITORS,
          p50AckMs: round(r.p50),
          p99AckMs: round(r.p99),
          failed: r.failed,
          lastError: r.lastError || undefined,
          serverCpuS: r.serverCpuS,
          serverSystemCpuS: r.serverSystemCpuS,
          clientCpuS: round(((r.clientCpu?.user ?? 0) + (r.clientCpu?.system ?? 0)) / 1e6),
          durationMs: r.durationMs,
        });
      }
    }
  } finally {
    await db?.drop();
  }
}
