/**
 * Live series (rule LD3) against real servers: seriesUpdates over graphql-ws, two instances on
 * one backend (PGlite + the in-memory bus, or PostgreSQL + Redis when CI sets them), pushes on
 * either instance, a bus that loses hints, access lost mid-stream.
 */
import type { Client } from 'graphql-ws';
import type { EventBus } from '../src/ports/event-bus.js';
import { filteringBus } from './helpers/filtering-bus.js';
import {
  createBackend,
  createDashboard,
  signUp,
  startApp,
  subscribeLog,
  type Backend,
  type EventLog,
  type TestApp,
} from './helpers/harness.js';
import { waitFor } from './helpers/wait.js';

const PUSH = `mutation($d: ID!, $p: [PointInput!]!) { pushPoints(dashboardId: $d, points: $p) { accepted } }`;
const UPDATES = `subscription($d: ID!, $m: [SeriesMatch!]!, $since: Float, $after: String) {
  seriesUpdates(dashboardId: $d, match: $m, since: $since, after: $after) {
    __typename
    ... on SeriesBatch { cursor error series { series { name labels } points } }
    ... on AccessRevoked { dashboardId reason }
  }
}`;
/** Small enough that tests run quickly, large enough to see batches coalesce. */
const BATCH_MS = 150;

let backend: Backend;
let a: TestApp;
let b: TestApp;
let owner: Awaited<ReturnType<typeof signUp>>;
const now = Date.now();

beforeAll(async () => {
  backend = await createBackend();
  const config = { series: { retentionMs: 7 * 86_400_000, maxPerDashboard: 10_000, batchMs: BATCH_MS } };
  [a, b] = [await startApp(backend, { config }), await startApp(backend, { config })];
  owner = await signUp(a, 'Owner');
});

type Batch = { __typename: 'SeriesBatch'; cursor: string; error: null; series: SeriesData[] };
type SeriesData = { series: { name: string; labels: Record<string, string> }; points: Array<[number, number]> };

const push = (app: TestApp, d: string, points: Array<{ series: string; labels?: object; t: number; v: number }>) =>
  app.ok(PUSH, { d, p: points }, owner.token);

const watch = (client: Client, variables: { d: string; m: object[]; since?: number; after?: string }) =>
  subscribeLog(client, UPDATES, variables, 'seriesUpdates');

/** Every point delivered so far, per series name+labels, in delivery order. */
function received(log: EventLog): Record<string, Array<[number, number]>> {
  const out: Record<string, Array<[number, number]>> = {};
  for (const event of log.events as Batch[]) {
    if (event.__typename !== 'SeriesBatch') continue;
    for (const s of event.series) {
      const key = `${s.series.name}${JSON.stringify(s.series.labels)}`;
      (out[key] ??= []).push(...s.points);
    }
  }
  return out;
}

const pointCount = (log: EventLog) => Object.values(received(log)).reduce((n, p) => n + p.length, 0);

describe('[LD3] seriesUpdates', () => {
  it('[LD3] a point pushed on one instance reaches a subscriber on the other; a series created later that matches is included; others are not', async () => {
    const d = await createDashboard(a, owner.token, 'live');
    const log = watch(b.wsClient(owner.token), {
      d,
      m: [{ name: 'cpu', labels: { host: 'a' } }, { name: 'mem' }],
      since: 0,
    });
    await log.until(() => log.events.length >= 1); // the opening batch: nothing stored yet
    expect(log.events[0]).toMatchObject({ __typename: 'SeriesBatch', series: [] });
    await push(a, d, [
      { series: 'cpu', labels: { host: 'a' }, t: now, v: 1 },
      { series: 'cpu', labels: { host: 'b' }, t: now, v: 2 }, // no match: another host
      { series: 'disk', t: now, v: 3 }, // no match: another name
    ]);
    await log.until(() => pointCount(log) >= 1);
    await push(a, d, [{ series: 'mem', labels: { kind: 'rss' }, t: now + 1000, v: 4 }]); // new series, matches
    await log.until(() => pointCount(log) >= 2);
    expect(received(log)).toEqual({ 'cpu{"host":"a"}': [[now, 1]], 'mem{"kind":"rss"}': [[now + 1000, 4]] });
    const batches = log.events as Batch[];
    expect(batches.every((e) => e.__typename === 'SeriesBatch' && e.error === null && e.cursor.length > 0)).toBe(true);
    log.dispose();
  });

  it('[LD3] with since, the first batch holds the stored points with t > since, then live ones follow with no gap and no duplicate at the seam', async () => {
    const d = await createDashboard(a, owner.token, 'seam');
    await push(a, d, [
      { series: 'rps', t: now - 60_000, v: 0 },
      { series: 'rps', t: now - 30_000, v: 1 },
    ]);
    // A writer keeps pushing while the subscriber opens: whatever lands at the seam must
    // arrive exactly once.
    let stop = false;
    let written = 2;
    const writer = (async () => {
      for (let i = 0; !stop && i < 200; i++) {
        await push(i % 2 ? a : b, d, [{ series: 'rps', t: now + i, v: 10 + i }]);
        written++;
      }
    })();
    const log = watch(b.wsClient(owner.token), { d, m: [{ name: 'rps' }], since: now - 45_000 });
    await log.until(() => log.events.length >= 1);
    const first = (log.events[0] as Batch).series[0]!.points;
    expect(first[0]).toEqual([now - 30_000, 1]); // t > since only
    await log.until(() => pointCount(log) >= 5);
    stop = true;
    await writer;
    await log.until(() => pointCount(log) === written - 1);
    const points = received(log)['rps{}']!;
    const ts = points.map(([t]) => t);
    expect(new Set(ts).size).toBe(ts.length); // no duplicate
    expect(ts.slice(1).sort((x, y) => x - y)).toEqual(Array.from({ length: written - 2 }, (_, i) => now + i)); // no gap
    log.dispose();
  });

  it('[LD3] after: cursor resumes with exactly the points written since, late and out-of-order ones included', async () => {
    const d = await createDashboard(a, owner.token, 'resume');
    const log = watch(a.wsClient(owner.token), { d, m: [{ name: 'temp' }], since: 0 });
    await log.until(() => log.events.length >= 1);
    await push(a, d, [{ series: 'temp', t: now, v: 20 }]);
    await log.until(() => pointCount(log) >= 1);
    const cursor = (log.events.at(-1) as Batch).cursor;
    log.dispose();
    // While away: a newer point, a backfill far in the past, and a replaced value.
    await push(b, d, [{ series: 'temp', t: now + 5000, v: 21 }]);
    await push(b, d, [{ series: 'temp', t: now - 3_600_000, v: 15 }]);
    await push(a, d, [{ series: 'temp', t: now, v: 20.5 }]);
    const again = watch(b.wsClient(owner.token), { d, m: [{ name: 'temp' }], after: cursor });
    await again.until(() => pointCount(again) >= 3);
    expect(received(again)).toEqual({
      'temp{}': [
        [now - 3_600_000, 15],
        [now, 20.5],
        [now + 5000, 21],
      ],
    });
    // Live batches follow the resumed one.
    await push(a, d, [{ series: 'temp', t: now + 9000, v: 22 }]);
    await again.until(() => pointCount(again) >= 4);
    expect(received(again)['temp{}']!.at(-1)).toEqual([now + 9000, 22]);
    again.dispose();
  });

  it('[LD3] batches coalesce writes: at most one per SERIES_BATCH_MS per subscription, none when nothing changed, nothing lost', async () => {
    const d = await createDashboard(a, owner.token, 'pace');
    const log = watch(a.wsClient(owner.token), { d, m: [{ name: 'q' }], since: now });
    await log.until(() => log.events.length >= 1);
    const seen = log.events.length;
    const writes = 30;
    for (let i = 0; i < writes; i++) await push(i % 2 ? a : b, d, [{ series: 'q', t: now + 1 + i, v: i }]);
    await log.until(() => pointCount(log) === writes);
    // Thirty writes arrive in fewer batches than writes; spacing is checked on the server's
    // side by the count: a stream gets at most one batch per BATCH_MS while writes flow.
    const live = log.events.length - seen;
    expect(live).toBeLessThan(writes);
    expect(received(log)['q{}']!.map(([, v]) => v)).toEqual(Array.from({ length: writes }, (_, i) => i));
    // Writes to series it does not match give it nothing.
    await push(a, d, [{ series: 'other', t: now, v: 1 }]);
    await push(a, d, [{ series: 'q', t: now + 100, v: 99 }]);
    await log.until(() => pointCount(log) === writes + 1);
    expect(log.events.length).toBe(seen + live + 1);
    log.dispose();
  });

  it('[LD3] the work of a batch is done once per distinct match list per instance: ten subscribers share one group and one batch', async () => {
    const d = await createDashboard(a, owner.token, 'share');
    const before = b.app.services!.seriesFeed.groupCount();
    const logs = Array.from({ length: 10 }, (_, i) =>
      watch(b.wsClient(owner.token), { d, m: i < 8 ? [{ name: 'x' }] : [{ name: 'x' }, { name: 'y' }], since: 0 }),
    );
    await Promise.all(logs.map((log) => log.until(() => log.events.length >= 1)));
    await push(a, d, [
      { series: 'x', t: now, v: 1 },
      { series: 'y', t: now, v: 2 },
    ]);
    await Promise.all(logs.map((log, i) => log.until(() => pointCount(log) === (i < 8 ? 1 : 2))));
    const cursors = new Set(logs.map((log) => (log.events.at(-1) as Batch).cursor));
    expect(cursors.size).toBe(1); // one read, one batch, handed to all
    expect(b.app.services!.seriesFeed.groupCount()).toBe(before + 2);
    for (const log of logs) log.dispose();
    await waitForGroups(b, before);
  });

  it('[LD3][AU1] a member removed mid-stream gets AccessRevoked and the stream completes; a deleted dashboard says so', async () => {
    const member = await signUp(a, 'Member');
    const d = await createDashboard(a, owner.token, 'revoke');
    await a.ok(
      `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: VIEWER) { role } }`,
      { d, e: member.email },
      owner.token,
    );
    const log = subscribeLog(b.wsClient(member.token), UPDATES, { d, m: [{ name: 'x' }], since: 0 }, 'seriesUpdates');
    await log.until(() => log.events.length >= 1);
    await a.ok(
      `mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }`,
      { d, u: member.userId },
      owner.token,
    );
    await log.until(() => log.completed);
    expect(log.events.at(-1)).toEqual({ __typename: 'AccessRevoked', dashboardId: d, reason: 'REMOVED' });

    const gone = watch(b.wsClient(owner.token), { d, m: [{ name: 'x' }], since: 0 });
    await gone.until(() => gone.events.length >= 1);
    await a.ok(`mutation($d: ID!) { deleteDashboard(id: $d) }`, { d }, owner.token);
    await gone.until(() => gone.completed);
    expect(gone.events.at(-1)).toEqual({ __typename: 'AccessRevoked', dashboardId: d, reason: 'DASHBOARD_DELETED' });
  });

  it('[LD3] refuses a stranger (NOT_FOUND), a cursor it never gave out, since with after, an empty match list', async () => {
    const stranger = await signUp(a, 'Stranger');
    const d = await createDashboard(a, owner.token, 'refusals');
    const codeOf = async (token: string, variables: Record<string, unknown>) => {
      const log = subscribeLog(a.wsClient(token), UPDATES, { d, m: [{ name: 'x' }], ...variables }, 'seriesUpdates');
      await log.until(() => log.errors.length > 0 || log.completed).catch(() => {});
      return (log.errors[0] as { extensions?: { code?: string } } | undefined)?.extensions?.code;
    };
    expect(await codeOf(stranger.token, {})).toBe('NOT_FOUND');
    expect(await codeOf(owner.token, { after: 'not-a-cursor' })).toBe('BAD_USER_INPUT');
    expect(await codeOf(owner.token, { after: Buffer.from('p1:999').toString('base64url') })).toBe('BAD_USER_INPUT');
    expect(await codeOf(owner.token, { since: 0, after: Buffer.from('p1:0').toString('base64url') })).toBe(
      'BAD_USER_INPUT',
    );
    expect(await codeOf(owner.token, { m: [] })).toBe('BAD_USER_INPUT');
    expect(await codeOf(owner.token, { m: [{ name: 'x', labels: { a: 1 } }] })).toBe('BAD_USER_INPUT');
  });
});

describe('[LD3] over SSE', () => {
  it('[LD3] an integrator without WebSockets follows seriesUpdates as server-sent events', async () => {
    const d = await createDashboard(a, owner.token, 'sse');
    const controller = new AbortController();
    const res = await fetch(`${b.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${owner.token}`,
      },
      body: JSON.stringify({ query: UPDATES, variables: { d, m: [{ name: 'sse' }], since: 0 } }),
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const batches: Batch[] = [];
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    /** Reads events until `n` batches have arrived. */
    const until = async (n: number) => {
      while (batches.length < n) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the event stream ended');
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const data = /^data: (.*)$/m.exec(buffer.slice(0, cut))?.[1];
          buffer = buffer.slice(cut + 2);
          if (data) batches.push((JSON.parse(data) as { data: { seriesUpdates: Batch } }).data.seriesUpdates);
        }
      }
    };
    await until(1); // the opening batch: nothing stored yet
    expect(batches[0]).toMatchObject({ __typename: 'SeriesBatch', series: [] });
    await push(a, d, [{ series: 'sse', t: now, v: 5 }]);
    await until(2);
    expect(batches[1]!.series).toEqual([{ series: { name: 'sse', labels: {} }, points: [[now, 5]] }]);
    controller.abort();
    await reader.cancel().catch(() => {});
  });
});

describe('[LD3] metrics', () => {
  it('[LD3] /metrics shows the series stored, the batches delivered and the live streams', async () => {
    const metric = async (name: string) => {
      const text = await (await fetch(`${b.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    const d = await createDashboard(a, owner.token, 'metrics');
    const batchesBefore = (await metric('dash_series_batches_total')) ?? 0;
    const log = watch(b.wsClient(owner.token), { d, m: [{ name: 'm' }], since: 0 });
    await log.until(() => log.events.length >= 1);
    // Streams of earlier tests may still be closing: until only this one is live.
    await waitFor(async () => (await metric('dash_series_subscriptions')) === 1 || undefined);
    await push(a, d, [
      { series: 'm', labels: { k: '1' }, t: now, v: 1 },
      { series: 'm', labels: { k: '2' }, t: now, v: 1 },
    ]);
    await log.until(() => pointCount(log) === 2);
    expect(await metric('dash_series_batches_total')).toBeGreaterThanOrEqual(batchesBefore + 2);
    // Other test files may write series to the same database meanwhile: at least ours.
    expect(await metric('dash_series')).toBeGreaterThanOrEqual(2);
    log.dispose();
    await waitFor(async () => (await metric('dash_series_subscriptions')) === 0 || undefined);
  });
});

describe('[LD3][SUB2] the bus is a hint', () => {
  /** An instance whose bus loses every points hint, with a reconnect the test fires. */
  async function deafInstance(options: { recheckIntervalMs: number }) {
    const reconnects = new Set<() => void>();
    const bus: EventBus = filteringBus(backend.newBus(), {
      drop: (message) => message.type === 'points',
      onReconnect: (callback) => {
        reconnects.add(callback);
        return () => reconnects.delete(callback);
      },
    });
    const app = await startApp(backend, {
      bus,
      config: {
        recheckIntervalMs: options.recheckIntervalMs,
        series: { retentionMs: 7 * 86_400_000, maxPerDashboard: 10_000, batchMs: BATCH_MS },
      },
    });
    return { app, reconnect: () => reconnects.forEach((callback) => callback()) };
  }

  it('[LD3] after the bus reconnects, a stream re-reads what it missed from the database', async () => {
    const deaf = await deafInstance({ recheckIntervalMs: 0 });
    const d = await createDashboard(a, owner.token, 'reconnect');
    const log = watch(deaf.app.wsClient(owner.token), { d, m: [{ name: 'x' }], since: 0 });
    await log.until(() => log.events.length >= 1);
    const control = watch(b.wsClient(owner.token), { d, m: [{ name: 'x' }], since: 0 });
    await control.until(() => control.events.length >= 1);
    await push(a, d, [{ series: 'x', t: now, v: 1 }]);
    // The hint was lost: a healthy instance has the point, the deaf one nothing, until its
    // bus says it may have missed messages.
    await control.until(() => pointCount(control) === 1);
    expect(pointCount(log)).toBe(0);
    deaf.reconnect();
    await log.until(() => pointCount(log) === 1);
    expect(received(log)).toEqual({ 'x{}': [[now, 1]] });
    await deaf.app.stop();
  });

  it('[LD3] the periodic re-check delivers a lost hint without any reconnect', async () => {
    const deaf = await deafInstance({ recheckIntervalMs: 100 });
    const d = await createDashboard(a, owner.token, 'recheck');
    const log = watch(deaf.app.wsClient(owner.token), { d, m: [{ name: 'x' }], since: 0 });
    await log.until(() => log.events.length >= 1);
    await push(a, d, [{ series: 'x', t: now, v: 7 }]);
    await log.until(() => pointCount(log) === 1);
    expect(received(log)).toEqual({ 'x{}': [[now, 7]] });
    await deaf.app.stop();
  });
});

/** Waits until the instance holds `n` series groups (streams joined, or all left). */
async function waitForGroups(app: TestApp, n: number) {
  await waitFor(() => app.app.services!.seriesFeed.groupCount() === n || undefined);
}
