/**
 * A child process for the live-series scenarios (scenarios/series-live.ts), driven over IPC:
 *
 * - viewers: minimal graphql-transport-ws sockets with one `seriesUpdates` subscription each
 *   (connection_init, subscribe on ack, one JSON.parse per frame and a count, as lite.ts does
 *   for dashboardEvents), opened with `since` so the opening batch says the stream is live;
 * - with `timing`, the points of every live batch are timed: each point's `v` is the wall-clock
 *   ms at which the pusher sent it, so the receive time minus `v` is its latency;
 * - a pusher: pushPoints over HTTP (keep-alive), open loop, one point per series a tick;
 * - raw `ws` sockets on the plain `ws` baseline server (raw.ts), held by the same processes
 *   as the viewers, so both sides' clients do the same work per frame.
 *
 * Wall-clock ms here is performance.timeOrigin + performance.now(): sub-millisecond, and
 * comparable between processes on one machine (the pusher and the viewer are two).
 *
 * Run it only as a child (spawnChild): importing it serves IPC in the importing process.
 */
import type WebSocket from 'ws';
import { percentile, serveIpc, sleep } from '../lib.js';
import { CountedWebSocket, countClose, countEvent, counts, pool, resetTally, tally } from './tally.js';
import { closeRaw, connectRaw } from './raw.js';

/** The live-series subscription a chart opens (DESIGN.md section 10, LD3). */
const SERIES_UPDATES = `subscription($d: ID!, $m: [SeriesMatch!]!, $since: Float, $after: String) { seriesUpdates(dashboardId: $d, match: $m, since: $since, after: $after) { __typename ... on SeriesBatch { cursor series { series { id name labels } points } } } }`;
const PUSH = `mutation($d: ID!, $p: [PointInput!]!) { pushPoints(dashboardId: $d, points: $p) { accepted series } }`;

/** Wall-clock ms with sub-millisecond precision. */
const wallMs = () => performance.timeOrigin + performance.now();

interface SeriesMatchArg {
  name: string;
  labels?: Record<string, string> | null;
}

interface BatchPayload {
  data?: {
    seriesUpdates?: {
      __typename?: string;
      series?: Array<{ series: { labels: Record<string, string> }; points: Array<[number, number]> }>;
    };
  } | null;
  errors?: unknown[];
}

let viewers: WebSocket[] = [];
/** The latest live SeriesBatch frames received (the baseline broadcasts a typical one). */
let recentLive: string[] = [];
/** Live SeriesBatch frames received and their characters (their mean size, against the sample's). */
const live = { frames: 0, chars: 0 };

/** Latency of the points whose `v` (send time) falls in [from, to]. */
const timing = {
  on: false,
  from: Infinity,
  to: -Infinity,
  latencies: [] as number[],
  /** Per point in the window, `${label}:${t}`: duplicates are counted, not timed twice. */
  seen: new Set<string>(),
  duplicates: 0,
  /** Batches with at least one timed point, and the points each carried. */
  batches: 0,
  pointsPerBatch: [] as number[],
};

function onLiveBatch(at: number, payload: BatchPayload) {
  if (!timing.on) return;
  let timed = 0;
  for (const s of payload.data?.seriesUpdates?.series ?? []) {
    const label = Object.values(s.series.labels).join(',');
    for (const [t, v] of s.points) {
      if (v < timing.from || v > timing.to) continue;
      const key = `${label}:${t}`;
      if (timing.seen.has(key)) {
        timing.duplicates++;
        continue;
      }
      timing.seen.add(key);
      timing.latencies.push(at - v);
      timed++;
    }
  }
  if (timed > 0) {
    timing.batches++;
    timing.pointsPerBatch.push(timed);
  }
}

/** One viewer: a socket and a seriesUpdates subscription; resolves on its opening batch. */
function subscribeSeries(
  url: string,
  token: string,
  variables: { d: string; m: SeriesMatchArg[]; since: number | null },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new CountedWebSocket(url, 'graphql-transport-ws');
    viewers.push(socket);
    let opened = false;
    const fail = (error: Error) => {
      if (opened) return;
      socket.terminate();
      reject(error);
    };
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authToken: token } })));
    socket.on('message', (data) => {
      const at = wallMs();
      const text = String(data);
      const m = JSON.parse(text) as { type: string; payload?: BatchPayload };
      switch (m.type) {
        case 'next': {
          const type = m.payload?.data?.seriesUpdates?.__typename ?? (m.payload?.errors ? 'error' : 'other');
          if (type === 'SeriesBatch' && !opened) {
            countEvent('SeriesBatchOpening', text);
            opened = true;
            resolve();
          } else if (type === 'SeriesBatch') {
            countEvent(type, text);
            if (recentLive.push(text) > 32) recentLive.shift();
            live.frames++;
            live.chars += text.length;
            onLiveBatch(at, m.payload!);
          } else {
            countEvent(type, text);
            if (m.payload?.errors) fail(new Error(JSON.stringify(m.payload.errors).slice(0, 500)));
          }
          break;
        }
        case 'connection_ack':
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SERIES_UPDATES, variables } }));
          break;
        case 'ping':
          socket.send('{"type":"pong"}');
          break;
        case 'error':
          fail(new Error(`subscribe error: ${JSON.stringify(m.payload).slice(0, 500)}`));
          break;
        case 'complete':
          fail(new Error('subscription completed before its opening batch'));
          break;
      }
    });
    socket.once('error', (error) => fail(error));
    socket.once('close', (code, reason) => {
      countClose(code, reason);
      fail(new Error(`socket closed before the opening batch: ${code} ${String(reason)}`));
    });
  });
}

/** An open-loop pusher (startPush .. stopPush). */
interface Push {
  offered: number;
  issued: number;
  /** Ticks skipped because `maxInFlight` requests were outstanding. */
  skipped: number;
  ok: number;
  failed: number;
  lastError: string;
  /** Points acknowledged whose send time is in the window. */
  okPointsInWindow: number;
  /** Request -> answer ms of the requests sent in the window. */
  acks: number[];
  /** The `t` the next tick would write. */
  nextT: number;
  stop(): Promise<void>;
}
let push: Push | null = null;

interface PushSpec {
  url: string;
  token: string;
  dashboardId: string;
  name: string;
  /** One point per series a tick, each with these labels. */
  labels: Array<Record<string, string>>;
  /** Tick k writes t = tFirst + k (one value per series and tick: nothing is replaced). */
  tFirst: number;
  intervalMs: number;
  /** Send-time window (wall-clock ms) whose acks and points are counted. */
  from: number;
  to: number;
  maxInFlight: number;
}

async function postPoints(
  url: string,
  token: string,
  dashboardId: string,
  points: Array<{ series: string; labels: Record<string, string>; t: number; v: number }>,
  signal?: AbortSignal,
) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: PUSH, variables: { d: dashboardId, p: points } }),
    signal,
  });
  const body = (await res.json()) as { errors?: unknown[]; data?: { pushPoints?: { accepted: number } } };
  if (body.errors || !body.data?.pushPoints) throw new Error(JSON.stringify(body.errors ?? body).slice(0, 300));
  return body.data.pushPoints.accepted;
}

function startPush(spec: PushSpec) {
  if (push) throw new Error('a pusher is already running');
  let running = true;
  const abort = new AbortController();
  const pending = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  const p: Push = {
    offered: 0,
    issued: 0,
    skipped: 0,
    ok: 0,
    failed: 0,
    lastError: '',
    okPointsInWindow: 0,
    acks: [],
    nextT: spec.tFirst,
    async stop() {
      running = false;
      clearTimeout(timer);
      // Bounded: what the server has not answered 10 s later is aborted (and counted failed).
      await Promise.race([Promise.allSettled([...pending]), sleep(10_000)]);
      abort.abort();
      await Promise.allSettled([...pending]);
    },
  };
  let k = 0;
  let due = performance.now();
  const tick = () => {
    if (!running) return;
    p.offered++;
    if (pending.size >= spec.maxInFlight) p.skipped++;
    else {
      p.issued++;
      const sentAt = wallMs();
      const t = spec.tFirst + k;
      const points = spec.labels.map((labels) => ({ series: spec.name, labels, t, v: sentAt }));
      const inWindow = sentAt >= spec.from && sentAt <= spec.to;
      const request = postPoints(spec.url, spec.token, spec.dashboardId, points, abort.signal).then(
        (accepted) => {
          p.ok++;
          if (inWindow) {
            p.okPointsInWindow += accepted;
            p.acks.push(wallMs() - sentAt);
          }
        },
        (error: unknown) => {
          p.failed++;
          p.lastError = String((error as Error).message ?? error).slice(0, 300);
        },
      );
      const tracked = request.finally(() => pending.delete(tracked));
      pending.add(tracked);
    }
    k++;
    p.nextT = spec.tFirst + k;
    due += spec.intervalMs;
    timer = setTimeout(tick, Math.max(0, due - performance.now()));
  };
  tick();
  push = p;
  return { started: true };
}

const pushStats = (p: Push) => ({
  offered: p.offered,
  issued: p.issued,
  skipped: p.skipped,
  ok: p.ok,
  failed: p.failed,
  lastError: p.lastError,
  okPointsInWindow: p.okPointsInWindow,
  nextT: p.nextT,
  ackP50: percentile(p.acks, 50),
  ackP99: percentile(p.acks, 99),
  cpu: process.cpuUsage(),
});

serveIpc({
  /** Viewers: one socket and seriesUpdates subscription per token, `concurrency` opening at a time. */
  async connectSeries({
    url,
    tokens,
    dashboardId,
    match,
    since,
    concurrency = 50,
  }: {
    url: string;
    tokens: string[];
    dashboardId: string;
    match: SeriesMatchArg[];
    since: number | null;
    concurrency?: number;
  }) {
    await pool(tokens, concurrency, (token) => subscribeSeries(url, token, { d: dashboardId, m: match, since }));
    return { connected: tokens.length };
  },
  /** Raw sockets on the baseline server; each message is parsed once (raw.ts). */
  async connectRaw({ url, n }: { url: string; n: number }) {
    await connectRaw(url, n);
    return { connected: n };
  },
  /** Times the points sent in [from, to] (wall-clock ms) as live batches bring them. */
  startTiming({ from, to }: { from: number; to: number }) {
    Object.assign(timing, { on: true, from, to, latencies: [], seen: new Set(), duplicates: 0, batches: 0 });
    timing.pointsPerBatch = [];
    return true;
  },
  timingStats() {
    const l = timing.latencies;
    return {
      received: l.length,
      duplicates: timing.duplicates,
      batches: timing.batches,
      p50: percentile(l, 50),
      p90: percentile(l, 90),
      p99: percentile(l, 99),
      max: l.reduce((m, x) => Math.max(m, x), -Infinity),
      pointsPerBatchP50: percentile(timing.pointsPerBatch, 50),
    };
  },
  /** The live frames so far: how many, their mean size, and a recent one of about that size. */
  liveFrames() {
    const mean = live.frames ? live.chars / live.frames : 0;
    const typical = recentLive.reduce(
      (best, f) => (Math.abs(f.length - mean) < Math.abs(best.length - mean) ? f : best),
      recentLive[0] ?? '',
    );
    return { frames: live.frames, meanChars: mean, typical };
  },
  /** One request of points (seeding the series before viewers open). */
  async pushOnce({
    url,
    token,
    dashboardId,
    name,
    labels,
    t,
    v,
  }: {
    url: string;
    token: string;
    dashboardId: string;
    name: string;
    labels: Array<Record<string, string>>;
    t: number;
    v: number;
  }) {
    return postPoints(
      url,
      token,
      dashboardId,
      labels.map((l) => ({ series: name, labels: l, t, v })),
    );
  },
  startPush,
  pushStats() {
    if (!push) throw new Error('no pusher running');
    return pushStats(push);
  },
  async stopPush() {
    if (!push) throw new Error('no pusher running');
    const p = push;
    await p.stop();
    push = null;
    return pushStats(p);
  },
  counts,
  async closeAll() {
    tally.closing = true;
    await push?.stop();
    push = null;
    for (const s of viewers) s.terminate();
    viewers = [];
    closeRaw();
    await sleep(50);
    resetTally();
    timing.on = false;
    recentLive = [];
    Object.assign(live, { frames: 0, chars: 0 });
    tally.closing = false;
    return true;
  },
});
