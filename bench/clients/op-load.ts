/**
 * Op load from real graphql-ws editors: a closed loop (each editor submits its next op as
 * soon as the previous one is acked: op throughput) and an open loop at a fixed rate on
 * one instance, timed to delivery on another (cross-instance latency). Each op moves the
 * editor's own widget sideways.
 */
import { percentile, sleep } from '../lib.js';
import { gqlClient, request, setOpListener, subscribe, type Sub } from './graphql-ws.js';
import { pool } from './tally.js';

const SUBMIT = `mutation($d: ID!, $c: ID!, $s: Int!, $b: Int!, $op: JSON!) {
  submitOperation(dashboardId: $d, clientId: $c, seq: $s, baseVersion: $b, op: $op) { version duplicate }
}`;

export interface Editor extends Sub {
  widgetId: string;
}

const moveOp = (widgetId: string, x: number) => ['widgets', widgetId, 'x', { r: true, i: x }];

/** Submits `editor`'s op number `seq` on `base` over `client`. */
const submit = <T>(client: ReturnType<typeof gqlClient>, e: Editor, seq: number, base: number) =>
  request<T>(client, SUBMIT, { d: e.dashboardId, c: e.clientId, s: seq, b: base, op: moveOp(e.widgetId, seq) });

/**
 * Closed loop: each editor (subscribed on its own socket) submits its next op as soon as
 * the previous one is acked, for `durationMs` after `warmupMs`.
 */
export async function closedLoopEditors({
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
          const data = await submit<{ submitOperation: { version: number } }>(client, e, seq, base);
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
}

/**
 * Open loop at `rate` ops/s: editors submit on instance A (urlA); one subscriber on B
 * (already connected with connectGql) sees them; submit -> delivery latency.
 */
export async function crossInstanceLoad({
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
  setOpListener((event) => {
    latestVersion = Math.max(latestVersion, event.version);
    const key = `${event.clientId}:${event.seq}`;
    const at = sentAt.get(key);
    if (at === undefined) return;
    sentAt.delete(key);
    if (at >= measureFrom) delivery.push(performance.now() - at);
  });
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
          submit(o.client, o.e, seq, latestVersion).then(
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
  setOpListener(null);
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
}
