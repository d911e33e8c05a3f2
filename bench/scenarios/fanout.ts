/**
 * (1) Fan-out and (6) scale-out: cursor events (updatePresence over HTTP, open loop, well
 * above capacity) delivered to S subscribers of one dashboard, in delivered msg/s and server
 * CPU per message. Baseline: a plain `ws` server broadcasting the captured PresenceUpdated
 * frame, byte for byte, to as many raw sockets held by the same client processes
 * (fanout-baseline.ts). Scale-out turns the same run into server CPU seconds per 1k
 * deliveries, against the baseline's.
 */
import { cpuSeconds, machine, procUsage, round, sleep, spawnChild, type Seeded } from '../lib.js';
import {
  clientGroup,
  cpuPerSecByProc,
  foreignCpuPerSec,
  log,
  machineSample,
  quiesce,
  ratioOf,
  startServer,
  subsFor,
  type BenchContext,
} from '../harness.js';
import { cpuProfiling, emitProfile, type ProfileWindow } from '../profile.js';
import { wsBroadcastBaseline, type WsBroadcastDetail } from './fanout-baseline.js';

/** The server coalesces presence per clientId to one broadcast per 33 ms (presence-service.ts). */
const COALESCE_MS = 33;
/** Each sender moves its cursor a little slower than that: every update is its own broadcast. */
const SENDER_INTERVAL_MS = 34;
const CONNECT_BATCH = 250;

export async function fanout(ctx: BenchContext) {
  const { quick, emit } = ctx;
  const S = quick ? 300 : 1000;
  // Offered deliveries/s (events/s x subscribers), well above what one instance delivers:
  // the figure is the server's capacity, not the load generator's rate.
  const OFFERED = quick ? 1_000_000 : 1_200_000;
  const SENDERS = Math.min(S, Math.ceil(OFFERED / ((S - 1) * (1000 / SENDER_INTERVAL_MS))));
  const warmup = quick ? 1000 : 2000;
  const duration = quick ? 3000 : 6000;
  const drainMaxMs = quick ? 8000 : 20_000;
  const CLIENT_PROCS = ctx.clientProcs;
  const profiling = cpuProfiling(ctx.profile);
  const t0 = performance.now();
  const since = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  // All processes start at once (each pays tsx's start-up); the baseline server idles until used.
  const [server, clients, loader, base] = await Promise.all([
    startServer({}, profiling.execArgv),
    clientGroup(CLIENT_PROCS),
    // The presence senders live in a process of their own, so their CPU is not the subscribers'.
    spawnChild('clients.ts'),
    spawnChild('ws-baseline.ts'),
  ]);
  const serverPid = server.child.proc.pid;
  const pStart = procUsage(serverPid);
  let profileWindow: ProfileWindow | undefined;
  const stopServer = () => server.stop(15_000);
  /** Samples everything at one instant (all in parallel): client counts, load, server CPU/RSS. */
  const sample = async () => {
    const [c, l] = await Promise.all([clients.counts(), loader.call('loadStats')]);
    return { ...machineSample(serverPid), c, l };
  };
  try {
    const seeded = await server.child.call<Seeded>('seed', {
      spec: { dashboards: 1, usersPer: Math.max(5, Math.ceil(S / 40)), widgets: 4 },
    });
    const subs = subsFor(seeded, S, 'sub');
    // The senders are subscribers moving their cursor (as in the product: the client that
    // posts updatePresence holds the subscription), so each event goes to the S - 1 others.
    // (A clientId not subscribed on this instance takes a slower path per update.)
    const senders = subs.slice(0, SENDERS);
    log(`fan-out: ${since()}: connecting ${S} subscribers over ${CLIENT_PROCS} client processes`);
    const tc = performance.now();
    // Every join is broadcast to everyone already there: O(S^2) deliveries to drain first. In
    // batches, so a socket's connection_init is not queued behind a whole storm of joins (the
    // server closes a socket whose init waits more than 10 s: 4408).
    let joined = { messages: 0, settled: true };
    const connectBudget = tc + (quick ? 60_000 : 120_000);
    for (let from = 0; from < S; from += CONNECT_BATCH) {
      const batch = subs.slice(from, from + CONNECT_BATCH);
      try {
        await clients.all('connectLite', { url: server.wsUrl }, Math.max(1000, connectBudget - performance.now()), {
          key: 'subs',
          items: batch,
        });
      } catch (error) {
        const after = ((performance.now() - tc) / 1000).toFixed(1);
        throw new Error(
          `connecting subscribers ${from + 1}-${from + batch.length} of ${S} failed after ${after} s (the server delivers the joins of everyone already connected meanwhile): ${(error as Error).message}`,
          { cause: error },
        );
      }
      joined = await quiesce(clients, 300, Math.max(1000, connectBudget - performance.now()));
    }
    const connectS = (performance.now() - tc) / 1000;
    const p0 = procUsage(serverPid);
    log(`fan-out: ${since()}: ${SENDERS} senders offer ${OFFERED} deliveries/s for ${warmup} + ${duration} ms`);
    await loader.call('startLoad', { url: server.url, senders, intervalMs: SENDER_INTERVAL_MS, maxInFlight: 1 });
    await sleep(warmup);
    const a = await sample();
    await sleep(duration);
    const b = await sample();
    profileWindow = { fromUs: a.hrUs, toUs: b.hrUs };
    const stopped = await loader.call('stopLoad', {}, 60_000);
    const drainStart = performance.now();
    const drained = await quiesce(clients, 500, drainMaxMs);
    const drainS = (performance.now() - drainStart) / 1000;
    const end = await sample();
    const heap = await server.child.call('usage').catch(() => null);
    const windowS = (b.at - a.at) / 1000;
    const delivered = b.c.messages - a.c.messages;
    const rate = delivered / windowS;
    const offeredUpdates = (b.l.offered - a.l.offered) / windowS;
    // Each update is at most one broadcast (coalescing), delivered to every subscriber but its sender.
    const offeredEventsPerSec = Math.min(offeredUpdates, (SENDERS * 1000) / COALESCE_MS) * (S - 1);
    const serverCpuPerSec = a.p && b.p ? (b.p.cpuS - a.p.cpuS) / windowS : null;
    const clientCpuByProc = cpuPerSecByProc(a.c, b.c, windowS);
    const clientCpuPerSec = clientCpuByProc.reduce<number>((t, x) => t + (x ?? 0), 0);
    const loadCpuPerSec = (cpuSeconds(b.l.cpu) - cpuSeconds(a.l.cpu)) / windowS;
    const foreign = foreignCpuPerSec(a, b, windowS, [serverCpuPerSec, clientCpuPerSec, loadCpuPerSec]);
    // Scale-out: server CPU per delivery over the window and its drain (mutations included).
    const serverCpuAll = a.p && end.p ? end.p.cpuS - a.p.cpuS : null;
    const allDelivered = end.c.messages - a.c.messages;
    Object.assign(ctx.samples, end.c.samples);
    const frame = end.c.samples.PresenceUpdated as string | undefined;
    if (!frame) throw new Error('no PresenceUpdated frame was delivered');
    const mb = (bytes: number | undefined) => (bytes === undefined ? null : round(bytes / 2 ** 20));
    const serverDetail = {
      rssMB: {
        started: mb(pStart?.rss),
        connected: mb(p0?.rss),
        windowStart: mb(a.p?.rss),
        windowEnd: mb(b.p?.rss),
        afterDrain: mb(end.p?.rss),
      },
      peakRssMB: mb(end.p?.peakRss),
      heapUsedMBAfterDrain: heap ? mb(heap.heapUsed) : null,
    };
    await clients.all('closeAll');
    await stopServer();
    log(`fan-out: ${since()}: ${round(rate)} msg/s delivered; baseline`);

    let baseline: { rate: number; detail: WsBroadcastDetail } | null = null;
    try {
      baseline = await wsBroadcastBaseline({ base, clients, frame, subscribers: S, warmup, duration });
    } finally {
      await base.kill();
    }
    const baseRate = baseline?.rate ?? null;
    const baseDetail = baseline?.detail ?? null;
    const ratio = ratioOf(rate, baseRate);
    // Server CPU per delivered message, ours and the baseline's: less sensitive than msg/s to
    // other load on the machine (which --quick runs on shared machines often see).
    const usPerMsg = serverCpuPerSec !== null && rate > 0 ? (serverCpuPerSec * 1e6) / rate : null;
    const baseUsPerMsg = baseDetail?.serverCpuUsPerMsg ?? null;
    const foreignBoth = [foreign, baseDetail?.foreignCpuPerSec ?? null];
    const noisy = foreignBoth.some((f) => f !== null && f > 0.25);
    if (noisy)
      log(`fan-out: other processes used ${foreignBoth.map((f) => round(f)).join(' / ')} CPU-s/s: figures are noisy`);
    emit({
      scenario: 'fanout',
      metric: 'delivered cursor events/s',
      value: round(rate),
      unit: 'msg/s',
      baseline: { name: 'plain ws broadcast (own process)', value: baseRate && round(baseRate) },
      ratio,
      target: '>= 0.6x baseline',
      meets: ratio === null ? null : ratio >= 0.6,
      offeredEventsPerSec: round(offeredEventsPerSec),
      serverCpuPerSec: round(serverCpuPerSec),
      clientCpuPerSec: round(clientCpuPerSec),
      saturated: rate < 0.9 * offeredEventsPerSec,
      subscribers: S,
      senders: SENDERS,
      clientProcesses: CLIENT_PROCS,
      clientCpuPerSecByProc: clientCpuByProc,
      loadGeneratorCpuPerSec: round(loadCpuPerSec),
      /** Other processes on the machine (not this benchmark's) during the window: noise. */
      foreignCpuPerSec: round(foreign),
      noisy,
      serverCpuUsPerMsg: round(usPerMsg),
      /** Baseline CPU per message / ours: the ratio with other load on the machine factored out. */
      cpuEfficiencyRatio: ratioOf(baseUsPerMsg, usPerMsg),
      presence: {
        offeredPerSec: round(offeredUpdates),
        issuedPerSec: round((b.l.issued - a.l.issued) / windowS),
        acceptedPerSec: round((b.l.ok - a.l.ok) / windowS),
        skippedInFlightCap: b.l.skipped - a.l.skipped,
        ackP50Ms: round(stopped.p50),
        ackP99Ms: round(stopped.p99),
      },
      presenceSent: stopped.ok,
      presenceFailed: stopped.failed,
      presenceAbortedAtStop: stopped.aborted,
      presenceError: stopped.lastError || undefined,
      subscribersClosed: end.c.closed,
      closeCodes: end.c.closed > 0 ? end.c.closeCodes : undefined,
      lastClose: end.c.lastClose || undefined,
      backlogAfterWindow: allDelivered - delivered,
      backlogDrained: drained.settled,
      drainSeconds: round(drainS),
      connectSeconds: round(connectS),
      joinsSettled: joined.settled,
      server: serverDetail,
      frameBytes: Buffer.byteLength(frame),
      baselineDetail: baseDetail,
      windowMs: Math.round(windowS * 1000),
      warmupMs: warmup,
      durationMs: duration,
    });
    const cpuPer1k = serverCpuAll !== null && allDelivered > 0 ? serverCpuAll / (allDelivered / 1000) : null;
    const cores = machine().cpus;
    const basePer1k = baseDetail?.serverCpuSPer1k ?? null;
    emit({
      scenario: 'scaleout',
      metric: 'server CPU seconds per 1k delivered events',
      value: cpuPer1k === null ? null : round(cpuPer1k),
      unit: 'cpu-s/1k events',
      baseline: { name: 'plain ws broadcast CPU s per 1k', value: round(basePer1k) },
      ratio: null,
      target: 'arithmetic for N machines in bench/RESULTS.md',
      meets: null,
      eventsPerCoreSec: cpuPer1k ? round(1000 / cpuPer1k) : null,
      note: `one instance per core delivers ~1000/cpuPer1k events/s (window + drain, presence mutations included); N machines x ${cores} cores, minus Redis fan-out (1 publish + 1 message per instance per event)`,
    });
  } finally {
    await clients.all('closeAll').catch(() => {});
    await Promise.all([clients.kill(), loader.kill(), base.kill(), stopServer()]);
  }
  if (ctx.profile) await emitProfile(emit, 'fanout-profile', profiling.dir, profileWindow);
}
