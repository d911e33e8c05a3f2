/**
 * The orchestrator's side of the benchmarks, shared by bench/run.ts and bench/scenarios/*:
 * the run's context (options, the one-JSON-line output, frames captured for later
 * scenarios), fresh PostgreSQL databases, the app server and client child processes, and
 * waiting for a burst of deliveries to drain. Helpers the child processes use too are in
 * lib.ts.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import {
  cpuSeconds,
  machine,
  machineBusyCpuS,
  procUsage,
  round,
  sleep,
  spawnChild,
  type Child,
  type Result,
  type Seeded,
} from './lib.js';

export const log = (...args: unknown[]) => console.error('[bench]', ...args);

export const PG_ADMIN = process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** clientIds are claimed for good (rule OP2): unique per run. */
export const RUN = randomUUID().slice(0, 8);

/** The command line (parsed by run.ts). */
export interface BenchOptions {
  /** `--quick`: the CI smoke run, under a minute. */
  quick: boolean;
  /** `--profile`: the fan-out or ops server runs under --cpu-prof. */
  profile: boolean;
  /** `--case postgres-many` (storage-layout): one op-throughput case, without the baseline. */
  caseName?: string;
  /** `--client-procs N`: processes holding the fan-out subscribers (default 2). */
  clientProcs: number;
}

/** What every scenario gets: the options, the output, and frames captured along the way. */
export interface BenchContext extends BenchOptions {
  /** Prints one JSON line (the result, the machine, and whether the run is quick). */
  emit(r: Result): void;
  /** Real frames delivered by the product, by __typename (replayed by the deflate scenario). */
  samples: Record<string, string>;
}

export function createContext(options: BenchOptions): BenchContext {
  return {
    ...options,
    samples: {},
    emit(r) {
      console.log(
        JSON.stringify({ ...r, machine: { cpus: machine().cpus, node: machine().node }, quick: options.quick }),
      );
    },
  };
}

export function ratioOf(value: number | null, base: number | null | undefined) {
  return value !== null && base !== null && base !== undefined && base !== 0 ? round(value / base) : null;
}

/** A result line without a figure (a scenario skipped or crashed, a profile): value, baseline, ratio, meets null. */
export function withoutFigure(
  scenario: string,
  metric: string,
  unit: string,
  target: string,
  detail: Record<string, unknown>,
): Result {
  return { scenario, metric, value: null, unit, baseline: null, ratio: null, target, meets: null, ...detail };
}

/** A fresh PostgreSQL database (dropped by the returned function), or DATABASE_URL as is. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> } | null> {
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

export async function redisUp(): Promise<boolean> {
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

/** The real app in a server.ts child process; `stop` stops the app and ends the process (once). */
export async function startServer(env: Record<string, string>, execArgv: string[] = []) {
  const child = await spawnChild('server.ts', { execArgv: ['--expose-gc', ...execArgv] });
  const { port } = await child.call<{ port: number }>('start', { env });
  let stopped = false;
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    async stop(timeoutMs?: number) {
      if (stopped) return;
      stopped = true;
      await child.call('stop', {}, timeoutMs).catch(() => {});
      await child.kill();
    },
  };
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
export async function quiesce(clients: Child | Counted, stableMs = 500, maxMs = 30_000) {
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

/** What clients.ts reports for `counts`. */
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
 * Client sockets spread over `n` processes running `script` (clients.ts, or another client
 * that counts with tally.ts), so one process's event loop does not bound the figure; counts
 * are summed, CPU is reported per process.
 */
export async function clientGroup(n: number, script = 'clients.ts') {
  const children = await Promise.all(Array.from({ length: n }, () => spawnChild(script)));
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
export type ClientGroup = Awaited<ReturnType<typeof clientGroup>>;

/** `n` subscribers dealt round-robin over the seeded dashboards, then over their users. */
export function subsFor(seeded: Seeded, n: number, prefix: string) {
  return Array.from({ length: n }, (_, j) => {
    const d = seeded.dashboards[j % seeded.dashboards.length]!;
    const u = d.users[Math.floor(j / seeded.dashboards.length) % d.users.length]!;
    return { token: u.token, dashboardId: d.id, clientId: `${prefix}-${RUN}-${j}` };
  });
}

/**
 * The machine at one instant, for a measurement window: `pid`'s CPU and RSS (from /proc),
 * the whole machine's busy CPU, and this process's own CPU.
 */
export function machineSample(pid: number | undefined) {
  return {
    at: performance.now(),
    /** Monotonic µs: the clock of a CPU profile's sample timestamps. */
    hrUs: Number(process.hrtime.bigint() / 1000n),
    p: procUsage(pid),
    busy: machineBusyCpuS(),
    self: process.cpuUsage(),
  };
}
type MachineSample = ReturnType<typeof machineSample>;

/** CPU seconds per second of each client process between two `clientGroup` counts. */
export function cpuPerSecByProc(a: { cpuS: number[] }, b: { cpuS: number[] }, windowS: number) {
  return b.cpuS.map((t, k) => round((t - a.cpuS[k]!) / windowS));
}

/**
 * CPU per second the machine spent on anything but this benchmark's processes between two
 * samples: its busy CPU minus `ownPerSec` (the CPU/s of each of the benchmark's other
 * processes) and this process's. null when a reading is missing. Above ~0.25 the figures
 * of the window are noisy.
 */
export function foreignCpuPerSec(
  a: MachineSample,
  b: MachineSample,
  windowS: number,
  ownPerSec: Array<number | null>,
): number | null {
  if (a.busy === null || b.busy === null || ownPerSec.some((x) => x === null)) return null;
  let rest = (b.busy - a.busy) / windowS;
  for (const x of ownPerSec) rest -= x!;
  return rest - (cpuSeconds(b.self) - cpuSeconds(a.self)) / windowS;
}

/**
 * The Redis baseline of the cross-instance scenarios: publishes `payload` (a 12-digit key in
 * front) `rate` times a second on one channel, open loop; each message's publish -> receive
 * time (ms) and how many were sent.
 */
export async function redisRoundTrips(payload: string, rate: number, durationMs: number) {
  const publisher = new Redis(REDIS_URL);
  const subscriber = new Redis(REDIS_URL);
  const channel = `bench-rtt-${randomUUID()}`;
  const sentAt = new Map<string, number>();
  const times: number[] = [];
  subscriber.on('message', (_channel, message: string) => {
    const at = sentAt.get(message.slice(0, 12));
    if (at !== undefined) times.push(performance.now() - at);
  });
  await subscriber.subscribe(channel);
  const total = Math.round((rate * durationMs) / 1000);
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const key = String(i).padStart(12, '0');
    sentAt.set(key, performance.now());
    void publisher.publish(channel, key + payload);
    const wait = start + ((i + 1) * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
  }
  await sleep(300);
  publisher.disconnect();
  subscriber.disconnect();
  return { times, sent: total };
}
