/**
 * The benchmarks (DESIGN.md section 9): `npm run bench` (full), `-- --quick` (CI smoke,
 * under a minute), `-- --only <scenario>`, `-- --profile` (the fan-out or ops server under --cpu-prof),
 * `-- --only ops --case postgres-many` (one op-throughput case, no baseline).
 * Each scenario is bounded, loopback only, and prints one JSON line. The exit code is 1
 * only when a scenario crashed; missing targets never fail the run.
 */
import { readdirSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { buildApp } from '../api/src/app.js';
import { loadConfig } from '../api/src/config.js';
import { applyOp, invertOp, type JSONOp } from '@collab-dashboards/core';
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
  machineBusyCpuS,
  procUsage,
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
/** `--case postgres-many` (storage-layout) runs one op-throughput case, without the baseline. */
const caseAt = argv.indexOf('--case');
const CASE = caseAt >= 0 ? argv[caseAt + 1] : undefined;
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

/** Anything that reports the messages its client sockets received. */
interface Counted {
  counts(): Promise<{ messages: number }>;
}
const counted = (clients: Child | Counted): Counted =>
  'proc' in clients ? { counts: () => clients.call<{ messages: number }>('counts') } : clients;

/**
 * Waits until the clients' message count stops moving (a burst has drained). Returns the
 * count, and whether it settled within `maxMs` (false: still moving when we gave up).
 */
async function quiesce(clients: Child | Counted, stableMs = 500, maxMs = 30_000) {
  const c = counted(clients);
  const until = performance.now() + maxMs;
  let last = -1;
  while (performance.now() < until) {
    const { messages } = await c.counts();
    if (messages === last) return { messages, settled: true };
    last = messages;
    await sleep(stableMs);
  }
  return { messages: last, settled: false };
}

interface ClientCounts {
  messages: number;
  byType: Record<string, number>;
  bytes: number;
  cpu: NodeJS.CpuUsage;
  samples: Record<string, string>;
  closed: number;
  closeCodes: Record<string, number>;
  lastClose: string;
  rss: number;
}

/**
 * Client sockets spread over `n` clients.ts processes (so one process's event loop does
 * not bound the figure); counts are summed, CPU is reported per process.
 */
async function clientGroup(n: number) {
  const children = await Promise.all(Array.from({ length: n }, () => spawnChild('clients.ts')));
  const group = {
    children,
    /** Calls `cmd` on every child; `split` deals `items` out round-robin as args[key]. */
    all<T>(
      cmd: string,
      args: Record<string, unknown> = {},
      timeoutMs?: number,
      split?: { key: string; items: unknown[] },
    ) {
      return Promise.all(
        children.map((c, k) =>
          c.call<T>(cmd, split ? { ...args, [split.key]: split.items.filter((_, j) => j % n === k) } : args, timeoutMs),
        ),
      );
    },
    async counts() {
      const each = await group.all<ClientCounts>('counts');
      const sum = (f: (c: ClientCounts) => number) => each.reduce((t, c) => t + f(c), 0);
      const merged = <V>(f: (c: ClientCounts) => Record<string, V>) => Object.assign({}, ...each.map(f).reverse());
      const codes: Record<string, number> = {};
      for (const c of each) for (const [k, v] of Object.entries(c.closeCodes)) codes[k] = (codes[k] ?? 0) + v;
      return {
        messages: sum((c) => c.messages),
        bytes: sum((c) => c.bytes),
        closed: sum((c) => c.closed),
        closeCodes: codes,
        lastClose: each.map((c) => c.lastClose).filter(Boolean)[0] ?? '',
        samples: merged((c) => c.samples) as Record<string, string>,
        /** CPU seconds per process. */
        cpuS: each.map((c) => cpuSeconds(c.cpu)),
      };
    },
    async kill() {
      await Promise.all(children.map((c) => c.kill()));
    },
  };
  return group;
}

function subsFor(seeded: Seeded, n: number, prefix: string) {
  return Array.from({ length: n }, (_, j) => {
    const d = seeded.dashboards[j % seeded.dashboards.length]!;
    const u = d.users[Math.floor(j / seeded.dashboards.length) % d.users.length]!;
    return { token: u.token, dashboardId: d.id, clientId: `${prefix}-${RUN}-${j}` };
  });
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** file:// URL of the repository root, stripped from profile frames. */
const ROOT_URL = `${pathToFileURL(path.dirname(BENCH_DIR)).href}/`;

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Source map `mappings` -> per generated line, [generated column, original line (0-based)]. */
function decodeMappings(mappings: string): Array<Array<[number, number]>> {
  const lines: Array<Array<[number, number]>> = [];
  let srcLine = 0;
  for (const line of mappings.split(';')) {
    const out: Array<[number, number]> = [];
    let genCol = 0;
    for (const segment of line.split(',')) {
      if (!segment) continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) * 2 ** shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value % 2 ? -Math.floor(value / 2) : value / 2);
          value = 0;
          shift = 0;
        }
      }
      genCol += values[0] ?? 0;
      if (values.length >= 4) {
        srcLine += values[2]!;
        out.push([genCol, srcLine]);
      }
    }
    lines.push(out);
  }
  return lines;
}

/**
 * Maps frames of TypeScript files back to their source lines. tsx runs TypeScript through
 * esbuild with whitespace minified, so every frame of a .ts file reports line 1; its disk
 * cache ($TMPDIR/tsx-<uid>) keeps each transform with its source map. A file may have several
 * cached versions (it is being edited): the one whose code has the profile's named functions
 * at the profiled columns is used. Returns null when nothing fits (the frame keeps line:column).
 */
function tsxSourceLines(
  frames: Array<{ url: string; functionName: string; lineNumber: number; columnNumber: number }>,
) {
  const dir = path.join(os.tmpdir(), `tsx-${process.geteuid?.() ?? os.userInfo().username}`);
  const bySource = new Map<string, Array<{ code: string; mappings: string }>>();
  try {
    for (const file of readdirSync(dir)) {
      try {
        const entry = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
          code?: unknown;
          map?: { sources?: unknown[]; mappings?: unknown };
        };
        const source = entry.map?.sources?.[0];
        if (typeof source !== 'string' || typeof entry.code !== 'string' || typeof entry.map?.mappings !== 'string')
          continue;
        const list = bySource.get(source) ?? [];
        list.push({ code: entry.code, mappings: entry.map.mappings });
        bySource.set(source, list);
      } catch {
        // not a transform entry
      }
    }
  } catch {
    return () => null;
  }
  const chosen = new Map<string, Array<Array<[number, number]>> | null>();
  const fileOf = (url: string) => (url.startsWith('file://') ? fileURLToPath(url) : url);
  return (frame: { url: string; lineNumber: number; columnNumber: number }): number | null => {
    const file = fileOf(frame.url);
    if (!file.endsWith('.ts')) return null;
    if (!chosen.has(file)) {
      const named = frames.filter((f) => fileOf(f.url) === file && /^[\w$]+$/.test(f.functionName));
      let best: { code: string; mappings: string } | null = null;
      let bestScore = 0;
      for (const candidate of bySource.get(file) ?? []) {
        const lines = candidate.code.split('\n');
        let score = 0;
        for (const f of named) {
          const text = lines[f.lineNumber] ?? '';
          if (text.slice(Math.max(0, f.columnNumber - 60), f.columnNumber + 60).includes(f.functionName)) score++;
        }
        if (score > bestScore) [best, bestScore] = [candidate, score];
      }
      chosen.set(file, best && bestScore >= Math.min(3, named.length) ? decodeMappings(best.mappings) : null);
    }
    const segments = chosen.get(file)?.[frame.lineNumber];
    if (!segments || segments.length === 0) return null;
    let lo = 0;
    let hi = segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid]![0] <= frame.columnNumber) lo = mid;
      else hi = mid - 1;
    }
    return segments[lo]![0] <= frame.columnNumber ? segments[lo]![1] + 1 : null;
  };
}

/**
 * Top self-time frames of the server's main thread. `--cpu-prof` writes one profile per
 * thread (the tsx loader runs in a worker that is idle nearly all the time), so this reads
 * every .cpuprofile in `dir` and keeps the one with the most non-idle time. Samples are
 * counted only inside `window` (monotonic microseconds, the clock V8 stamps samples with)
 * when given. Percentages are of non-idle time ((program) and GC count in it; (idle) and
 * (program) are not listed).
 */
function profileTop(dir: string, window?: { fromUs: number; toUs: number }, n = 15) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const threads: Array<{ file: string; busyMs: number | null; idlePct: number | null }> = [];
  let best: { file: string; profile: CpuProfile; busy: number } | null = null;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    const idleIds = new Set(profile.nodes.filter((x) => x.callFrame.functionName === '(idle)').map((x) => x.id));
    let total = 0;
    let idle = 0;
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i] ?? 0;
      total += dt;
      if (idleIds.has(id)) idle += dt;
    });
    threads.push({ file, busyMs: round((total - idle) / 1000), idlePct: round((100 * idle) / (total || 1)) });
    if (!best || total - idle > best.busy) best = { file, profile, busy: total - idle };
  }
  if (!best) return null;
  const { profile } = best;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const sourceLine = tsxSourceLines(profile.nodes.map((x) => x.callFrame));
  const keys = new Map<number, string>();
  const keyOf = (id: number) => {
    let key = keys.get(id);
    if (key === undefined) {
      const f = byId.get(id)!.callFrame;
      const url = f.url.replace(/^.*node_modules\//, '').replace(ROOT_URL, '');
      const line = sourceLine(f);
      const at = line !== null ? `${line}` : f.lineNumber === 0 ? `1:${f.columnNumber + 1}` : `${f.lineNumber + 1}`;
      key = url ? `${f.functionName || '(anonymous)'} ${url}:${at}` : f.functionName;
      keys.set(id, key);
    }
    return key;
  };
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const tally = (from: number, to: number) => {
    const self = new Map<string, number>();
    /** Time with the frame anywhere on the stack (each frame counted once per sample). */
    const inclusive = new Map<string, number>();
    let t = profile.startTime;
    let total = 0;
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i] ?? 0;
      t += dt;
      if (t < from || t > to) return;
      const key = keyOf(id);
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const k = keyOf(at);
        if (seen.has(k) || k === '(root)') continue;
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
      }
    });
    const idle = self.get('(idle)') ?? 0;
    const busy = total - idle;
    const pct = (us: number) => round((100 * us) / (busy || 1), 3);
    return {
      busyMs: round(busy / 1000),
      idlePctOfTotal: round((100 * idle) / (total || 1)),
      programPctOfBusy: pct(self.get('(program)') ?? 0),
      gcPctOfBusy: pct(self.get('(garbage collector)') ?? 0),
      top: [...self.entries()]
        .filter(([frame]) => frame !== '(idle)' && frame !== '(program)')
        .sort((x, y) => y[1] - x[1])
        .slice(0, n)
        .map(([frame, us]) => ({ frame, pctOfBusy: pct(us) })),
      inclusive: [...inclusive.entries()]
        .filter(([frame]) => !frame.startsWith('('))
        .sort((x, y) => y[1] - x[1])
        .slice(0, n * 2)
        .map(([frame, us]) => ({ frame, pctOfBusy: pct(us) })),
    };
  };
  const whole = tally(-Infinity, Infinity);
  const inWindow = window ? tally(window.fromUs, window.toUs) : null;
  return {
    file: best.file,
    threads,
    scope: inWindow && inWindow.busyMs ? 'measurement window' : 'whole server run',
    ...(inWindow && inWindow.busyMs ? inWindow : whole),
    wholeRun: inWindow && inWindow.busyMs ? { ...whole, top: whole.top.slice(0, 8), inclusive: undefined } : undefined,
  };
}

/** One JSON line with the profile of a server that has exited (it writes on exit). */
async function emitProfile(scenario: string, dir: string, window?: { fromUs: number; toUs: number }) {
  await sleep(500);
  emit({
    scenario,
    metric: 'top self-time and inclusive frames (server main thread, % of non-idle time)',
    value: null,
    unit: '',
    baseline: null,
    ratio: null,
    target: '',
    meets: null,
    profileDir: dir,
    ...profileTop(dir, window),
  });
}

// ---------------------------------------------------------------------------------------
// (1) fan-out and (6) scale-out
/** The server coalesces presence per clientId to one broadcast per 33 ms (presence-service.ts). */
const COALESCE_MS = 33;
/** Each sender moves its cursor a little slower than that: every update is its own broadcast. */
const SENDER_INTERVAL_MS = 34;

async function fanout() {
  const S = QUICK ? 300 : 1000;
  // Offered deliveries/s (events/s x subscribers), well above what one instance delivers:
  // the figure is the server's capacity, not the load generator's rate.
  const OFFERED = QUICK ? 1_000_000 : 1_200_000;
  const SENDERS = Math.min(S, Math.ceil(OFFERED / ((S - 1) * (1000 / SENDER_INTERVAL_MS))));
  const warmup = QUICK ? 1000 : 2000;
  const duration = QUICK ? 3000 : 6000;
  const drainMaxMs = QUICK ? 8000 : 20_000;
  const CONNECT_BATCH = 250;
  const procsAt = argv.indexOf('--client-procs');
  const CLIENT_PROCS = procsAt >= 0 ? Math.max(1, Number(argv[procsAt + 1]) || 1) : 2;
  const profileDir = path.join(BENCH_DIR, '.profiles');
  if (PROFILE) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const t0 = performance.now();
  const since = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  // All processes start at once (each pays tsx's start-up); the baseline server idles until used.
  const [server, clients, loader, base] = await Promise.all([
    startServer({}, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    clientGroup(CLIENT_PROCS),
    // The presence senders live in a process of their own, so their CPU is not the subscribers'.
    spawnChild('clients.ts'),
    spawnChild('ws-baseline.ts'),
  ]);
  const serverPid = server.child.proc.pid;
  const pStart = procUsage(serverPid);
  let profileWindow: { fromUs: number; toUs: number } | undefined;
  let serverStopped = false;
  const stopServer = async () => {
    if (serverStopped) return;
    serverStopped = true;
    await server.child.call('stop', {}, 15_000).catch(() => {});
    await server.child.kill();
  };
  /** Samples everything at one instant (all in parallel): client counts, load, server CPU/RSS. */
  const sample = async () => {
    const [c, l] = await Promise.all([clients.counts(), loader.call('loadStats')]);
    return {
      at: performance.now(),
      /** Monotonic µs: the clock of the profile's sample timestamps. */
      hrUs: Number(process.hrtime.bigint() / 1000n),
      c,
      l,
      p: procUsage(serverPid),
      busy: machineBusyCpuS(),
      self: process.cpuUsage(),
    };
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
    const connectBudget = tc + (QUICK ? 60_000 : 120_000);
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
    const clientCpuByProc = b.c.cpuS.map((t, k) => round((t - a.c.cpuS[k]!) / windowS));
    const clientCpuPerSec = clientCpuByProc.reduce<number>((t, x) => t + (x ?? 0), 0);
    const loadCpuPerSec = (cpuSeconds(b.l.cpu) - cpuSeconds(a.l.cpu)) / windowS;
    // CPU the machine spent on anything but this benchmark's processes during the window.
    const foreignCpuPerSec =
      a.busy !== null && b.busy !== null && serverCpuPerSec !== null
        ? (b.busy - a.busy) / windowS -
          serverCpuPerSec -
          clientCpuPerSec -
          loadCpuPerSec -
          (cpuSeconds(b.self) - cpuSeconds(a.self)) / windowS
        : null;
    // Scale-out: server CPU per delivery over the window and its drain (mutations included).
    const serverCpuAll = a.p && end.p ? end.p.cpuS - a.p.cpuS : null;
    const allDelivered = end.c.messages - a.c.messages;
    Object.assign(samples, end.c.samples);
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

    // Baseline: a plain ws server broadcasting the captured frame (byte for byte) to as many
    // raw sockets, held by the same client processes, which parse every frame once too.
    let baseRate: number | null = null;
    let baseDetail: Record<string, unknown> | null = null;
    try {
      const { port } = await base.call('start', {});
      await Promise.all(
        clients.children.map((child, k) =>
          child.call(
            'connectRaw',
            { url: `ws://127.0.0.1:${port}`, n: Math.floor(S / CLIENT_PROCS) + (k < S % CLIENT_PROCS ? 1 : 0) },
            120_000,
          ),
        ),
      );
      const basePid = base.proc.pid;
      const bsample = async () => {
        const [cc, st] = await Promise.all([clients.counts(), base.call('broadcastStats')]);
        return {
          at: performance.now(),
          c: cc,
          st,
          p: procUsage(basePid),
          busy: machineBusyCpuS(),
          self: process.cpuUsage(),
        };
      };
      await base.call('startBroadcast', { frame });
      await sleep(warmup);
      const ba = await bsample();
      await sleep(duration);
      const bb = await bsample();
      const sent = await base.call('stopBroadcast', {}, 60_000);
      const bWindowS = (bb.at - ba.at) / 1000;
      const bDelivered = bb.c.messages - ba.c.messages;
      baseRate = bDelivered / bWindowS;
      const bClientByProc = bb.c.cpuS.map((t, k) => round((t - ba.c.cpuS[k]!) / bWindowS));
      const bServerCpu = ba.p && bb.p ? (bb.p.cpuS - ba.p.cpuS) / bWindowS : null;
      const bClientCpu = bClientByProc.reduce<number>((t, x) => t + (x ?? 0), 0);
      baseDetail = {
        sent: sent.sent,
        skippedFull: sent.skipped,
        serverCpuPerSec: round(bServerCpu),
        serverCpuSPer1k: ba.p && bb.p && bDelivered > 0 ? round((bb.p.cpuS - ba.p.cpuS) / (bDelivered / 1000)) : null,
        serverCpuUsPerMsg: bServerCpu !== null && baseRate > 0 ? round((bServerCpu * 1e6) / baseRate) : null,
        clientCpuPerSec: round(bClientCpu),
        clientCpuPerSecByProc: bClientByProc,
        foreignCpuPerSec:
          ba.busy !== null && bb.busy !== null && bServerCpu !== null
            ? round(
                (bb.busy - ba.busy) / bWindowS -
                  bServerCpu -
                  bClientCpu -
                  (cpuSeconds(bb.self) - cpuSeconds(ba.self)) / bWindowS,
              )
            : null,
        subscribersClosed: bb.c.closed,
      };
      await clients.all('closeAll');
    } finally {
      await base.kill();
    }
    const ratio = ratioOf(rate, baseRate);
    // Server CPU per delivered message, ours and the baseline's: less sensitive than msg/s to
    // other load on the machine (which --quick runs on shared machines often see).
    const usPerMsg = serverCpuPerSec !== null && rate > 0 ? (serverCpuPerSec * 1e6) / rate : null;
    const baseUsPerMsg = (baseDetail?.serverCpuUsPerMsg as number | null | undefined) ?? null;
    const foreign = [foreignCpuPerSec, (baseDetail?.foreignCpuPerSec as number | null | undefined) ?? null];
    const noisy = foreign.some((f) => f !== null && f > 0.25);
    if (noisy)
      log(`fan-out: other processes used ${foreign.map((f) => round(f)).join(' / ')} CPU-s/s: figures are noisy`);
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
      foreignCpuPerSec: round(foreignCpuPerSec),
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
    const basePer1k = (baseDetail?.serverCpuSPer1k as number | null | undefined) ?? null;
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
  if (PROFILE) await emitProfile('fanout-profile', profileDir, profileWindow);
}

// ---------------------------------------------------------------------------------------
// (2) op throughput
async function opsOne(layout: 'one' | 'many', databaseUrl?: string) {
  const C = 50;
  const duration = QUICK ? 1000 : 6000;
  const warmup = QUICK ? 300 : 1000;
  const profileDir = path.join(BENCH_DIR, '.profiles');
  if (PROFILE) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const server = await startServer(
    databaseUrl ? { DATABASE_URL: databaseUrl } : {},
    PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  );
  let profileWindow: { fromUs: number; toUs: number } | undefined;
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
    Object.assign(samples, c.samples);
    return {
      ...r,
      serverCpuS: round(cpuSeconds({ user: u1.cpu.user - u0.cpu.user, system: u1.cpu.system - u0.cpu.system })),
      serverSystemCpuS: round((u1.cpu.system - u0.cpu.system) / 1e6),
      durationMs: duration,
    };
  } finally {
    await clients.call('closeAll').catch(() => {});
    await clients.kill();
    await server.child.call('stop').catch(() => {});
    await server.child.kill();
    if (PROFILE) await emitProfile(`ops-profile-${layout}`, profileDir, profileWindow);
  }
}

async function ops() {
  const db = await freshDatabase();
  try {
    let shareDb: { value: number | null; reason?: string; detail?: unknown } = { value: null, reason: 'no PostgreSQL' };
    if (db && !CASE) {
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
        if (CASE && CASE !== `${storage}-${layout}`) continue;
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

// ---------------------------------------------------------------------------------------
// (3) cross-instance latency
async function crossInstance() {
  // The target is judged at 1k ops/s; lower rates show where this machine stops keeping up.
  const rates = QUICK ? [300] : [300, 600, 1000];
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
    await sleep(QUICK ? 2000 : 10_000);
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
        const snapshots: Array<{ version: number; document: unknown }> = [];
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
            undoGroup: version,
            createdAt: now,
          });
          if (version % config.snapshotEvery === 0) snapshots.push({ version, document: doc });
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
