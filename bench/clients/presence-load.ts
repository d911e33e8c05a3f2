/**
 * The fan-out scenario's load generator: cursor moves (updatePresence) over HTTP, open
 * loop, from senders that are themselves subscribers. Offered, issued, skipped, accepted
 * and failed updates and the ack latencies are kept per load (startLoad .. stopLoad).
 */
import { percentile } from '../lib.js';
import type { Sub } from './graphql-ws.js';

const PRESENCE = `mutation($d: ID!, $c: ID!, $cur: JSON) { updatePresence(dashboardId: $d, clientId: $c, cursor: $cur) }`;

/** The open-loop presence load (startLoad .. stopLoad). */
interface Load {
  /** Ticks: updates the schedule offered (issued + skipped). */
  offered: number;
  issued: number;
  /** Ticks skipped because the sender already had `maxInFlight` requests outstanding. */
  skipped: number;
  ok: number;
  failed: number;
  /** Requests still unanswered when the load stopped (aborted then, not failures). */
  aborted: number;
  lastError: string;
  latencies: number[];
  stop(): Promise<void>;
}
let load: Load | null = null;
/** The load last stopped: its final figures stay readable until the next startLoad. */
let lastLoad: Load | null = null;
const statsOf = (l: Load) => ({
  offered: l.offered,
  issued: l.issued,
  skipped: l.skipped,
  ok: l.ok,
  failed: l.failed,
  aborted: l.aborted,
  lastError: l.lastError,
  cpu: process.cpuUsage(),
});

/**
 * Open loop: every sender offers a cursor move each `intervalMs` over HTTP (keep-alive),
 * whether or not the server answered the previous one, with at most `maxInFlight`
 * outstanding per sender (a tick beyond that is counted as skipped). Runs until stopLoad.
 */
export function startLoad({
  url,
  senders,
  intervalMs,
  maxInFlight = 2,
}: {
  url: string;
  senders: Sub[];
  intervalMs: number;
  maxInFlight?: number;
}) {
  if (load) throw new Error('a load is already running');
  let running = true;
  const pending = new Set<Promise<void>>();
  // Under saturation answers take seconds: stopping aborts what is still outstanding.
  const abort = new AbortController();
  const timers = new Set<NodeJS.Timeout>();
  const l: Load = {
    offered: 0,
    issued: 0,
    skipped: 0,
    ok: 0,
    failed: 0,
    lastError: '',
    latencies: [],
    aborted: 0,
    async stop() {
      running = false;
      for (const t of timers) clearTimeout(t);
      abort.abort();
      await Promise.allSettled([...pending]);
    },
  };
  const send = async (s: Sub, i: number, x: number) => {
    const started = performance.now();
    try {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` },
        body: JSON.stringify({ query: PRESENCE, variables: { d: s.dashboardId, c: s.clientId, cur: { x, y: i } } }),
        signal: abort.signal,
      });
      const body = (await res.json()) as { errors?: unknown[] };
      if (body.errors) {
        l.failed++;
        l.lastError = JSON.stringify(body.errors).slice(0, 300);
      } else {
        l.ok++;
        l.latencies.push(performance.now() - started);
      }
    } catch (error) {
      if (abort.signal.aborted) l.aborted++;
      else {
        l.failed++;
        const cause = (error as { cause?: unknown }).cause;
        l.lastError = `${String(error)}${cause ? `: ${String(cause)}` : ''}`.slice(0, 300);
      }
    }
  };
  const t0 = performance.now();
  senders.forEach((s, i) => {
    let inFlight = 0;
    let x = 0;
    // Staggered over one interval, then on a fixed schedule (no drift from slow answers).
    let due = t0 + (intervalMs * i) / senders.length;
    const tick = () => {
      if (!running) return;
      l.offered++;
      if (inFlight >= maxInFlight) l.skipped++;
      else {
        inFlight++;
        l.issued++;
        const p = send(s, i, x++ % 1000).finally(() => {
          inFlight--;
          pending.delete(p);
        });
        pending.add(p);
      }
      due += intervalMs;
      schedule();
    };
    const schedule = () => {
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          tick();
        },
        Math.max(0, due - performance.now()),
      );
      timers.add(timer);
    };
    schedule();
  });
  load = l;
  return { senders: senders.length };
}

/** The running load's figures so far, or the last stopped load's final ones. */
export function loadStats() {
  const l = load ?? lastLoad;
  if (!l) throw new Error('no load started');
  return statsOf(l);
}

export async function stopLoad() {
  if (!load) throw new Error('no load running');
  const l = load;
  await l.stop();
  load = null;
  lastLoad = l;
  return { ...statsOf(l), p50: percentile(l.latencies, 50), p99: percentile(l.latencies, 99) };
}

/** Stops a running load, if any, without keeping its figures (closeAll). */
export async function abandonLoad() {
  await load?.stop();
  load = null;
}
