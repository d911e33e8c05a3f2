/**
 * A child process for the pulled-data-source scenario (scenarios/datasource-fanout.ts, rule
 * LD5), driven over IPC:
 *
 * - watchers: minimal graphql-transport-ws sockets with one `queryUpdates` subscription each
 *   (connection_init, subscribe on ack, one JSON.parse per frame and a count, as lite.ts does
 *   for dashboardEvents); a watcher is open once its first SeriesBatch arrived;
 * - pollers: what Grafana does instead, each viewer's panel asking Prometheus's
 *   `/api/v1/query_range` itself once per step (at its own phase within the step, as browsers
 *   opened at different moments do), the same one-step request the server sends;
 * - raw `ws` sockets on the plain `ws` baseline server (raw.ts), held by the same processes
 *   as the watchers, so both sides' clients do the same work per frame.
 *
 * Run it only as a child (spawnChild): importing it serves IPC in the importing process.
 */
import type WebSocket from 'ws';
import { serveIpc, sleep } from '../lib.js';
import { CountedWebSocket, countClose, countEvent, counts, pool, resetTally, tally } from './tally.js';
import { closeRaw, connectRaw } from './raw.js';

const QUERY_UPDATES = `subscription($d: ID!, $ds: String!, $e: String!, $s: Int!) { queryUpdates(dashboardId: $d, datasource: $ds, expr: $e, step: $s) { __typename ... on SeriesBatch { cursor error series { series { id name labels } points } } } }`;

/** What a watcher subscribes to. */
interface Watch {
  url: string;
  dashboardId: string;
  datasource: string;
  expr: string;
  step: number;
}

interface NextPayload {
  data?: { queryUpdates?: { __typename?: string; error?: string | null } } | null;
  errors?: unknown[];
}

let watchers: WebSocket[] = [];

/**
 * One watcher; resolves on its first SeriesBatch (counted as `SeriesBatch`, or
 * `SeriesBatchError` when the server says the upstream failed).
 */
function watch(w: Watch, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new CountedWebSocket(w.url, 'graphql-transport-ws');
    watchers.push(socket);
    let live = false;
    const fail = (error: Error) => {
      if (live) return;
      socket.terminate();
      reject(error);
    };
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authToken: token } })));
    socket.on('message', (data) => {
      const text = String(data);
      const m = JSON.parse(text) as { type: string; payload?: NextPayload };
      if (m.type === 'next') {
        const event = m.payload?.data?.queryUpdates;
        const type = event?.__typename ?? (m.payload?.errors ? 'error' : 'other');
        countEvent(type === 'SeriesBatch' && event?.error ? 'SeriesBatchError' : type, text);
        if (type === 'SeriesBatch') {
          live = true;
          resolve();
        } else fail(new Error(`unexpected event: ${text.slice(0, 500)}`));
      } else if (m.type === 'connection_ack') {
        const variables = { d: w.dashboardId, ds: w.datasource, e: w.expr, s: w.step };
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY_UPDATES, variables } }));
      } else if (m.type === 'ping') socket.send('{"type":"pong"}');
      else if (m.type === 'error' || m.type === 'complete') fail(new Error(`${m.type}: ${text.slice(0, 500)}`));
    });
    socket.once('error', (error) => fail(error));
    socket.once('close', (code, reason) => {
      countClose(code, reason);
      fail(new Error(`socket closed before its first batch: ${code} ${String(reason)}`));
    });
  });
}

/** The pollers of this process (startPolling .. stopPolling). */
interface Polling {
  /** Requests answered with status success / failed; ticks skipped (the previous still running). */
  ok: number;
  failed: number;
  skipped: number;
  lastError: string;
  stop(): Promise<void>;
}
let polling: Polling | null = null;

/**
 * One poller per entry of `phases` (ms into each step): at that moment of every step it asks
 * `url`'s query_range for `expr` at the step's start, one point, as the server does.
 */
function startPolling({ url, expr, step, phases }: { url: string; expr: string; step: number; phases: number[] }) {
  if (polling) throw new Error('already polling');
  const timers = new Set<NodeJS.Timeout>();
  const pending = new Set<Promise<void>>();
  let running = true;
  const p: Polling = {
    ok: 0,
    failed: 0,
    skipped: 0,
    lastError: '',
    async stop() {
      running = false;
      for (const t of timers) clearTimeout(t);
      await Promise.race([Promise.allSettled([...pending]), sleep(10_000)]);
    },
  };
  const ask = async () => {
    const at = String(Math.floor(Date.now() / step) * (step / 1000));
    try {
      const res = await fetch(`${url}/api/v1/query_range`, {
        method: 'POST',
        body: new URLSearchParams({ query: expr, start: at, end: at, step: String(step / 1000) }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { status?: string; error?: string };
      if (body.status !== 'success') throw new Error(`${res.status} ${body.error ?? ''}`);
      p.ok++;
    } catch (error) {
      p.failed++;
      p.lastError = String((error as Error).message ?? error).slice(0, 300);
    }
  };
  for (const phase of phases) {
    let busy = false;
    let due = Math.floor(Date.now() / step) * step + step + phase;
    const tick = (timer: NodeJS.Timeout) => {
      timers.delete(timer);
      if (!running) return;
      if (busy) p.skipped++;
      else {
        busy = true;
        const request = ask().finally(() => {
          busy = false;
          pending.delete(request);
        });
        pending.add(request);
      }
      due += step;
      schedule();
    };
    const schedule = () => {
      const timer: NodeJS.Timeout = setTimeout(() => tick(timer), Math.max(0, due - Date.now()));
      timers.add(timer);
    };
    schedule();
  }
  polling = p;
  return { pollers: phases.length };
}

const pollStats = (p: Polling | null) => ({
  ok: p?.ok ?? 0,
  failed: p?.failed ?? 0,
  skipped: p?.skipped ?? 0,
  lastError: p?.lastError ?? '',
});

serveIpc({
  /** Watchers: one socket and queryUpdates subscription per token, `concurrency` opening at a time. */
  async connectQuery({ tokens, concurrency = 250, ...w }: Watch & { tokens: string[]; concurrency?: number }) {
    await pool(tokens, concurrency, (token) => watch(w, token));
    return { connected: tokens.length };
  },
  /** Raw sockets on the baseline server; each message is parsed once (raw.ts). */
  async connectRaw({ url, n }: { url: string; n: number }) {
    await connectRaw(url, n);
    return { connected: n };
  },
  startPolling,
  pollStats: () => pollStats(polling),
  async stopPolling() {
    const p = polling;
    await p?.stop();
    polling = null;
    return pollStats(p);
  },
  counts,
  async closeAll() {
    tally.closing = true;
    await polling?.stop();
    polling = null;
    for (const s of watchers) s.terminate();
    watchers = [];
    closeRaw();
    await sleep(50);
    resetTally();
    tally.closing = false;
    return true;
  },
});
