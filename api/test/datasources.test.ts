/**
 * Pulled data sources (rule LD5) against a real Prometheus (Debian's package, started by the
 * test on a free port, scraping these servers' own /metrics): `datasources`, `queryData`, and
 * `queryUpdates` evaluated once per step for every watcher across two instances, the lease
 * moving when the evaluating instance dies, upstream outages reported in SeriesBatch.error,
 * and no way for a request or a document to make the server fetch a URL not configured.
 *
 * Both backends: PGlite with the memory bus and leases in the database, or PostgreSQL with
 * Redis (bus and leases). With DATABASE_URL the evaluating instance is also a child process
 * killed with SIGKILL.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  createBackend,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  SUBMIT,
  subscribeLog,
  type Backend,
  type EventLog,
  type TestApp,
} from './helpers/harness.js';
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import { startChildApp } from './helpers/child-app.js';
import { describeWhen } from './helpers/skip.js';
import { waitFor } from './helpers/wait.js';
import { HAS_PROMETHEUS, NEEDS_PROMETHEUS, preparePrometheus } from './helpers/prometheus.js';
import { createRedisLeaseStore } from '../src/adapters/redis-lease-store.js';
import type { LeaseStore } from '../src/ports/lease-store.js';

const UPDATES = `subscription($d: ID!, $e: String!, $s: Int!, $since: Float, $ds: String!) {
  queryUpdates(dashboardId: $d, datasource: $ds, expr: $e, step: $s, since: $since) {
    __typename
    ... on SeriesBatch { cursor error series { series { id name labels } points } }
    ... on AccessRevoked { dashboardId reason }
  }
}`;
const QUERY = `query($d: ID!, $ds: String!, $e: String!, $f: Float!, $to: Float, $s: Int!) {
  dashboard(id: $d) { queryData(datasource: $ds, expr: $e, from: $f, to: $to, step: $s) { series { id name labels } points } }
}`;

interface Batch {
  __typename: 'SeriesBatch';
  cursor: string;
  error: string | null;
  series: Array<{
    series: { id: string; name: string; labels: Record<string, string> };
    points: Array<[number, number]>;
  }>;
}

/** A unique expression per test (the key of a live query), with one series whose value is 2. */
const uniqueExpr = () => `count(up) + 0 * ${Math.floor(Math.random() * 1e9)}`;

/** The evaluation times a log received for its one series, in order of arrival. */
const timesOf = (log: EventLog) => (log.events as Batch[]).flatMap((b) => (b.series[0]?.points ?? []).map(([t]) => t));

/** Every step once, in order: no gap, no duplicate. */
function expectContiguous(times: number[], step: number) {
  expect(times.length).toBeGreaterThan(1);
  const jumps = times.slice(1).map((t, i) => t - times[i]!);
  expect(jumps.filter((j) => j !== step)).toEqual([]);
}

/** A lease store that can be made to hang, as an instance that stopped (a crash, a stalled loop). */
function freezable(inner: LeaseStore) {
  let frozen = false;
  const never = new Promise<never>(() => {});
  return {
    freeze: () => (frozen = true),
    store: {
      acquireLease: (name, holder, ttl) => (frozen ? never : inner.acquireLease(name, holder, ttl)),
      releaseLease: (name, holder) => (frozen ? never : inner.releaseLease(name, holder)),
    } satisfies LeaseStore,
  };
}

describeWhen(HAS_PROMETHEUS, NEEDS_PROMETHEUS)('[LD5] data sources: a real Prometheus', () => {
  let backend: Backend;
  let a: TestApp;
  let b: TestApp;
  let prom: Awaited<ReturnType<typeof preparePrometheus>>;
  let env: Record<string, string>;
  let owner: { token: string; userId: string; email: string };
  let board: string;
  let canary: Server;
  const canaryPaths: string[] = [];
  let canaryUrl = '';

  beforeAll(async () => {
    canary = createServer((req, res) => {
      canaryPaths.push(req.url ?? '');
      // Were the redirect followed, this server would count a second request.
      res.writeHead(302, { location: `${canaryUrl}/followed` }).end();
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}`;
    prom = await preparePrometheus();
    env = {
      DATASOURCES: JSON.stringify({
        prom: { type: 'prometheus', url: prom.url, timeout: 2000 },
        // A configured upstream that redirects elsewhere: the server must not follow.
        bouncer: { type: 'prometheus', url: canaryUrl },
      }),
    };
    backend = await createBackend();
    [a, b] = [await startApp(backend, { env }), await startApp(backend, { env })];
    await prom.scrape([new URL(a.url).host, new URL(b.url).host]);
    await prom.start();
    owner = await signUp(a, 'Owner');
    board = await createDashboard(a, owner.token, 'Incident');
    // Prometheus has scraped both instances at least twice.
    await waitFor(
      async () => {
        const data = await a.ok(QUERY, { d: board, ds: 'prom', e: 'up', f: Date.now() - 10_000, s: 1000 }, owner.token);
        const series = data.dashboard.queryData as Batch['series'];
        return series.length === 2 && series.every((s) => s.points.length >= 8);
      },
      { timeout: 30_000, interval: 250, description: 'Prometheus to scrape both instances' },
    );
  }, 60_000);

  afterAll(async () => {
    await new Promise((resolve) => canary.close(resolve));
  });

  it('[LD5] datasources shows names and types only, to signed-in users; metric names complete an expression', async () => {
    const result = await a.gql(
      `{ datasources { name type metricNames(search: "PROCESS_cpu_SECONDS", first: 5) } }`,
      {},
      owner.token,
    );
    // One source that cannot answer does not take the others' completions with it.
    expect(result.data!.datasources).toEqual([
      { name: 'prom', type: 'prometheus', metricNames: ['process_cpu_seconds_total'] },
      { name: 'bouncer', type: 'prometheus', metricNames: null },
    ]);
    expect(result.errors).toEqual([
      expect.objectContaining({
        path: ['datasources', 1, 'metricNames'],
        extensions: expect.objectContaining({ code: 'UNAVAILABLE' }),
      }),
    ]);
    const one = await a.ok(
      `{ prom: datasource(name: "prom") { type metricNames(search: "process_cpu_seconds") } none: datasource(name: "x") { name } }`,
      {},
      owner.token,
    );
    expect(one).toEqual({ prom: { type: 'prometheus', metricNames: ['process_cpu_seconds_total'] }, none: null });
    const raw = JSON.stringify(await a.gql(`{ datasources { name type } }`, {}, owner.token));
    expect(raw).not.toContain(prom.url);
    expect(raw).not.toContain(canaryUrl);
    expect(errorCode(await a.gql(`{ datasources { name } }`))).toBe('UNAUTHENTICATED');
  });

  it('[LD5] queryData: series named by __name__ (or the expression), stable ids, points at multiples of step', async () => {
    const to = Math.floor(Date.now() / 1000) * 1000 - 1000;
    const vars = { d: board, ds: 'prom', f: to - 4000, to, s: 1000 };
    const up = (await a.ok(QUERY, { ...vars, e: 'up' }, owner.token)).dashboard.queryData as Batch['series'];
    expect(up.map((s) => s.series.name)).toEqual(['up', 'up']);
    expect(up.map((s) => s.series.labels.instance).sort()).toEqual([new URL(a.url).host, new URL(b.url).host].sort());
    expect(up[0]!.points.map(([t]) => t)).toEqual([to - 4000, to - 3000, to - 2000, to - 1000, to]);
    expect(up[0]!.points.every(([, v]) => v === 1)).toBe(true);
    const again = (await b.ok(QUERY, { ...vars, e: 'up' }, owner.token)).dashboard.queryData as Batch['series'];
    expect(new Set(again.map((s) => s.series.id))).toEqual(new Set(up.map((s) => s.series.id)));
    const sum = (await a.ok(QUERY, { ...vars, e: 'sum(up)' }, owner.token)).dashboard.queryData as Batch['series'];
    expect(sum).toEqual([
      expect.objectContaining({ series: expect.objectContaining({ name: 'sum(up)', labels: {} }) }),
    ]);
    expect(sum[0]!.points.at(-1)).toEqual([to, 2]);
  });

  it('[LD5] refusals: bad PromQL with the upstream message, unknown source, bad step, too many points, strangers', async () => {
    const vars = { d: board, ds: 'prom', e: 'up', f: Date.now() - 60_000, s: 1000 };
    const syntax = await a.gql(QUERY, { ...vars, e: 'sum(up' }, owner.token);
    expect(errorCode(syntax)).toBe('BAD_USER_INPUT');
    expect(syntax.errors![0]!.message).toMatch(/^prom: .*parse error/);
    expect(errorCode(await a.gql(QUERY, { ...vars, ds: 'nope' }, owner.token))).toBe('BAD_USER_INPUT');
    expect(errorCode(await a.gql(QUERY, { ...vars, s: 500 }, owner.token))).toBe('BAD_USER_INPUT');
    expect(errorCode(await a.gql(QUERY, { ...vars, f: Date.now() - 20_000_000 }, owner.token))).toBe('BAD_USER_INPUT');
    const stranger = await signUp(a, 'Stranger');
    expect(await a.gql(QUERY, vars, stranger.token)).toEqual({ data: { dashboard: null } }); // AC1: as if absent
    const live = subscribeLog(
      a.wsClient(stranger.token),
      UPDATES,
      { d: board, ds: 'prom', e: 'up', s: 1000 },
      'queryUpdates',
    );
    await live.until(() => live.errors.length > 0);
    expect((live.errors[0] as { extensions?: { code?: string } }).extensions?.code).toBe('NOT_FOUND');
    const bad = subscribeLog(
      a.wsClient(owner.token),
      UPDATES,
      { d: board, ds: 'prom', e: 'rate(up', s: 1000 },
      'queryUpdates',
    );
    await bad.until(() => bad.errors.length > 0);
    expect((bad.errors[0] as { extensions?: { code?: string } }).extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('[LD5] no request or document reaches a URL that is not configured', async () => {
    canaryPaths.length = 0;
    const url = `${canaryUrl}/api/v1/query_range`;
    const vars = { d: board, f: Date.now() - 10_000, s: 1000 };
    // A URL as the data source's name, in the expression, in a widget's stored source.
    expect(errorCode(await a.gql(QUERY, { ...vars, ds: canaryUrl, e: 'up' }, owner.token))).toBe('BAD_USER_INPUT');
    expect(errorCode(await a.gql(QUERY, { ...vars, ds: url, e: 'up' }, owner.token))).toBe('BAD_USER_INPUT');
    const inExpr = await a.gql(QUERY, { ...vars, ds: 'prom', e: `up{instance="${url}"} or ${url}` }, owner.token);
    expect(errorCode(inExpr)).toBe('BAD_USER_INPUT'); // Prometheus's parse error: it was only ever PromQL
    const widget = newWidget('chart', { id: 'ssrf', config: { source: { datasource: url, expr: 'up', step: 1000 } } });
    const { version } = (await a.ok(`query($d: ID!) { dashboard(id: $d) { version } }`, { d: board }, owner.token))
      .dashboard;
    const doc = createDocument('Incident');
    await a.ok(
      SUBMIT,
      { d: board, c: `ssrf-${randomUUID()}`, s: 1, b: version, op: addWidget(doc, widget) },
      owner.token,
    );
    const live = subscribeLog(
      a.wsClient(owner.token),
      UPDATES,
      { d: board, ds: url, e: 'up', s: 1000 },
      'queryUpdates',
    );
    await live.until(() => live.errors.length > 0);
    // A configured upstream that answers with a redirect is not followed.
    const bounced = await a.gql(QUERY, { ...vars, ds: 'bouncer', e: 'up' }, owner.token);
    expect(errorCode(bounced)).toBe('UNAVAILABLE');
    // Only the configured URL's fixed path; never where it pointed, nothing named in a request.
    expect(new Set(canaryPaths)).toEqual(new Set(['/api/v1/query_range']));
  });

  it('[LD5] 50 watchers on two instances: one upstream evaluation per step, every watcher every step', async () => {
    const e = uniqueExpr();
    const step = 1000;
    const logs: EventLog[] = [];
    for (let i = 0; i < 50; i++) {
      const app = i % 2 === 0 ? a : b;
      logs.push(subscribeLog(app.wsClient(owner.token), UPDATES, { d: board, ds: 'prom', e, s: step }, 'queryUpdates'));
    }
    await Promise.all(logs.map((log) => log.until((events) => events.length >= 1, 15_000)));
    const before = await prom.queryRequests();
    const first = timesOf(logs[0]!).at(-1)!;
    await logs[0]!.until(() => (timesOf(logs[0]!).at(-1) ?? 0) >= first + 6 * step, 15_000);
    const after = await prom.queryRequests();
    const last = timesOf(logs[0]!).at(-1)!;
    const steps = (last - first) / step;
    // About one request per step (the measured span is bounded by the two reads), not fifty.
    expect(after - before).toBeGreaterThanOrEqual(steps - 1);
    expect(after - before).toBeLessThanOrEqual(steps + 2);
    expect(a.app.services.queryFeed.holdingCount() + b.app.services.queryFeed.holdingCount()).toBe(1);
    // Every watcher got every step, with the value Prometheus computed.
    await Promise.all(logs.map((log) => log.until(() => (timesOf(log).at(-1) ?? 0) >= last, 5000)));
    for (const log of logs) {
      const times = timesOf(log).filter((t) => t <= last);
      expectContiguous(times, step);
      expect((log.events as Batch[]).every((batch) => batch.error === null)).toBe(true);
      expect((log.events[0] as Batch).series[0]!.points[0]![1]).toBe(2);
    }
    for (const log of logs) log.dispose();
    // Nobody watching: the groups close, the lease is given up, nothing is evaluated.
    await waitFor(() => a.app.services.queryFeed.groupCount() + b.app.services.queryFeed.groupCount() === 0, {
      timeout: 5000,
    });
    const idle = await prom.queryRequests();
    const probe = subscribeLog(
      a.wsClient(owner.token),
      UPDATES,
      { d: board, ds: 'prom', e: 'sum(up)', s: step },
      'queryUpdates',
    );
    await probe.until((events) => events.length >= 3, 10_000); // three steps pass: time for a stray tick
    probe.dispose();
    // The probe's own check and evaluations only (about one per step); the 50-watcher key none.
    expect((await prom.queryRequests()) - idle).toBeLessThanOrEqual(3 + 2);
  }, 60_000);

  it('[LD5] since replays the evaluations after it, then live ones: no gap, no duplicate at the seam', async () => {
    const e = uniqueExpr();
    const since = Date.now() - 6000;
    const log = subscribeLog(
      b.wsClient(owner.token),
      UPDATES,
      { d: board, ds: 'prom', e, s: 1000, since },
      'queryUpdates',
    );
    await log.until(() => log.events.length >= 4, 15_000);
    const times = timesOf(log);
    expect(times[0]).toBe(Math.floor(since / 1000) * 1000 + 1000);
    expect((log.events[0] as Batch).series[0]!.points.length).toBeGreaterThanOrEqual(5);
    expectContiguous(times, 1000);
    log.dispose();
  });

  it('[LD5] an unreachable upstream is reported in SeriesBatch.error; when it is back, data flows again with the gap filled', async () => {
    const e = uniqueExpr();
    const log = subscribeLog(a.wsClient(owner.token), UPDATES, { d: board, ds: 'prom', e, s: 1000 }, 'queryUpdates');
    await log.until((events) => events.length >= 2, 15_000);
    const before = timesOf(log).at(-1)!;
    await prom.kill();
    const down = await log.until((events) => events.some((x: Batch) => x.error !== null), 15_000);
    const failure = down.find((x: Batch) => x.error !== null) as Batch;
    expect(failure.error).toMatch(/^Data source prom is unavailable/);
    expect(failure.series).toEqual([]);
    expect(
      errorCode(await a.gql(QUERY, { d: board, ds: 'prom', e: 'up', f: Date.now() - 5000, s: 1000 }, owner.token)),
    ).toBe('UNAVAILABLE');
    const outage = log.events.length;
    await prom.start();
    await log.until(
      (events) => events.slice(outage).some((x: Batch) => x.error === null && x.series.length > 0),
      20_000,
    );
    const times = timesOf(log);
    expectContiguous(times, 1000);
    expect(times.at(-1)!).toBeGreaterThan(before + 1000);
    log.dispose();
  }, 60_000);

  it('[LD5][AU1] a watcher removed from the dashboard gets AccessRevoked', async () => {
    const member = await signUp(a, 'Member');
    await a.ok(
      `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: VIEWER) { role } }`,
      { d: board, e: member.email },
      owner.token,
    );
    const log = subscribeLog(
      b.wsClient(member.token),
      UPDATES,
      { d: board, ds: 'prom', e: 'up', s: 1000 },
      'queryUpdates',
    );
    await log.until((events) => events.length >= 1, 15_000);
    await a.ok(
      `mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }`,
      { d: board, u: member.userId },
      owner.token,
    );
    await log.until(() => log.completed, 10_000);
    expect(log.events.at(-1)).toEqual({ __typename: 'AccessRevoked', dashboardId: board, reason: 'REMOVED' });
  });

  it('[LD5] the evaluating instance stops answering: another takes over within two steps, no step lost', async () => {
    const step = 2000;
    const redisLeases = backend.redisUrl
      ? createRedisLeaseStore({ url: backend.redisUrl, prefix: `test-${randomUUID().slice(0, 8)}:`, onError: () => {} })
      : null;
    const inner = redisLeases ?? backend.store;
    const [hung, well] = [freezable(inner), freezable(inner)];
    const c = await startApp(backend, { env, leases: hung.store });
    const d = await startApp(backend, { env, leases: well.store });
    const e = uniqueExpr();
    const vars = { d: board, ds: 'prom', e, s: step };
    const onC = subscribeLog(c.wsClient(owner.token), UPDATES, vars, 'queryUpdates');
    await onC.until((events) => events.length >= 1, 15_000);
    expect(c.app.services.queryFeed.holdingCount()).toBe(1);
    const onD = subscribeLog(d.wsClient(owner.token), UPDATES, vars, 'queryUpdates');
    await onD.until((events) => events.length >= 2, 15_000);
    expect(d.app.services.queryFeed.holdingCount()).toBe(0);
    hung.freeze();
    const last = timesOf(onD).at(-1)!;
    await onD.until(() => d.app.services.queryFeed.holdingCount() === 1 && timesOf(onD).at(-1)! > last, 15_000);
    const next = (onD.events as Batch[]).find((batch) => (batch.series[0]?.points.at(-1)?.[0] ?? 0) > last)!;
    // The lease lives 1.5 steps: the first tick after it expired is at most two steps later.
    expect(next.series[0]!.points.at(-1)![0]).toBeLessThanOrEqual(last + 2 * step);
    expectContiguous(timesOf(onD), step);
    onD.dispose();
    onC.dispose();
    await redisLeases?.close();
  }, 60_000);

  describeWhen(Boolean(process.env.DATABASE_URL && process.env.REDIS_URL), 'needs DATABASE_URL and REDIS_URL')(
    'a child process',
    () => {
      it('[LD5] the evaluating instance killed with SIGKILL: the other continues within two steps', async () => {
        const step = 2000;
        const child = await startChildApp({
          ...env,
          DATABASE_URL: process.env.DATABASE_URL!,
          REDIS_URL: process.env.REDIS_URL!,
        });
        const e = uniqueExpr();
        const vars = { d: board, ds: 'prom', e, s: step };
        const { createClient } = await import('graphql-ws');
        const WebSocket = (await import('ws')).default;
        const childClient = createClient({
          url: child.wsUrl,
          webSocketImpl: WebSocket,
          connectionParams: { authToken: owner.token },
          retryAttempts: 0,
        });
        const onChild = subscribeLog(childClient, UPDATES, vars, 'queryUpdates');
        await onChild.until((events) => events.length >= 1, 20_000);
        const onA = subscribeLog(a.wsClient(owner.token), UPDATES, vars, 'queryUpdates');
        await onA.until((events) => events.length >= 2, 15_000);
        expect(a.app.services.queryFeed.holdingCount()).toBe(0); // the child evaluates
        const last = timesOf(onA).at(-1)!;
        await child.kill();
        await onA.until(() => timesOf(onA).at(-1)! > last, 15_000);
        const next = (onA.events as Batch[]).find((batch) => (batch.series[0]?.points.at(-1)?.[0] ?? 0) > last)!;
        expect(next.series[0]!.points.at(-1)![0]).toBeLessThanOrEqual(last + 2 * step);
        expect(a.app.services.queryFeed.holdingCount()).toBe(1);
        expectContiguous(timesOf(onA), step);
        onA.dispose();
        void childClient.dispose();
      }, 60_000);
    },
  );
});
