/**
 * A child process holding the benchmark's client sockets, so the server process is measured
 * alone: real graphql-ws clients (ops, cross-instance), minimal graphql-transport-ws clients
 * (fan-out: one JSON.parse per frame, the same client work as the raw `ws` baseline sockets),
 * raw `ws` sockets for the baselines, and an open-loop HTTP presence load generator. Driven
 * over IPC by bench/run.ts; reports counts, bytes on the wire, CPU and latencies.
 */
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { percentile, serveIpc, sleep } from './lib.js';

export const EVENTS = `subscription($d: ID!, $c: ID!, $f: Int) {
  dashboardEvents(dashboardId: $d, clientId: $c, fromVersion: $f) {
    __typename
    ... on OperationApplied { version op clientId seq author { id } createdAt }
    ... on SyncCompleted { version }
    ... on CheckpointCreated { checkpoint { id name version } }
    ... on DashboardChanged { dashboard { id myRole } }
    ... on AccessRevoked { dashboardId reason }
    ... on PresenceUpdated { presence { clientId user { id name color } cursor selection version status lastSeen } }
    ... on PresenceLeft { clientId user { id } }
  }
}`;

const SUBMIT = `mutation($d: ID!, $c: ID!, $s: Int!, $b: Int!, $op: JSON!) {
  submitOperation(dashboardId: $d, clientId: $c, seq: $s, baseVersion: $b, op: $op) { version duplicate }
}`;

const PRESENCE = `mutation($d: ID!, $c: ID!, $cur: JSON) { updatePresence(dashboardId: $d, clientId: $c, cursor: $cur) }`;

/** Every socket this process opened, for bytes on the wire. */
const sockets = new Set<WebSocket>();
class CountedWebSocket extends WebSocket {
  constructor(address: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
    super(address, protocols, { perMessageDeflate: deflateOffer, ...options });
    sockets.add(this);
  }
}
let deflateOffer = false;

let messages = 0;
const byType: Record<string, number> = {};
const samples: Record<string, string> = {};
let clients: Client[] = [];
let raw: WebSocket[] = [];
/** Minimal graphql-transport-ws sockets (fan-out subscribers). */
let lite: WebSocket[] = [];
/** Set while closeAll tears sockets down: those closes are ours, not the server's. */
let closing = false;
/** Sockets the server (or the network) closed while we held them, by close code. */
let closed = 0;
const closeCodes: Record<string, number> = {};
let lastClose = '';
let closedBytes = 0;
/** Listeners for live ops (op latency scenarios): clientId:seq -> arrival (ms). */
let onOp: ((event: { version: number; clientId: string; seq: number }) => void) | null = null;

function wireBytes() {
  let total = closedBytes;
  for (const s of sockets) total += (s as unknown as { _socket?: { bytesRead: number } })._socket?.bytesRead ?? 0;
  return total;
}

function gqlClient(url: string, token: string): Client {
  const client = createClient({
    url,
    webSocketImpl: CountedWebSocket,
    connectionParams: { authToken: token },
    retryAttempts: 0,
    lazy: true,
    keepAlive: 0,
    onNonLazyError: () => {},
  });
  clients.push(client);
  return client;
}

/** Subscribes to dashboardEvents; resolves on SyncCompleted. */
function subscribe(client: Client, d: string, c: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.subscribe(
      { query: EVENTS, variables: { d, c, f: null } },
      {
        next(result) {
          messages++;
          const event = (result.data as { dashboardEvents?: Record<string, unknown> } | undefined)?.dashboardEvents;
          const type = event ? String(event.__typename) : result.errors ? 'error' : 'other';
          byType[type] = (byType[type] ?? 0) + 1;
          if (!samples[type] && type !== 'error')
            samples[type] = JSON.stringify({ id: 'x', type: 'next', payload: result });
          if (type === 'SyncCompleted') resolve();
          else if (type === 'OperationApplied' && onOp) onOp(event as never);
          if (result.errors) reject(new Error(JSON.stringify(result.errors)));
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => {},
      },
    );
  });
}

function request<T>(client: Client, query: string, variables: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    let data: T | undefined;
    client.subscribe(
      { query, variables },
      {
        next(result) {
          if (result.errors) reject(new Error(JSON.stringify(result.errors)));
          else data = result.data as T;
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => resolve(data as T),
      },
    );
  });
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

interface Sub {
  token: string;
  dashboardId: string;
  clientId: string;
}

interface TransportMessage {
  type: string;
  id?: string;
  payload?: {
    data?: { dashboardEvents?: { __typename?: string } } | null;
    errors?: unknown[];
  } & Record<string, unknown>;
}

/**
 * A minimal graphql-transport-ws client: connection_init with the token, subscribe on ack,
 * then one JSON.parse per frame (as the raw baseline sockets do) and a count per `next`.
 * Answers the server's `ping` messages. Resolves on SyncCompleted.
 */
function liteSubscribe(url: string, s: Sub): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new CountedWebSocket(url, 'graphql-transport-ws');
    lite.push(socket);
    let synced = false;
    const fail = (error: Error) => {
      if (synced) return;
      socket.terminate();
      reject(error);
    };
    socket.once('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authToken: s.token } })),
    );
    socket.on('message', (data) => {
      const text = String(data);
      const m = JSON.parse(text) as TransportMessage;
      switch (m.type) {
        case 'next': {
          messages++;
          const type = m.payload?.data?.dashboardEvents?.__typename ?? (m.payload?.errors ? 'error' : 'other');
          byType[type] = (byType[type] ?? 0) + 1;
          if (!samples[type] && type !== 'error') samples[type] = text;
          if (type === 'SyncCompleted') {
            synced = true;
            resolve();
          } else if (m.payload?.errors) fail(new Error(JSON.stringify(m.payload.errors).slice(0, 500)));
          break;
        }
        case 'connection_ack':
          socket.send(
            JSON.stringify({
              id: '1',
              type: 'subscribe',
              payload: { query: EVENTS, variables: { d: s.dashboardId, c: s.clientId, f: null } },
            }),
          );
          break;
        case 'ping':
          socket.send('{"type":"pong"}');
          break;
        case 'error':
          fail(new Error(`subscribe error: ${JSON.stringify(m.payload).slice(0, 500)}`));
          break;
        case 'complete':
          fail(new Error('subscription completed before SyncCompleted'));
          break;
      }
    });
    socket.once('error', (error) => fail(error));
    socket.once('close', (code, reason) => {
      if (!closing) {
        closed++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
        lastClose = `${code} ${String(reason)}`.slice(0, 200);
      }
      fail(new Error(`socket closed before SyncCompleted: ${code} ${String(reason)}`));
    });
  });
}

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
const loadStats = (l: Load) => ({
  offered: l.offered,
  issued: l.issued,
  skipped: l.skipped,
  ok: l.ok,
  failed: l.failed,
  aborted: l.aborted,
  lastError: l.lastError,
  cpu: process.cpuUsage(),
});

interface Editor extends Sub {
  widgetId: string;
}

const moveOp = (widgetId: string, x: number) => ['widgets', widgetId, 'x', { r: true, i: x }];

serveIpc({
  setDeflate({ on }: { on: boolean }) {
    deflateOffer = on;
    return true;
  },
  /** One graphql-ws socket and dashboardEvents subscription per entry. */
  async connectGql({ url, subs, concurrency = 50 }: { url: string; subs: Sub[]; concurrency?: number }) {
    await pool(subs, concurrency, async (s) => {
      await subscribe(gqlClient(url, s.token), s.dashboardId, s.clientId);
    });
    return { connected: subs.length };
  },
  /**
   * One minimal graphql-transport-ws socket and dashboardEvents subscription per entry (the
   * fan-out subscribers: the same per-message client work as connectRaw's sockets).
   */
  async connectLite({ url, subs, concurrency = 50 }: { url: string; subs: Sub[]; concurrency?: number }) {
    await pool(subs, concurrency, (s) => liteSubscribe(url, s));
    return { connected: subs.length };
  },
  /** Raw sockets on the baseline server; each message is parsed, as graphql-ws clients do. */
  async connectRaw({ url, n }: { url: string; n: number }) {
    await pool(Array.from({ length: n }), 100, async () => {
      const socket = new CountedWebSocket(url);
      socket.on('message', (data) => {
        messages++;
        JSON.parse(String(data));
      });
      raw.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
    });
    return { connected: n };
  },
  counts() {
    return {
      messages,
      byType,
      bytes: wireBytes(),
      cpu: process.cpuUsage(),
      samples,
      closed,
      closeCodes,
      lastClose,
      rss: process.memoryUsage.rss(),
    };
  },
  /**
   * Open loop: every sender offers a cursor move each `intervalMs` over HTTP (keep-alive),
   * whether or not the server answered the previous one, with at most `maxInFlight`
   * outstanding per sender (a tick beyond that is counted as skipped). Runs until stopLoad.
   */
  startLoad({
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
  },
  loadStats() {
    const l = load ?? lastLoad;
    if (!l) throw new Error('no load started');
    return loadStats(l);
  },
  async stopLoad() {
    if (!load) throw new Error('no load running');
    const l = load;
    await l.stop();
    load = null;
    lastLoad = l;
    return { ...loadStats(l), p50: percentile(l.latencies, 50), p99: percentile(l.latencies, 99) };
  },
  /**
   * Closed loop: each editor (subscribed on its own socket) submits its next op as soon as
   * the previous one is acked, for `durationMs` after `warmupMs`.
   */
  async editors({
    url,
    editors,
    durationMs,
    warmupMs,
  }: {
    url: string;
    editors: Editor[];
    durationMs: number;
    warmupMs: number;
  }) {
    const own = editors.map((e) => ({ e, client: gqlClient(url, e.token) }));
    await pool(own, 50, async ({ e, client }) => subscribe(client, e.dashboardId, e.clientId));
    const latencies: number[] = [];
    let committed = 0;
    let failed = 0;
    let lastError = '';
    const t0 = performance.now();
    const measureFrom = t0 + warmupMs;
    const deadline = measureFrom + durationMs;
    const before = process.cpuUsage();
    await Promise.all(
      own.map(async ({ e, client }) => {
        let seq = 0;
        let base = 0;
        while (performance.now() < deadline) {
          seq++;
          const started = performance.now();
          try {
            const data = await request<{ submitOperation: { version: number } }>(client, SUBMIT, {
              d: e.dashboardId,
              c: e.clientId,
              s: seq,
              b: base,
              op: moveOp(e.widgetId, seq),
            });
            const done = performance.now();
            base = data.submitOperation.version;
            if (started >= measureFrom && done <= deadline) {
              committed++;
              latencies.push(done - started);
            }
          } catch (error) {
            failed++;
            lastError = String((error as Error).message ?? error).slice(0, 300);
            await sleep(10);
          }
        }
      }),
    );
    return {
      committed,
      opsPerSec: committed / (durationMs / 1000),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      failed,
      lastError,
      clientCpu: process.cpuUsage(before),
    };
  },
  /**
   * Open loop at `rate` ops/s: editors submit on instance A (urlA); one subscriber on B
   * (already connected with connectGql) sees them; submit -> delivery latency.
   */
  async crossInstance({
    urlA,
    editors,
    rate,
    durationMs,
    warmupMs,
  }: {
    urlA: string;
    editors: Editor[];
    rate: number;
    durationMs: number;
    warmupMs: number;
  }) {
    const own = editors.map((e) => ({ e, client: gqlClient(urlA, e.token), seq: 0 }));
    await pool(own, 50, async ({ client }) => {
      await request(client, 'query { me { id } }', {}).catch(() => {});
    });
    const sentAt = new Map<string, number>();
    const delivery: number[] = [];
    const acks: number[] = [];
    let failed = 0;
    let lastError = '';
    let latestVersion = 0;
    const t0 = performance.now();
    const measureFrom = t0 + warmupMs;
    const deadline = measureFrom + durationMs;
    onOp = (event) => {
      latestVersion = Math.max(latestVersion, event.version);
      const key = `${event.clientId}:${event.seq}`;
      const at = sentAt.get(key);
      if (at === undefined) return;
      sentAt.delete(key);
      if (at >= measureFrom) delivery.push(performance.now() - at);
    };
    const perEditorMs = (1000 * own.length) / rate;
    const pending: Promise<void>[] = [];
    await Promise.all(
      own.map(async (o, i) => {
        await sleep((perEditorMs * i) / own.length);
        let next = performance.now();
        while (performance.now() < deadline) {
          const seq = ++o.seq;
          const started = performance.now();
          sentAt.set(`${o.e.clientId}:${seq}`, started);
          pending.push(
            request(o.client, SUBMIT, {
              d: o.e.dashboardId,
              c: o.e.clientId,
              s: seq,
              b: latestVersion,
              op: moveOp(o.e.widgetId, seq),
            }).then(
              () => {
                if (started >= measureFrom) acks.push(performance.now() - started);
              },
              (error) => {
                failed++;
                lastError = String((error as Error).message ?? error).slice(0, 300);
              },
            ),
          );
          next += perEditorMs;
          await sleep(Math.max(0, next - performance.now()));
        }
      }),
    );
    // Bounded: past its capacity the server falls behind; report that rather than wait on.
    let settled = 0;
    for (const p of pending) void p.finally(() => settled++);
    await Promise.race([Promise.allSettled(pending), sleep(10_000)]);
    await sleep(500);
    onOp = null;
    return {
      sent: acks.length,
      delivered: delivery.length,
      lost: sentAt.size,
      unackedAfterWindow: pending.length - settled,
      rate: acks.length / (durationMs / 1000),
      p50: percentile(delivery, 50),
      p99: percentile(delivery, 99),
      ackP50: percentile(acks, 50),
      ackP99: percentile(acks, 99),
      failed,
      lastError,
    };
  },
  async closeAll() {
    closing = true;
    await load?.stop();
    load = null;
    await Promise.all(clients.map((c) => c.dispose()));
    for (const s of raw) s.terminate();
    for (const s of lite) s.terminate();
    clients = [];
    raw = [];
    lite = [];
    await sleep(50);
    closedBytes = wireBytes();
    for (const s of sockets) s.terminate();
    sockets.clear();
    messages = 0;
    for (const k of Object.keys(byType)) delete byType[k];
    closed = 0;
    for (const k of Object.keys(closeCodes)) delete closeCodes[k];
    lastClose = '';
    closing = false;
    return true;
  },
  usage() {
    return { cpu: process.cpuUsage(), rss: process.memoryUsage().rss };
  },
});
