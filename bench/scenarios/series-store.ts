/**
 * (7) Live-data storage (DESIGN.md section 10), straight through the SeriesStore
 * (api/src/adapters/sql/series.ts) on PostgreSQL (a fresh database) and on PGlite (in memory,
 * in this process), each store opened as openStore opens it. Two scenarios:
 *
 * - `series-ingest` (LD1): points/s stored by writePoints, batches of 1,000 points over 100
 *   series (10 per series), one batch at a time, after a first batch that creates the series;
 *   200 batches (20 quick). Baseline: the same rows, one bare `INSERT ... SELECT FROM unnest`
 *   per batch (autocommit) into an unindexed table of the same columns, through the same
 *   driver; the two alternate batch by batch (ABBA), so drift on this shared box falls on both.
 * - `series-window` (LD2): one series at 1 point/s over 7 days (604,800 points; 1 day quick),
 *   readPoints with a step that fits 1,000 buckets and AVG, median of several runs after one
 *   warm-up. Baseline: the same aggregate as one hand-written GROUP BY on the same table. The
 *   data set is loaded fast (its first 10,000 points by writePoints, which creates the
 *   series, the rest by one generate_series insert, then VACUUM ANALYZE as autovacuum would):
 *   only the read is measured.
 *
 * Each statement the store runs is timed through a wrapper around its SqlDb, so a line also
 * says where a write's time goes (statements, and the rest: BEGIN, COMMIT, the pool, JS).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { createPgDb, createPgliteDb, type Queryable, type SqlDb } from '../../api/src/adapters/sql-db.js';
import { createSqlStore } from '../../api/src/adapters/sql-store.js';
import { oneMatch, readPointsSql } from '../../api/src/adapters/sql/series-statements.js';
import { canonicalLabels, seriesKey, type Labels } from '../../api/src/domain/series.js';
import type { PointWrite, SeriesMatch } from '../../api/src/ports/series-store.js';
import type { Store } from '../../api/src/ports/store.js';
import { cpuSeconds, machineBusyCpuS, percentile, round } from '../lib.js';
import { RUN, freshDatabase, log, ratioOf, type BenchContext } from '../harness.js';

type Storage = 'postgres' | 'pglite';

const SERIES = 100;
const BATCH = 1000;
const PER_SERIES = BATCH / SERIES;
const MAX_SERIES = 10_000;
const SECOND = 1000;
const DAY = 86_400 * SECOND;
/** What the series service asks readPoints for (MAX_POINTS_PER_SERIES + 1). */
const READ_LIMIT = 11_001;
const BUCKETS = 1000;

/** A statement's share of the time: calls and milliseconds. */
interface Spent {
  calls: number;
  ms: number;
}

/** A short name for a statement the store (or this file) runs. */
function statementName(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  if (s.startsWith('INSERT INTO series_heads')) return 'bumpHead';
  if (s.includes('FROM dashboards d LEFT JOIN series')) return 'knownSeries';
  if (s.startsWith('INSERT INTO series ')) return 'insertSeries';
  if (s.startsWith('INSERT INTO points')) return 'upsertPoints';
  if (s.includes('bench_bare_points')) return 'bareInsert';
  return s.slice(0, 32);
}

/**
 * `db` with every statement timed by name, and each transaction as a whole (`transaction`):
 * its time minus its statements' is BEGIN, COMMIT, the pool and the JS around them.
 */
function timedDb(db: SqlDb) {
  const spent = new Map<string, Spent>();
  const note = (name: string, ms: number) => {
    const s = spent.get(name) ?? { calls: 0, ms: 0 };
    s.calls++;
    s.ms += ms;
    spent.set(name, s);
  };
  const timed = (q: Queryable): Queryable => ({
    async query<T>(sql: string, params?: unknown[]) {
      const t = performance.now();
      try {
        return await q.query<T>(sql, params);
      } finally {
        note(statementName(sql), performance.now() - t);
      }
    },
    exec: (sql: string) => q.exec(sql),
  });
  const wrapped: SqlDb = {
    ...timed(db),
    commitConcurrency: db.commitConcurrency,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const t = performance.now();
      try {
        return await db.transaction((tx) => fn(timed(tx)));
      } finally {
        note('transaction', performance.now() - t);
      }
    },
    close: () => db.close(),
  };
  return {
    db: wrapped,
    reset: () => spent.clear(),
    /** Mean ms per call of each statement (and `txOther`: a transaction beyond its statements). */
    meanMs(): Record<string, number | null> {
      const out: Record<string, number | null> = {};
      let inTx = 0;
      for (const [name, s] of spent) {
        out[name] = round(s.ms / s.calls);
        if (name !== 'transaction' && name !== 'bareInsert') inTx += s.ms;
      }
      const tx = spent.get('transaction');
      if (tx) out.txOther = round((tx.ms - inTx) / tx.calls);
      return out;
    },
  };
}

interface Backend {
  storage: Storage;
  store: Store;
  /** The store's own SqlDb (timed): baselines run through the same driver and connection pool. */
  db: SqlDb;
  timing: ReturnType<typeof timedDb>;
  close(): Promise<void>;
}

/** The SQL store on `storage`, as openStore builds it (a pg Pool of 10, or PGlite in memory), migrated. */
async function openBackend(storage: Storage, url?: string): Promise<Backend> {
  let driver: SqlDb;
  if (storage === 'postgres') {
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
    pool.on('error', () => {});
    driver = createPgDb(pool);
  } else {
    driver = createPgliteDb(await PGlite.create('memory://'));
  }
  const timing = timedDb(driver);
  const store = createSqlStore(timing.db);
  await store.migrate();
  return { storage, store, db: timing.db, timing, close: () => store.close() };
}

/** A user and a dashboard of theirs, through the store. */
async function newDashboard(store: Store): Promise<string> {
  const userId = randomUUID();
  const user = await store.createUser({
    id: userId,
    email: `bench-series-${userId}@example.com`,
    name: 'Bench series',
    color: '#3366ff',
    passwordHash: 'not-a-password-hash',
  });
  if (!user) throw new Error('series bench: createUser failed');
  const row = await store.createDashboard({
    id: randomUUID(),
    ownerId: userId,
    title: 'Series',
    document: { title: 'Series', widgets: {}, layout: [] },
    now: new Date(),
  });
  return row.id;
}

/**
 * The machine's busy CPU/s and this process's over a measured window: on PostgreSQL the
 * difference is mostly the backend; much more than that means something else competed.
 */
function cpuWindow() {
  const at = performance.now();
  const busy = machineBusyCpuS();
  const self = process.cpuUsage();
  return () => {
    const s = (performance.now() - at) / 1000;
    const nowBusy = machineBusyCpuS();
    return {
      machineBusyCpuPerSec: busy === null || nowBusy === null ? null : round((nowBusy - busy) / s),
      selfCpuPerSec: round(cpuSeconds(process.cpuUsage(self)) / s),
    };
  };
}

/** A point as domain/series.ts validatePoints makes it: labels sorted, the series key. */
function pointWrite(name: string, labels: Labels, t: number, v: number): PointWrite {
  const canonical = canonicalLabels(labels);
  return { name, labels: canonical, key: seriesKey(name, canonical), t, v };
}

/** Runs under a fresh PostgreSQL database (skipped, with a log line, when there is none) and on PGlite. */
async function onBothBackends(name: string, run: (b: Backend) => Promise<void>) {
  const fresh = await freshDatabase();
  if (!fresh) log(`${name}: no PostgreSQL at the admin URL, PGlite only`);
  try {
    for (const storage of ['postgres', 'pglite'] as const) {
      if (storage === 'postgres' && !fresh) continue;
      const backend = await openBackend(storage, fresh?.url);
      try {
        await run(backend);
      } finally {
        await backend.close().catch(() => {});
      }
    }
  } finally {
    await fresh?.drop();
  }
}

/** Unique per run: with DATABASE_URL set, the database is not a fresh one. */
const BARE = `bench_bare_points_${RUN}`;
const BARE_TABLE = `CREATE TABLE ${BARE} (
  series_id bigint NOT NULL, t bigint NOT NULL, v float8 NOT NULL, pos bigint NOT NULL)`;
const BARE_INSERT = `INSERT INTO ${BARE} (series_id, t, v, pos)
  SELECT u.series_id, u.t, u.v, $4 FROM unnest($1::bigint[], $2::bigint[], $3::float8[]) AS u(series_id, t, v)`;

async function ingestCase(ctx: BenchContext, b: Backend) {
  const batches = ctx.quick ? 20 : 200;
  const { store, db, storage } = b;
  const dashboardId = await newDashboard(store);
  const labels = Array.from({ length: SERIES }, (_, i) => ({ zone: `z${Math.floor(i / 10)}`, host: `h${i % 10}` }));
  // Within the retention and not ahead of the clock, as LD1 would accept them.
  const start = Math.floor(Date.now() / SECOND) * SECOND - (batches + 1) * PER_SERIES * SECOND - 60 * SECOND;
  const batch = (k: number): PointWrite[] => {
    const out: PointWrite[] = [];
    for (let j = 0; j < PER_SERIES; j++) {
      const t = start + (k * PER_SERIES + j) * SECOND;
      for (let s = 0; s < SERIES; s++) out.push(pointWrite('node_cpu_usage', labels[s]!, t, s + Math.sin(t / 1e5)));
    }
    return out;
  };
  const writes = Array.from({ length: batches + 1 }, (_, k) => batch(k));
  // Batch 0 creates the series and warms both sides up (not measured).
  const first = await store.writePoints(dashboardId, writes[0]!, { maxSeries: MAX_SERIES });
  if (first.created.length !== SERIES) throw new Error(`series-ingest: created ${first.created.length} series`);
  const ids = new Map(first.created.map((s) => [seriesKey(s.name, s.labels), s.id]));
  const bare = writes.map((w, k) => [w.map((p) => ids.get(p.key)!), w.map((p) => p.t), w.map((p) => p.v), k + 1]);
  await db.query(BARE_TABLE);
  await db.query(BARE_INSERT, bare[0]);
  b.timing.reset();
  const cpu = cpuWindow();
  const storeMs: number[] = [];
  const bareMs: number[] = [];
  const writeStore = async (k: number) => {
    const t = performance.now();
    await store.writePoints(dashboardId, writes[k]!, { maxSeries: MAX_SERIES });
    storeMs.push(performance.now() - t);
  };
  const writeBare = async (k: number) => {
    const t = performance.now();
    await db.query(BARE_INSERT, bare[k]!);
    bareMs.push(performance.now() - t);
  };
  for (let k = 1; k <= batches; k++) {
    if (k % 2 === 1) {
      await writeStore(k);
      await writeBare(k);
    } else {
      await writeBare(k);
      await writeStore(k);
    }
  }
  const cpuUse = cpu();
  const breakdown = b.timing.meanMs();
  const counted = await db.query<{ store: number; bare: number }>(
    `SELECT (SELECT count(*) FROM points p JOIN series s ON s.id = p.series_id WHERE s.dashboard_id = $1)::int AS store,
       (SELECT count(*) FROM ${BARE})::int AS bare`,
    [dashboardId],
  );
  await db.query(`DROP TABLE ${BARE}`);
  const expected = (batches + 1) * BATCH;
  const { store: storedRows, bare: bareRows } = counted.rows[0]!;
  if (Number(storedRows) !== expected || Number(bareRows) !== expected) {
    throw new Error(`series-ingest: ${storedRows} / ${bareRows} rows stored, ${expected} expected`);
  }
  const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  const rate = (batches * BATCH) / (sum(storeMs) / 1000);
  const baseRate = (batches * BATCH) / (sum(bareMs) / 1000);
  const ratio = ratioOf(rate, baseRate);
  const postgres = storage === 'postgres';
  ctx.emit({
    scenario: `series-ingest-${storage}`,
    metric: 'points/s stored by SeriesStore.writePoints (batches of 1,000 points over 100 series)',
    value: round(rate),
    unit: 'points/s',
    baseline: { name: 'bare INSERT ... SELECT FROM unnest into an unindexed table, same rows', value: round(baseRate) },
    ratio,
    target: postgres ? '>= 50k points/s and >= 0.5x' : '>= 20k points/s',
    meets: postgres ? rate >= 50_000 && ratio !== null && ratio >= 0.5 : rate >= 20_000,
    storage,
    batches,
    points: batches * BATCH,
    batchP50Ms: round(percentile(storeMs, 50)),
    batchP99Ms: round(percentile(storeMs, 99)),
    baselineBatchP50Ms: round(percentile(bareMs, 50)),
    baselineBatchP99Ms: round(percentile(bareMs, 99)),
    /** Mean ms per call, over the measured batches. */
    breakdownMs: breakdown,
    ...cpuUse,
  });
}

/** The hand-written aggregate: bucket k = (t - from) div step (floor, as t >= from), its mean. */
const HAND_WRITTEN = `SELECT (t - $2::bigint) / $3::bigint AS k, avg(v) AS v FROM points
  WHERE series_id = $1 AND t >= $2 AND t <= $4 GROUP BY 1 ORDER BY 1`;

/**
 * Execution, planning and JIT ms of `sql` under EXPLAIN ANALYZE, and its plan's nodes with
 * their times. Timing every node costs clock reads per row: the totals run above the
 * measured medians (by 2-3x on PGlite), the shares between nodes are what to read.
 */
async function explain(db: SqlDb, sql: string, params: unknown[]) {
  const { rows } = await db.query<Record<string, unknown>>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
  const cell = Object.values(rows[0]!)[0];
  const [top] = (typeof cell === 'string' ? JSON.parse(cell) : cell) as Array<{
    Plan: PlanNode;
    'Planning Time': number;
    'Execution Time': number;
    JIT?: { Timing?: { Total?: number } };
  }>;
  const nodes: string[] = [];
  const walk = (n: PlanNode, depth: number) => {
    const what = [n['Node Type'], n['Index Name'] ?? n['Relation Name'], n['Sort Method']].filter(Boolean).join(' ');
    const loops = n['Actual Loops'] > 1 ? ` loops=${n['Actual Loops']}` : '';
    nodes.push(`${'  '.repeat(depth)}${what} rows=${n['Actual Rows']}${loops} ms=${round(n['Actual Total Time'])}`);
    for (const c of n.Plans ?? []) walk(c, depth + 1);
  };
  walk(top!.Plan, 0);
  return {
    execMs: round(top!['Execution Time']),
    planMs: round(top!['Planning Time']),
    jitMs: round(top!.JIT?.Timing?.Total ?? 0),
    nodes,
  };
}
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Sort Method'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Actual Total Time': number;
  Plans?: PlanNode[];
}

async function windowCase(ctx: BenchContext, b: Backend) {
  const days = ctx.quick ? 1 : 7;
  const runs = ctx.quick ? 5 : 11;
  const window = days * DAY;
  const n = window / SECOND;
  const step = Math.ceil(window / BUCKETS);
  const { store, db, storage } = b;
  const dashboardId = await newDashboard(store);
  const name = 'bench_window';
  const match: SeriesMatch = { name, labels: { job: 'bench' } };
  const from = Math.floor(Date.now() / SECOND) * SECOND - window;
  const to = from + window - 1;
  // The value of point g (g = 0 .. n-1, at from + g s), the same in JS and SQL.
  const value = (g: number) => Math.sin(g / 3600) * 50 + (g % 7);
  const loadStart = performance.now();
  const head = Array.from({ length: 10_000 }, (_, g) => pointWrite(name, match.labels!, from + g * SECOND, value(g)));
  const written = await store.writePoints(dashboardId, head, { maxSeries: MAX_SERIES });
  const seriesId = written.created[0]!.id;
  await db.query(
    `INSERT INTO points (series_id, t, v, pos)
     SELECT $1::bigint, $2::bigint + g * 1000, sin(g / 3600.0) * 50 + (g % 7), $3
     FROM generate_series($4::bigint, $5::bigint) AS g`,
    [seriesId, from, written.position, head.length, n - 1],
  );
  await db.query('VACUUM ANALYZE points');
  const loadS = (performance.now() - loadStart) / 1000;
  log(`series-window ${storage}: ${n} points loaded in ${loadS.toFixed(1)} s`);

  const readStore = async () => {
    const t = performance.now();
    const [s, ...rest] = await store.readPoints(dashboardId, match, { from, to, step, agg: 'AVG', limit: READ_LIMIT });
    const ms = performance.now() - t;
    if (!s || rest.length > 0 || s.points.length !== BUCKETS) {
      throw new Error(`series-window: ${rest.length + (s ? 1 : 0)} series, ${s?.points.length} buckets`);
    }
    return { ms, points: s.points };
  };
  const readHand = async () => {
    const t = performance.now();
    const { rows } = await db.query<{ k: unknown; v: number }>(HAND_WRITTEN, [seriesId, from, step, to]);
    const ms = performance.now() - t;
    if (rows.length !== BUCKETS) throw new Error(`series-window: the hand-written query gave ${rows.length} buckets`);
    return { ms, rows };
  };
  // Warm-up (reported as firstMs), and the check that both compute the same buckets.
  const firstStore = await readStore();
  const firstHand = await readHand();
  firstStore.points.forEach(([t, v], k) => {
    const row = firstHand.rows[k]!;
    if (t !== from + Number(row.k) * step || Math.abs(v - Number(row.v)) > 1e-9 * Math.max(1, Math.abs(v))) {
      throw new Error(`series-window: bucket ${k} differs: [${t}, ${v}] against ${JSON.stringify(row)}`);
    }
  });
  const storeMs: number[] = [];
  const handMs: number[] = [];
  const cpu = cpuWindow();
  for (let r = 0; r < runs; r++) {
    if (r % 2 === 0) {
      storeMs.push((await readStore()).ms);
      handMs.push((await readHand()).ms);
    } else {
      handMs.push((await readHand()).ms);
      storeMs.push((await readStore()).ms);
    }
  }
  const cpuUse = cpu();
  const median = percentile(storeMs, 50);
  const base = percentile(handMs, 50);
  // Where the time goes: the store's very statement (as series.ts binds it) under EXPLAIN ANALYZE.
  const m = oneMatch(5, match);
  const storePlan = await explain(db, readPointsSql(m.sql, 'AVG'), [
    dashboardId,
    Math.ceil(from),
    Math.floor(to),
    READ_LIMIT,
    ...m.params,
    from,
    step,
  ]);
  const handPlan = await explain(db, HAND_WRITTEN, [seriesId, from, step, to]);
  ctx.emit({
    scenario: `series-window-${storage}`,
    metric: `SeriesStore.readPoints, ${days}-day window at 1 point/s, ${BUCKETS} AVG buckets, median`,
    value: round(median),
    unit: 'ms',
    baseline: {
      name: 'hand-written SELECT (t - from) / step, avg(v) ... GROUP BY 1, same table, median',
      value: round(base),
    },
    ratio: ratioOf(median, base),
    // The target is for 7 days: a quick run's 1-day window is not judged.
    target: storage !== 'postgres' ? '- (reported)' : days === 7 ? '< 100 ms' : '< 100 ms at 7 days (not judged)',
    meets: storage === 'postgres' && days === 7 ? median < 100 : null,
    storage,
    windowDays: days,
    points: n,
    stepMs: step,
    runs,
    firstMs: round(firstStore.ms),
    baselineFirstMs: round(firstHand.ms),
    p99Ms: round(percentile(storeMs, 99)),
    loadSeconds: round(loadS),
    explainStore: storePlan,
    explainBaseline: handPlan,
    ...cpuUse,
  });
}

/** LD1: ingest through writePoints against a bare insert, on PostgreSQL then PGlite. */
export async function seriesIngest(ctx: BenchContext) {
  await onBothBackends('series-ingest', (b) => ingestCase(ctx, b));
}

/** LD2: a bucketed window read against the hand-written aggregate, on PostgreSQL then PGlite. */
export async function seriesWindow(ctx: BenchContext) {
  await onBothBackends('series-window', (b) => windowCase(ctx, b));
}
