/**
 * (issue #17) What a read replica takes off the primary in a catch-up storm: a PostgreSQL 15
 * primary with a streaming replica made by the scenario (api/test/helpers/pg-replica.ts, free
 * ports, a temp dir), dashboards with a history of ops, then every subscriber reconnecting at
 * once with dashboardEvents(fromVersion: a random older version), each waiting for its
 * SyncCompleted (minimal graphql-transport-ws clients in a clients.ts process). One app
 * instance on the primary, twice in one run: without DATABASE_REPLICA_URLS (today: every read
 * on the primary), then with the replica.
 * Figures, for the storm: the primary's work (pg_stat_database of the app's database:
 * transactions, tuples returned + fetched, blocks hit + read; CPU of the postmaster and its
 * children from /proc), the replica's, the storm's duration and p99 time to SyncCompleted.
 * The database statistics are read after the app has stopped (a backend sends its counts when
 * it ends; an idle one may hold them for 10 s), less what starting and stopping an app costs
 * without a storm, measured the same way in the same run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { buildApp, type App } from '../../api/src/app.js';
import { loadConfig } from '../../api/src/config.js';
import {
  HAS_PG_BINARIES,
  NEEDS_PG_BINARIES,
  startPgPrimaryWithReplica,
  type PgReplicaHandle,
} from '../../api/test/helpers/pg-replica.js';
import { benchEnv, cpuSeconds, machineBusyCpuS, round, seed, sleep, spawnChild, type Seeded } from '../lib.js';
import { RUN, log, ratioOf, withoutFigure, type BenchContext } from '../harness.js';
import { writeHistory } from './cold-open.js';

const SCENARIO = 'catchup-storm';
/** Linux USER_HZ, the unit of /proc/<pid>/stat's times. */
const CLOCK_TICKS = 100;

/** One server's pg_stat_database counters for the app's database. */
interface DbCounters {
  xacts: number;
  tuples: number;
  blocks: number;
  written: number;
}

/** A connection to the `postgres` database, so watching never counts in the app's database. */
async function monitor(url: string) {
  const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
  client.on('error', () => {});
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  // The postmaster is this backend's parent (field 4 of /proc/<pid>/stat).
  const postmaster = Number(statFields(rows[0]!.pid)[1]);
  return {
    postmaster,
    async counters(): Promise<DbCounters> {
      const { rows: r } = await client.query<Record<string, string>>(
        `SELECT xact_commit + xact_rollback AS xacts, tup_returned + tup_fetched AS tuples,
           blks_hit + blks_read AS blocks, tup_inserted + tup_updated + tup_deleted AS written
         FROM pg_stat_database WHERE datname = 'dash'`,
      );
      const row = r[0]!;
      return { xacts: +row.xacts!, tuples: +row.tuples!, blocks: +row.blocks!, written: +row.written! };
    },
    /** Waits until no client backend is connected to the app's database (their counts are in). */
    async drained(timeoutMs = 15_000) {
      const until = performance.now() + timeoutMs;
      for (;;) {
        const { rows: r } = await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'dash' AND backend_type = 'client backend'`,
        );
        if (Number(r[0]!.n) === 0) return true;
        if (performance.now() > until) return false;
        await sleep(20);
      }
    },
    close: () => client.end().catch(() => {}),
  };
}

/** The fields of /proc/<pid>/stat after "(comm)": [state, ppid, ...]. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds of a postmaster and its children: its own utime + stime, plus cutime + cstime
 * (children it has reaped), plus utime + stime of each live child (backends, walsender, ...).
 */
function serverCpuS(postmaster: number): number {
  const f = statFields(postmaster);
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const c = statFields(Number(entry));
      if (Number(c[1]) === postmaster) ticks += Number(c[11]) + Number(c[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / CLOCK_TICKS;
}

const minus = (a: DbCounters, b: DbCounters): DbCounters => ({
  xacts: a.xacts - b.xacts,
  tuples: a.tuples - b.tuples,
  blocks: a.blocks - b.blocks,
  written: a.written - b.written,
});

type Monitor = Awaited<ReturnType<typeof monitor>>;

interface Sub {
  token: string;
  dashboardId: string;
  clientId: string;
  fromVersion: number;
}

interface StormResult {
  synced: number;
  failed: number;
  lastError: string;
  durationMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ops: number;
}

/**
 * Starts an app on the primary (with `replicas`), runs `during` against it, stops it and waits
 * until its backends have gone; pg_stat_database deltas on both servers over all of that, and
 * what `during` returned.
 */
async function withApp<T>(
  pgh: PgReplicaHandle,
  mons: { primary: Monitor; replica: Monitor },
  replicas: boolean,
  during: (app: App, port: number) => Promise<T>,
) {
  const before = { primary: await mons.primary.counters(), replica: await mons.replica.counters() };
  const config = loadConfig(
    benchEnv({
      DATA_DIR: 'memory://',
      DATABASE_URL: pgh.primaryUrl,
      ...(replicas ? { DATABASE_REPLICA_URLS: pgh.replicaUrl } : {}),
    }),
  );
  const app = buildApp({ config });
  let result: T;
  try {
    const { port } = await app.start(0, '127.0.0.1');
    result = await during(app, port);
  } finally {
    await app.stop();
  }
  const drained = (await mons.primary.drained()) && (await mons.replica.drained());
  const after = { primary: await mons.primary.counters(), replica: await mons.replica.counters() };
  return {
    result,
    drained,
    primary: minus(after.primary, before.primary),
    replica: minus(after.replica, before.replica),
  };
}

/** The app's dash_db_reads_total by target and reason (reads a replica may answer). */
async function dbReads(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const reads: Record<string, number> = {};
  for (const m of text.matchAll(/^dash_db_reads_total\{target="(\w+)",reason="(\w+)"\} (\S+)$/gm)) {
    reads[`${m[1]}:${m[2]}`] = Number(m[3]);
  }
  return reads;
}

export async function catchupStorm(ctx: BenchContext) {
  const { quick, emit } = ctx;
  const metric = "primary's CPU during a catch-up storm, with a read replica vs without";
  const target = 'catch-up reads leave the primary (its CPU and tuples read fall); no subscriber misses an op';
  if (!HAS_PG_BINARIES) {
    emit(withoutFigure(SCENARIO, metric, 'CPU-s', target, { skipped: NEEDS_PG_BINARIES }));
    return;
  }
  const DASHBOARDS = quick ? 2 : 5;
  const HISTORY = quick ? 1000 : 2000;
  const SUBSCRIBERS = quick ? 100 : 500;
  const USERS_PER = 10;

  const t0 = performance.now();
  const at = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  const pgh = await startPgPrimaryWithReplica();
  const clients = await spawnChild('clients.ts').catch(async (error: unknown) => {
    await pgh.stop();
    throw error;
  });
  const mons: Partial<{ primary: Monitor; replica: Monitor }> = {};
  try {
    mons.primary = await monitor(pgh.primaryUrl);
    mons.replica = await monitor(pgh.replicaUrl);
    const m = mons as { primary: Monitor; replica: Monitor };

    // The history, written straight through the store (as cold-open does), and every
    // subscriber's clientId claimed: they are reconnecting, not new.
    const subs: Sub[] = [];
    await withApp(pgh, m, false, async (app) => {
      const config = loadConfig(benchEnv({ DATA_DIR: 'memory://', DATABASE_URL: pgh.primaryUrl }));
      const seeded: Seeded = await seed(app, { dashboards: DASHBOARDS, usersPer: USERS_PER, widgets: 10 });
      for (const d of seeded.dashboards) {
        await writeHistory(app, d, d.users[0]!.userId, HISTORY, config.snapshotEvery);
      }
      // Seeded random fromVersions: the same storm in every run.
      let state = 17;
      const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let j = 0; j < SUBSCRIBERS; j++) {
        const d = seeded.dashboards[j % DASHBOARDS]!;
        const u = d.users[Math.floor(j / DASHBOARDS) % USERS_PER]!;
        const clientId = `storm-${RUN}-${j}`;
        await app.services.store.claimClientId(clientId, u.userId);
        subs.push({ token: u.token, dashboardId: d.id, clientId, fromVersion: Math.floor(random() * HISTORY) });
      }
    });
    // What autovacuum would have done by now (the helper turns it off): statistics for the
    // planner and a visibility map, on the primary and (replayed) on the replica.
    await pgh.query('primary', 'VACUUM ANALYZE');
    await pgh.waitForReplicaCaughtUp(30_000);
    const expectedOps = subs.reduce((s, x) => s + HISTORY - x.fromVersion, 0);
    log(`${SCENARIO}: ${DASHBOARDS} x ${HISTORY} ops written, replica caught up (${at()})`);

    // What an app's start and stop cost the database without a storm (subtracted below).
    const idle = await withApp(pgh, m, false, async () => {});

    const storm = (replicas: boolean) =>
      withApp(pgh, m, replicas, async (_app, port) => {
        const readsBefore = await dbReads(port);
        const cpu0 = { primary: serverCpuS(m.primary.postmaster), replica: serverCpuS(m.replica.postmaster) };
        // The app runs in this process (which only waits meanwhile); the machine's busy CPU
        // shows whether anything else competed for the cores.
        const app0 = process.cpuUsage();
        const busy0 = machineBusyCpuS();
        const r = await clients.call<StormResult>('storm', { url: `ws://127.0.0.1:${port}/graphql`, subs }, 300_000);
        const cpu1 = { primary: serverCpuS(m.primary.postmaster), replica: serverCpuS(m.replica.postmaster) };
        const appCpuS = cpuSeconds(process.cpuUsage(app0));
        const busy1 = machineBusyCpuS();
        const readsAfter = await dbReads(port);
        await clients.call('closeAll');
        const reads = Object.fromEntries(
          Object.entries(readsAfter)
            .map(([k, v]) => [k, v - (readsBefore[k] ?? 0)] as const)
            .filter(([, v]) => v > 0),
        );
        return {
          ...r,
          reads,
          primaryCpuS: round(cpu1.primary - cpu0.primary)!,
          replicaCpuS: round(cpu1.replica - cpu0.replica)!,
          appCpuS: round(appCpuS)!,
          machineBusyCpuS: busy0 === null || busy1 === null ? null : round(busy1 - busy0),
        };
      });
    const without = await storm(false);
    log(`${SCENARIO}: storm on the primary alone in ${round(without.result.durationMs / 1000)} s (${at()})`);
    const withReplica = await storm(true);
    log(`${SCENARIO}: storm with the replica in ${round(withReplica.result.durationMs / 1000)} s (${at()})`);

    const net = (s: typeof without, server: 'primary' | 'replica') => minus(s[server], idle[server]);
    const figures = (s: typeof without) => ({
      synced: s.result.synced,
      failed: s.result.failed,
      lastError: s.result.lastError || undefined,
      opsDelivered: s.result.ops,
      durationMs: round(s.result.durationMs),
      p50Ms: round(s.result.p50Ms),
      p99Ms: round(s.result.p99Ms),
      maxMs: round(s.result.maxMs),
      primaryCpuS: s.result.primaryCpuS,
      replicaCpuS: s.result.replicaCpuS,
      appCpuS: s.result.appCpuS,
      machineBusyCpuS: s.result.machineBusyCpuS,
      primary: net(s, 'primary'),
      replica: net(s, 'replica'),
      reads: s.result.reads,
      statsComplete: s.drained,
    });
    const a = figures(without);
    const b = figures(withReplica);
    const complete = (f: typeof a) => f.synced === SUBSCRIBERS && f.opsDelivered === expectedOps;
    const ratio = ratioOf(b.primaryCpuS, a.primaryCpuS);
    emit({
      scenario: SCENARIO,
      metric,
      value: b.primaryCpuS,
      unit: 'CPU-s',
      baseline: { name: 'the same storm without DATABASE_REPLICA_URLS', value: a.primaryCpuS },
      ratio,
      target,
      meets: ratio === null ? null : ratio < 1 && b.primary.tuples < a.primary.tuples && complete(a) && complete(b),
      dashboards: DASHBOARDS,
      historyOps: HISTORY,
      subscribers: SUBSCRIBERS,
      expectedOps,
      withoutReplica: a,
      withReplica: b,
      withVsWithout: {
        primaryCpu: ratio,
        primaryTransactions: ratioOf(b.primary.xacts, a.primary.xacts),
        primaryTuples: ratioOf(b.primary.tuples, a.primary.tuples),
        primaryBlocks: ratioOf(b.primary.blocks, a.primary.blocks),
        durationMs: ratioOf(b.durationMs, a.durationMs),
        p99Ms: ratioOf(b.p99Ms, a.p99Ms),
      },
      appStartStop: { primary: idle.primary, replica: idle.replica },
    });
  } finally {
    await clients.kill();
    await Promise.all([mons.primary?.close(), mons.replica?.close()]);
    await pgh.stop();
  }
}
