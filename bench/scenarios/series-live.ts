/**
 * (8) Live series (DESIGN.md section 10, rule LD3): points pushed with pushPoints reach
 * `seriesUpdates` subscribers in batches, at most one per SERIES_BATCH_MS (100 ms) each. Two
 * scenarios; their clients are bench/clients/series-load.ts processes.
 *
 * - `series-latency`: two app instances on one PostgreSQL and one Redis. A pusher offers
 *   10,000 points/s on instance A (100 points, one per series of 100, every 10 ms, open loop,
 *   GraphQL pushPoints over HTTP); each point's `v` is the wall-clock ms it was sent at. One
 *   subscriber on instance B matches all 100 series by name (they differ by a label) and times
 *   every point of every batch: push sent on A -> point received on B, p50/p99 over the
 *   window. Baseline: a raw ioredis publish -> subscribe round trip at the same message rate
 *   (100/s), one pushed request's JSON as the payload. The line also says where a push waits:
 *   its ack latency, each process's CPU, and the database's sessions (waiting on a lock, idle
 *   in a transaction). Skipped without PostgreSQL and Redis.
 * - `series-fanout`: S viewers (1,000; 300 quick) of one chart's 10 series on one instance
 *   (PostgreSQL when there is one, else PGlite); a pusher writes one point to each series
 *   every 100 ms, one push per batch, so each viewer gets a batch per 100 ms. Delivered
 *   batches/s and server CPU per delivery: everything the server does (the pushes, the group's
 *   reads and executions, the deliveries). A first phase with one viewer measures what does
 *   not grow with the viewers, so the line also gives the CPU each further delivery costs.
 *   Baseline: a plain `ws` server (ws-baseline.ts `replay`) sending the captured SeriesBatch
 *   frame, byte for byte (the graphql-ws `next` message), every 100 ms to as many raw sockets
 *   held by the same client processes. One frame per socket a round is one write on both sides
 *   (`ws` corks a frame's header and payload; the product corks each socket until the next
 *   loop turn), so there is nothing more to coalesce. Figure: deliveries per server CPU
 *   second against the baseline's.
 *
 * `--profile` runs the fan-out server, and both latency instances, under --cpu-prof and prints
 * the top frames of the busiest one.
 */
import pg from 'pg';
import { cpuSeconds, percentile, procUsage, round, sleep, spawnChild, type Seeded } from '../lib.js';
import {
  REDIS_URL,
  clientGroup,
  redisRoundTrips,
  foreignCpuPerSec,
  freshDatabase,
  log,
  machineSample,
  quiesce,
  ratioOf,
  redisUp,
  startServer,
  withoutFigure,
  type BenchContext,
} from '../harness.js';
import { cpuProfiling, emitProfile, type ProfileWindow } from '../profile.js';

/** SERIES_BATCH_MS, the server's default: at most one batch per subscriber this often. */
const BATCH_MS = 100;
const CLIENT = 'clients/series-load.ts';
const total = (values: number[]) => values.reduce((a, b) => a + b, 0);
/** The fan-out's one-viewer phase: its warm-up (ms). */
const ONE_WARMUP_MS = 1000;
/** Wall-clock ms, as the series-load processes stamp points (comparable between processes). */
const wallMs = () => performance.timeOrigin + performance.now();
/** The latency pusher offers exactly RATE_LIMIT_POINTS's default (600,000 a minute): raised, as benchEnv raises the others. */
const LIMITS = { RATE_LIMIT_POINTS: '1000000000' };

/** `n` labels of one series name: `{ host: 'h000' }` ... */
const hostLabels = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ host: `h${String(i).padStart(String(n - 1).length, '0')}` }));

/** CPU seconds so far of the PostgreSQL backends serving `url`'s database (null: unreadable). */
async function pgBackends(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    const pids = rows.map((r) => r.pid);
    return () => {
      let total = 0;
      for (const pid of pids) {
        const u = procUsage(pid);
        if (!u) return null;
        total += u.cpuS;
      }
      return total;
    };
  } finally {
    await c.end();
  }
}

/**
 * Samples the sessions of `url`'s database every `everyMs` until stopped: on average how many
 * wait on a lock, sit idle inside a transaction (waiting for the app's next statement), or run.
 */
function sampleSessions(url: string, everyMs = 20) {
  const c = new pg.Client({ connectionString: url });
  const sum = { samples: 0, lockWait: 0, idleInTransaction: 0, running: 0 };
  let on = true;
  const done = (async () => {
    await c.connect();
    while (on) {
      const { rows } = await c.query<{ lock: number; idle: number; running: number }>(
        `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS lock,
                count(*) FILTER (WHERE state = 'idle in transaction')::int AS idle,
                count(*) FILTER (WHERE state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock')::int AS running
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      sum.samples++;
      sum.lockWait += rows[0]!.lock;
      sum.idleInTransaction += rows[0]!.idle;
      sum.running += rows[0]!.running;
      await sleep(everyMs);
    }
    await c.end();
  })();
  return {
    async stop() {
      on = false;
      await done;
      const mean = (x: number) => round(x / Math.max(1, sum.samples));
      return {
        samples: sum.samples,
        lockWait: mean(sum.lockWait),
        idleInTransaction: mean(sum.idleInTransaction),
        running: mean(sum.running),
      };
    },
  };
}

/** LD3 across instances: push on A -> point received on B, against a raw Redis pub/sub round trip. */
export async function seriesLatency(ctx: BenchContext) {
  const { quick, emit } = ctx;
  const SERIES = 100;
  const INTERVAL_MS = 10;
  const warmup = quick ? 500 : 1000;
  const duration = quick ? 2000 : 6000;
  const metric = 'push on A -> point received on B, p99';
  const target = `p99 < SERIES_BATCH_MS + 50 ms (${BATCH_MS + 50} ms)`;
  const db = await freshDatabase();
  const redis = await redisUp();
  if (!db || !redis) {
    emit(
      withoutFigure('series-latency', metric, 'ms', target, {
        skipped: `needs PostgreSQL and Redis (${db ? '' : 'no PostgreSQL '}${redis ? '' : `no Redis at ${REDIS_URL}`})`,
      }),
    );
    await db?.drop();
    return;
  }
  const profiling = cpuProfiling(ctx.profile);
  const env = { DATABASE_URL: db.url, REDIS_URL, ...LIMITS };
  // A migrates the fresh database first; then B and the client processes start together.
  const a = await startServer(env, profiling.execArgv);
  const [b, pusher, receiver] = await Promise.all([
    startServer(env, profiling.execArgv),
    spawnChild(CLIENT),
    spawnChild(CLIENT),
  ]);
  let profileWindow: ProfileWindow | undefined;
  try {
    const seeded = await a.child.call<Seeded>('seed', { spec: { dashboards: 1, usersPer: 2, widgets: 1 } });
    const d = seeded.dashboards[0]!;
    const name = 'bench_live';
    const labels = hostLabels(SERIES);
    // The series exist before the subscriber opens; its opening batch (t > tPrime) is empty.
    const tPrime = Date.now() - 10 * 60_000;
    await pusher.call('pushOnce', {
      url: a.url,
      token: d.users[0]!.token,
      dashboardId: d.id,
      name,
      labels,
      t: tPrime,
      v: 0,
    });
    await receiver.call('connectSeries', {
      url: b.wsUrl,
      tokens: [d.users[1]!.token],
      dashboardId: d.id,
      match: [{ name }],
      since: tPrime,
    });
    const from = wallMs() + warmup;
    const to = from + duration;
    await receiver.call('startTiming', { from, to });
    await pusher.call('startPush', {
      url: a.url,
      token: d.users[0]!.token,
      dashboardId: d.id,
      name,
      labels,
      tFirst: tPrime + 1,
      intervalMs: INTERVAL_MS,
      from,
      to,
      maxInFlight: 1000,
    });
    await sleep(Math.max(0, from - wallMs()));
    // After the warm-up: A's connection pool has grown to what the load needs.
    const pgCpu = await pgBackends(db.url);
    const sessions = sampleSessions(db.url);
    const clientPids = [pusher.proc.pid, receiver.proc.pid];
    const clientCpu = () =>
      clientPids.reduce<number | null>((t, pid) => {
        const u = procUsage(pid);
        return t === null || u === null ? null : t + u.cpuS;
      }, 0);
    const s0 = {
      a: procUsage(a.child.proc.pid),
      b: machineSample(b.child.proc.pid),
      pg: pgCpu(),
      clients: clientCpu(),
    };
    await sleep(Math.max(0, to - wallMs()));
    const s1 = {
      a: procUsage(a.child.proc.pid),
      b: machineSample(b.child.proc.pid),
      pg: pgCpu(),
      clients: clientCpu(),
    };
    profileWindow = { fromUs: s0.b.hrUs, toUs: s1.b.hrUs };
    const pgSessions = await sessions.stop();
    const windowS = (s1.b.at - s0.b.at) / 1000;
    const pushed = await pusher.call('stopPush', {}, 60_000);
    // Until every point acked in the window has arrived, or nothing more arrives for a second.
    let timed = await receiver.call('timingStats');
    for (let quiet = 0; timed.received < pushed.okPointsInWindow && quiet < 10;) {
      await sleep(100);
      const next = await receiver.call('timingStats');
      quiet = next.received === timed.received ? quiet + 1 : 0;
      timed = next;
    }
    const perSec = (x: number | null, y: number | null) => (x !== null && y !== null ? round((y - x) / windowS) : null);
    const instanceCpu = {
      a: perSec(s0.a?.cpuS ?? null, s1.a?.cpuS ?? null),
      b: perSec(s0.b.p?.cpuS ?? null, s1.b.p?.cpuS ?? null),
      postgres: perSec(s0.pg, s1.pg),
      clients: perSec(s0.clients, s1.clients),
    };
    await pusher.call('closeAll');
    await receiver.call('closeAll');
    await Promise.all([a.stop(), b.stop(15_000)]);

    // Baseline: the same message rate through raw Redis pub/sub, one pushed batch as the payload.
    const payload = JSON.stringify({
      query: 'pushPoints',
      variables: { d: d.id, p: labels.map((l, i) => ({ series: name, labels: l, t: tPrime + i, v: wallMs() })) },
    });
    const base = await redisRoundTrips(payload, 1000 / INTERVAL_MS, duration);
    const baseP99 = percentile(base.times, 99);
    const lost = pushed.okPointsInWindow - timed.received;
    emit({
      scenario: 'series-latency',
      metric,
      value: round(timed.p99),
      unit: 'ms',
      baseline: { name: 'raw ioredis publish -> subscribe p99, same message rate', value: round(baseP99) },
      ratio: ratioOf(timed.p99, baseP99),
      target,
      meets: timed.received > 0 ? timed.p99 < BATCH_MS + 50 && lost <= 0 : null,
      p50Ms: round(timed.p50),
      p90Ms: round(timed.p90),
      maxMs: round(timed.max),
      baselineP50Ms: round(percentile(base.times, 50)),
      baselineMessages: `${base.times.length}/${base.sent}`,
      baselinePayloadBytes: Buffer.byteLength(payload),
      offeredPointsPerSec: (SERIES * 1000) / INTERVAL_MS,
      ackedPointsPerSec: round(pushed.okPointsInWindow / windowS),
      pointsReceived: timed.received,
      pointsLost: lost,
      duplicates: timed.duplicates,
      batchesReceived: timed.batches,
      batchesPerSec: round(timed.batches / windowS),
      pointsPerBatchP50: timed.pointsPerBatchP50,
      pushAckP50Ms: round(pushed.ackP50),
      pushAckP99Ms: round(pushed.ackP99),
      pushesFailed: pushed.failed,
      pushesSkipped: pushed.skipped,
      pushError: pushed.lastError || undefined,
      /** CPU seconds per second of instance A (ingest), B (the subscriber's), this database's PostgreSQL backends, and the pusher and subscriber processes. */
      cpuPerSec: instanceCpu,
      /** This database's sessions over the window, mean count: waiting on a lock, idle in a transaction, running. */
      postgresSessions: pgSessions,
      foreignCpuPerSec: round(
        foreignCpuPerSec(s0.b, s1.b, windowS, [
          instanceCpu.a,
          instanceCpu.b,
          instanceCpu.postgres,
          instanceCpu.clients,
        ]),
      ),
      series: SERIES,
      pushIntervalMs: INTERVAL_MS,
      seriesBatchMs: BATCH_MS,
      windowMs: Math.round(windowS * 1000),
      warmupMs: warmup,
    });
  } finally {
    await Promise.all([pusher.kill(), receiver.kill(), a.stop(), b.stop(15_000)]);
    await db.drop();
  }
  if (ctx.profile) await emitProfile(emit, 'series-latency-profile', profiling.dir, profileWindow);
}

/** LD3 fan-out on one instance: deliveries per server CPU second against a plain `ws` server's. */
export async function seriesFanout(ctx: BenchContext) {
  const { quick, emit } = ctx;
  const S = quick ? 300 : 1000;
  const SERIES = 10;
  const PUSH_INTERVAL_MS = BATCH_MS;
  const CONNECT_BATCH = 250;
  const warmup = quick ? 1000 : 2000;
  const duration = quick ? 3000 : 6000;
  const oneDuration = quick ? 1500 : 3000;
  const profiling = cpuProfiling(ctx.profile);
  const t0 = performance.now();
  const since = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  const db = await freshDatabase();
  if (!db) log('series-fanout: no PostgreSQL at the admin URL, the server stores series in PGlite');
  const env: Record<string, string> = { ...LIMITS, ...(db ? { DATABASE_URL: db.url } : {}) };
  const [server, viewers, pusher, base] = await Promise.all([
    startServer(env, profiling.execArgv),
    clientGroup(ctx.clientProcs, CLIENT),
    spawnChild(CLIENT),
    spawnChild('ws-baseline.ts'),
  ]);
  const serverPid = server.child.proc.pid;
  let profileWindow: ProfileWindow | undefined;
  const stopServer = () => server.stop(15_000);
  try {
    const seeded = await server.child.call<Seeded>('seed', {
      spec: { dashboards: 1, usersPer: Math.max(2, Math.ceil(S / 40)), widgets: 1 },
    });
    const d = seeded.dashboards[0]!;
    const name = 'bench_chart';
    const labels = hostLabels(SERIES);
    const token = d.users[0]!.token;
    const tPrime = Date.now() - 10 * 60_000;
    await pusher.call('pushOnce', { url: server.url, token, dashboardId: d.id, name, labels, t: tPrime, v: 0 });
    const tokens = Array.from({ length: S }, (_, j) => d.users[j % d.users.length]!.token);
    const connect = async (items: string[], sinceT: number) => {
      for (let at = 0; at < items.length; at += CONNECT_BATCH) {
        await viewers.all(
          'connectSeries',
          { url: server.wsUrl, dashboardId: d.id, match: [{ name }], since: sinceT },
          120_000,
          { key: 'tokens', items: items.slice(at, at + CONNECT_BATCH) },
        );
      }
    };
    const startPush = (tFirst: number) =>
      pusher.call('startPush', {
        url: server.url,
        token,
        dashboardId: d.id,
        name,
        labels,
        tFirst,
        intervalMs: PUSH_INTERVAL_MS,
        from: 0,
        to: Number.MAX_SAFE_INTEGER,
        maxInFlight: 4,
      });
    /** Server, client, pusher and PostgreSQL CPU and the deliveries over `ms`. */
    const measure = async (ms: number) => {
      const pgCpu = db ? await pgBackends(db.url) : () => null;
      const sample = async () => {
        const [c, push] = await Promise.all([viewers.counts(), pusher.call('pushStats')]);
        return { ...machineSample(serverPid), c, push, pg: pgCpu() };
      };
      const a = await sample();
      await sleep(ms);
      const b = await sample();
      const windowS = (b.at - a.at) / 1000;
      const serverCpuS = a.p && b.p ? b.p.cpuS - a.p.cpuS : null;
      const serverCpuPerSec = serverCpuS === null ? null : serverCpuS / windowS;
      const clientCpuPerSec = (total(b.c.cpuS) - total(a.c.cpuS)) / windowS;
      const pusherCpuPerSec = (cpuSeconds(b.push.cpu) - cpuSeconds(a.push.cpu)) / windowS;
      const pgCpuPerSec = a.pg !== null && b.pg !== null ? (b.pg - a.pg) / windowS : null;
      return {
        a,
        b,
        windowS,
        delivered: b.c.messages - a.c.messages,
        serverCpuS,
        serverCpuPerSec,
        clientCpuPerSec,
        pusherCpuPerSec,
        pgCpuPerSec,
        pushesPerSec: (b.push.ok - a.push.ok) / windowS,
        foreign: foreignCpuPerSec(a, b, windowS, [serverCpuPerSec, clientCpuPerSec, pusherCpuPerSec, pgCpuPerSec ?? 0]),
      };
    };

    // What does not grow with the viewers (the pushes, the group's reads and executions), with one viewer.
    await connect(tokens.slice(0, 1), tPrime);
    await startPush(tPrime + 1);
    log(`series-fanout: ${since()}: one viewer, ${SERIES} points pushed every ${PUSH_INTERVAL_MS} ms`);
    await sleep(ONE_WARMUP_MS);
    const one = await measure(oneDuration);
    const { nextT } = await pusher.call<{ nextT: number }>('stopPush', {}, 60_000);

    log(`series-fanout: ${since()}: connecting ${S - 1} more viewers over ${ctx.clientProcs} client processes`);
    const tc = performance.now();
    // Opened after every point pushed so far: their opening batches are empty.
    await connect(tokens.slice(1), nextT - 1);
    const connectS = (performance.now() - tc) / 1000;
    await startPush(nextT);
    log(`series-fanout: ${since()}: ${S} viewers, pushing for ${warmup} + ${duration} ms`);
    await sleep(warmup);
    const all = await measure(duration);
    const { a, b, windowS, delivered, serverCpuS, serverCpuPerSec, foreign } = all;
    profileWindow = { fromUs: a.hrUs, toUs: b.hrUs };
    const pushed = await pusher.call('stopPush', {}, 60_000);
    const drained = await quiesce(viewers, 300, 5000);
    const frames = await viewers.children[0]!.call<{ frames: number; meanChars: number; typical: string }>(
      'liveFrames',
    );
    const frame = frames.typical;
    if (!frame) throw new Error('no live SeriesBatch frame was delivered');
    ctx.samples.SeriesBatch = frame;
    const end = await viewers.counts();
    await viewers.all('closeAll');
    await stopServer();
    log(`series-fanout: ${since()}: ${round(delivered / windowS)} batches/s delivered; baseline`);

    // Baseline: the captured frame to as many raw sockets, every BATCH_MS, from a plain `ws` server.
    const { port } = await base.call<{ port: number }>('start', {});
    await Promise.all(
      viewers.children.map((child, k) =>
        child.call(
          'connectRaw',
          {
            url: `ws://127.0.0.1:${port}`,
            n: Math.floor(S / viewers.children.length) + (k < S % viewers.children.length ? 1 : 0),
          },
          120_000,
        ),
      ),
    );
    const basePid = base.proc.pid;
    const baseSample = async () => ({ ...machineSample(basePid), c: await viewers.counts() });
    // A round is sent, then BATCH_MS waited: rounds for the warm-up and window with room to spare.
    const rounds = Math.ceil(((warmup + duration) / BATCH_MS) * 1.2) + 5;
    let replayDone = false;
    const replay = base.call('replay', { frames: [frame], rounds, intervalMs: BATCH_MS }, 600_000).then((r) => {
      replayDone = true;
      return r;
    });
    await sleep(warmup);
    const ba = await baseSample();
    await sleep(duration);
    const bb = await baseSample();
    const windowCut = replayDone;
    await replay;
    const baseWindowS = (bb.at - ba.at) / 1000;
    const baseDelivered = bb.c.messages - ba.c.messages;
    const baseCpuS = ba.p && bb.p ? bb.p.cpuS - ba.p.cpuS : null;
    const baseClientCpuPerSec = (total(bb.c.cpuS) - total(ba.c.cpuS)) / baseWindowS;
    const baseForeign = foreignCpuPerSec(ba, bb, baseWindowS, [
      baseCpuS === null ? null : baseCpuS / baseWindowS,
      baseClientCpuPerSec,
    ]);
    await viewers.all('closeAll');

    const perCpuS = serverCpuS ? delivered / serverCpuS : null;
    const basePerCpuS = baseCpuS ? baseDelivered / baseCpuS : null;
    const ratio = ratioOf(perCpuS, basePerCpuS);
    const per1k = (cpu: number | null, n: number) => (cpu !== null && n > 0 ? round(cpu / (n / 1000)) : null);
    const noisy = [foreign, one.foreign, baseForeign].some((f) => f !== null && f > 0.25);
    // Server CPU per delivery beyond the one-viewer phase's (the pushes, reads and executions).
    const extraDeliveriesPerSec = delivered / windowS - one.delivered / one.windowS;
    const marginalUs =
      serverCpuPerSec !== null && one.serverCpuPerSec !== null && extraDeliveriesPerSec > 0
        ? ((serverCpuPerSec - one.serverCpuPerSec) * 1e6) / extraDeliveriesPerSec
        : null;
    const baseUs = baseCpuS !== null && baseDelivered > 0 ? (baseCpuS * 1e6) / baseDelivered : null;
    emit({
      scenario: 'series-fanout',
      metric: `SeriesBatch deliveries per server CPU second (${S} viewers of one chart)`,
      value: round(perCpuS),
      unit: 'deliveries/cpu-s',
      baseline: {
        name: `plain ws sending the captured frame to ${S} raw sockets every ${BATCH_MS} ms`,
        value: round(basePerCpuS),
      },
      ratio,
      target: '>= 0.6x baseline',
      meets: ratio === null ? null : ratio >= 0.6,
      deliveredBatchesPerSec: round(delivered / windowS),
      batchesPerViewerPerSec: round(delivered / windowS / S),
      serverCpuSPer1k: per1k(serverCpuS, delivered),
      baselineCpuSPer1k: per1k(baseCpuS, baseDelivered),
      serverCpuPerSec: round(serverCpuPerSec),
      baselineDeliveredPerSec: round(baseDelivered / baseWindowS),
      baselineCpuPerSec: baseCpuS === null ? null : round(baseCpuS / baseWindowS),
      baselineWindowCut: windowCut || undefined,
      /** Server CPU per delivery beyond what one viewer costs, and the baseline's per delivery. */
      marginalServerCpuUsPerDelivery: round(marginalUs),
      baselineCpuUsPerDelivery: round(baseUs),
      marginalRatio: ratioOf(baseUs, marginalUs),
      /** The same pushes with one viewer: the work that does not grow with the viewers. */
      oneViewer: {
        serverCpuPerSec: round(one.serverCpuPerSec),
        deliveredPerSec: round(one.delivered / one.windowS),
        pushesPerSec: round(one.pushesPerSec),
        postgresCpuPerSec: round(one.pgCpuPerSec),
        foreignCpuPerSec: round(one.foreign),
        windowMs: Math.round(one.windowS * 1000),
      },
      /** This database's PostgreSQL backends (ingest and the batch reads), not in serverCpu. */
      postgresCpuPerSec: round(all.pgCpuPerSec),
      storage: db ? 'postgres' : 'pglite',
      clientCpuPerSec: round(all.clientCpuPerSec),
      baselineClientCpuPerSec: round(baseClientCpuPerSec),
      pusherCpuPerSec: round(all.pusherCpuPerSec),
      /** Other processes on the machine during the windows: noise above ~0.25. */
      foreignCpuPerSec: round(foreign),
      baselineForeignCpuPerSec: round(baseForeign),
      noisy,
      frameBytes: Buffer.byteLength(frame),
      meanFrameBytes: round(frames.meanChars),
      pushesPerSec: round(all.pushesPerSec),
      pointsPerPush: SERIES,
      pushAckP50Ms: round(pushed.ackP50),
      pushAckP99Ms: round(pushed.ackP99),
      pushesFailed: pushed.failed,
      pushError: pushed.lastError || undefined,
      viewers: S,
      clientProcesses: ctx.clientProcs,
      viewersClosed: end.closed,
      lastClose: end.lastClose || undefined,
      backlogDrained: drained.settled,
      connectSeconds: round(connectS),
      windowMs: Math.round(windowS * 1000),
      warmupMs: warmup,
    });
  } finally {
    await viewers.all('closeAll').catch(() => {});
    await Promise.all([viewers.kill(), pusher.kill(), base.kill(), stopServer()]);
    await db?.drop();
  }
  if (ctx.profile) await emitProfile(emit, 'series-fanout-profile', profiling.dir, profileWindow);
}
