/**
 * A child process holding the benchmark's client sockets (real graphql-ws clients, or raw
 * `ws` sockets for the baselines), so the server process is measured alone. Driven over
 * IPC by bench/run.ts; reports counts, bytes on the wire and latencies.
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
    return { messages, byType, bytes: wireBytes(), cpu: process.cpuUsage(), samples };
  },
  /** Senders move their cursor every `intervalMs` over HTTP for `durationMs`. */
  async presenceLoad({
    url,
    senders,
    intervalMs,
    durationMs,
  }: {
    url: string;
    senders: Sub[];
    intervalMs: number;
    durationMs: number;
  }) {
    let sent = 0;
    let failed = 0;
    let lastError = '';
    const deadline = performance.now() + durationMs;
    await Promise.all(
      senders.map(async (s, i) => {
        await sleep((intervalMs * i) / senders.length);
        let x = 0;
        while (performance.now() < deadline) {
          const started = performance.now();
          try {
            const res = await fetch(`${url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` },
              body: JSON.stringify({
                query: PRESENCE,
                variables: { d: s.dashboardId, c: s.clientId, cur: { x: x++ % 100, y: i } },
              }),
            });
            const body = (await res.json()) as { errors?: unknown[] };
            if (body.errors) {
              failed++;
              lastError = JSON.stringify(body.errors).slice(0, 300);
            } else sent++;
          } catch (error) {
            failed++;
            lastError = String(error);
          }
          await sleep(Math.max(0, intervalMs - (performance.now() - started)));
        }
      }),
    );
    return { sent, failed, lastError };
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
    await Promise.allSettled(pending);
    await sleep(500);
    onOp = null;
    return {
      sent: acks.length,
      delivered: delivery.length,
      lost: sentAt.size,
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
    await Promise.all(clients.map((c) => c.dispose()));
    for (const s of raw) s.terminate();
    clients = [];
    raw = [];
    await sleep(50);
    closedBytes = wireBytes();
    for (const s of sockets) s.terminate();
    sockets.clear();
    messages = 0;
    for (const k of Object.keys(byType)) delete byType[k];
    return true;
  },
  usage() {
    return { cpu: process.cpuUsage(), rss: process.memoryUsage().rss };
  },
});
