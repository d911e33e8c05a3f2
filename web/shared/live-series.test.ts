import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { GraphQLSubscriber } from '@collab-dashboards/core';
import {
  describeSource,
  openLiveSeries,
  parseSource,
  sourceKey,
  sourceStep,
  type LiveSeries,
  type SeriesSource,
} from './live-series.js';

const SEC = 1000;
const MIN = 60 * SEC;
/** Thirty seconds into a minute: the open bucket at T0 starts at 12:00:00. */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 30);
const BUCKET = Date.UTC(2026, 0, 1, 12, 0, 0);
const CPU = { id: '1', name: 'cpu', labels: { host: 'a' } };

type Sink = Parameters<GraphQLSubscriber['subscribe']>[1];
interface Call {
  query: string;
  variables: Record<string, unknown>;
  sink: Sink;
  disposed: boolean;
}

/** A GraphQLSubscriber that records each operation; the test answers through its sink. */
function fakeClient() {
  const calls: Call[] = [];
  const client: GraphQLSubscriber = {
    subscribe(payload, sink) {
      const call: Call = { query: payload.query, variables: payload.variables ?? {}, sink, disposed: false };
      calls.push(call);
      return () => {
        call.disposed = true;
      };
    },
  };
  const find = (name: string) => calls.find((c) => c.query.includes(name));
  return { client, calls, history: () => find('query SeriesWindow'), stream: () => find('subscription SeriesUpdates') };
}

const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

const opened: LiveSeries[] = [];
afterEach(() => opened.splice(0).forEach((live) => live.close()));

function source(overrides: Partial<SeriesSource> = {}): SeriesSource {
  return {
    kind: 'series',
    series: 'cpu',
    labels: { host: 'a' },
    window: 900,
    agg: 'SUM' as SeriesSource['agg'],
    step: 60,
    ...overrides,
  };
}

/** Opens a live series at T0 on a clock the test moves, and answers its history read. */
async function openLive(options: { source?: SeriesSource; history?: number[][] } = {}) {
  const fake = fakeClient();
  const clock = { now: T0 };
  const live = openLiveSeries(fake.client, {
    dashboardId: 'd1',
    source: options.source ?? source(),
    widthPx: 300,
    now: () => clock.now,
  });
  opened.push(live);
  const states: string[] = [];
  live.subscribe((state) => states.push(state.status));
  fake.history()!.sink.next({
    data: {
      dashboard: {
        id: 'd1',
        seriesData: [{ series: CPU, points: options.history ?? [] }],
        series: [{ id: '1', last: { t: BUCKET - SEC, v: 9 } }],
      },
    },
  });
  await flush();
  return { ...fake, live, clock, states };
}

function batch(points: number[][], cursor = 'c') {
  return {
    data: { seriesUpdates: { __typename: 'SeriesBatch', cursor, error: null, series: [{ series: CPU, points }] } },
  };
}

describe('[LD4] a widget source', () => {
  it('reads config.source, with defaults for what it leaves out, and rejects what is malformed', () => {
    expect(parseSource({ source: { series: 'cpu' } })).toEqual({
      kind: 'series',
      series: 'cpu',
      labels: null,
      window: 900,
      agg: 'AVG',
      step: null,
    });
    expect(
      parseSource({ source: { series: 'cpu', labels: { a: 'b', n: 1 }, window: 3600, agg: 'MAX', step: 30 } }),
    ).toEqual({ kind: 'series', series: 'cpu', labels: { a: 'b' }, window: 3600, agg: 'MAX', step: 30 });
    expect(parseSource({ source: { series: 'cpu', labels: {}, agg: 'MEDIAN', step: 1.5 } })).toMatchObject({
      labels: null,
      agg: 'AVG',
      step: null,
    });
    for (const raw of [undefined, null, 'cpu', [], { series: '' }, { series: 3 }]) {
      expect(parseSource({ source: raw })).toBeNull();
    }
  });

  it('[LD5] reads a data source query: a source naming a datasource, its expression trimmed, window and step in seconds', () => {
    expect(parseSource({ source: { datasource: 'prom', expr: ' up ' } })).toEqual({
      kind: 'query',
      datasource: 'prom',
      expr: 'up',
      window: 900,
      step: null,
    });
    expect(parseSource({ source: { datasource: 'prom', expr: 'rate(x[1m])', window: 300, step: 15 } })).toEqual({
      kind: 'query',
      datasource: 'prom',
      expr: 'rate(x[1m])',
      window: 300,
      step: 15,
    });
    // A query is never read as the series it might also name; a malformed one binds nothing.
    expect(parseSource({ source: { datasource: 'prom', expr: 'up', series: 'cpu' } })).toMatchObject({ kind: 'query' });
    for (const raw of [
      { datasource: 'prom' },
      { datasource: 'prom', expr: '  ' },
      { datasource: '', expr: 'up' },
      { datasource: 3, expr: 'up' },
      { datasource: 'prom', expr: 7 },
      { datasource: 'prom', expr: 'x'.repeat(4001) },
    ]) {
      expect(parseSource({ source: raw })).toBeNull();
    }
    expect(parseSource({ source: { datasource: 'prom', expr: 'up', window: 'long', step: 0.5 } })).toMatchObject({
      window: 900,
      step: null,
    });
    expect(describeSource(parseSource({ source: { datasource: 'prom', expr: 'sum(up)' } })!)).toBe('sum(up)');
    expect(describeSource(source())).toBe('{host="a"}');
  });

  it('[LD5] keys a query by data source, expression, window and step, apart from any series source', () => {
    const query = (extra: Record<string, unknown> = {}) =>
      parseSource({ source: { datasource: 'prom', expr: 'up', ...extra } });
    expect(sourceKey(query())).toBe(sourceKey(query()));
    for (const extra of [{ datasource: 'other' }, { expr: 'up == 1' }, { window: 300 }, { step: 5 }]) {
      expect(sourceKey(query(extra))).not.toBe(sourceKey(query()));
    }
    expect(sourceKey(query())).not.toBe(sourceKey(parseSource({ source: { series: 'up' } })));
  });

  it('[LD5] fits an unset step to the window and width in whole seconds, 1 s at least; a set one is seconds', () => {
    const query = (window: number, step?: number) =>
      parseSource({ source: { datasource: 'prom', expr: 'up', window, step } })!;
    expect(sourceStep(query(900), 300)).toBe(10 * SEC); // 900 s over 150 slots: 6 s, rounded up
    expect(sourceStep(query(300), 4000)).toBe(SEC); // 0.15 s a slot: never under a second
    expect(sourceStep(query(604_800), 300)).toBe(7200 * SEC);
    expect(sourceStep(query(900, 30), 300)).toBe(30 * SEC);
    for (const window of [300, 900, 3600, 21_600, 86_400, 604_800]) {
      for (const width of [1, 120, 333, 1280, 5000]) {
        const step = sourceStep(query(window), width);
        expect(step % SEC).toBe(0);
        expect(step).toBeGreaterThanOrEqual(SEC);
        expect((window * SEC) / step).toBeLessThanOrEqual(Math.max(1, width / 2));
      }
    }
  });

  it('keys a source by what it reads, and fits its step to a width unless it sets one', () => {
    expect(sourceKey(null)).toBe('');
    expect(sourceKey(source())).toBe(sourceKey(source()));
    expect(sourceKey(source({ window: 300 }))).not.toBe(sourceKey(source()));
    expect(sourceStep(source({ step: 30 }), 300)).toBe(30 * SEC);
    expect(sourceStep(source({ step: null }), 300)).toBe(10 * SEC); // 900 s over 150 slots: 6 s, rounded up
  });
});

describe('[LD3] openLiveSeries', () => {
  it('reads the complete buckets of the window, then follows from the open bucket', async () => {
    const { history, stream, live } = await openLive({ history: [[BUCKET - 2 * MIN, 4]] });
    expect(history()!.variables).toEqual({
      dashboardId: 'd1',
      match: { name: 'cpu', labels: { host: 'a' } },
      from: BUCKET - 15 * MIN,
      to: BUCKET - 2 * MIN - 1, // the last two minutes come raw, from the stream

      step: MIN,
      agg: 'SUM',
    });
    expect(stream()!.variables).toEqual({
      dashboardId: 'd1',
      match: [{ name: 'cpu', labels: { host: 'a' } }],
      since: BUCKET - 2 * MIN - 1,
    });
    expect(live.state.status).toBe('live');
    expect(live.state.data).toEqual([{ series: CPU, points: [[BUCKET - 2 * MIN, 4]] }]);
    expect(live.state.last.get('1')).toEqual({ t: BUCKET - SEC, v: 9 });
    expect(live.state.window).toEqual({ from: T0 - 15 * MIN, to: T0, step: MIN });
  });

  it('after a batch, a re-subscription (graphql-ws re-sends the payload on reconnect) resumes from its cursor', async () => {
    const { stream } = await openLive();
    const payload = stream()!.variables;
    stream()!.sink.next(batch([[BUCKET + SEC, 1]], 'cursor-1'));
    expect(payload).toEqual({ dashboardId: 'd1', match: [{ name: 'cpu', labels: { host: 'a' } }], after: 'cursor-1' });
    stream()!.sink.next(batch([[BUCKET + 2 * SEC, 2]], 'cursor-2'));
    expect(payload.after).toBe('cursor-2');
  });

  it('starts loading, and tells its listeners of every change', async () => {
    const { states, stream } = await openLive();
    expect(states).toEqual(['live']);
    stream()!.sink.next(batch([[BUCKET + SEC, 1]]));
    expect(states).toEqual(['live', 'live']);
  });

  it('aggregates live points per epoch-aligned bucket with the source aggregation', async () => {
    const { stream, live } = await openLive({ history: [[BUCKET - MIN, 4]] });
    stream()!.sink.next(
      batch([
        [BUCKET + 10 * SEC, 2],
        [BUCKET + 20 * SEC, 3],
      ]),
    );
    stream()!.sink.next(batch([[BUCKET + 25 * SEC, 5]]));
    expect(live.state.data[0]!.points).toEqual([
      [BUCKET - MIN, 4],
      [BUCKET, 10],
    ]);
    expect(live.state.last.get('1')).toEqual({ t: BUCKET + 25 * SEC, v: 5 });
  });

  it('aggregates with the agg the source names (MAX, COUNT)', async () => {
    for (const [agg, expected] of [
      ['MAX', 7],
      ['COUNT', 3],
      ['AVG', 4],
    ] as const) {
      const { stream, live } = await openLive({ source: source({ agg: agg as SeriesSource['agg'] }) });
      stream()!.sink.next(
        batch([
          [BUCKET + SEC, 2],
          [BUCKET + 2 * SEC, 7],
          [BUCKET + 3 * SEC, 3],
        ]),
      );
      expect(live.state.data[0]!.points).toEqual([[BUCKET, expected]]);
    }
  });

  it('changes nothing when a point is sent again (a resent batch, a reconnect)', async () => {
    const { stream, live } = await openLive();
    const points = [
      [BUCKET + SEC, 2],
      [BUCKET + 2 * SEC, 3],
    ];
    stream()!.sink.next(batch(points));
    const before = live.state.data;
    stream()!.sink.next(batch(points));
    stream()!.sink.next(batch([points[0]!]));
    expect(live.state.data).toEqual(before);
    expect(live.state.data[0]!.points).toEqual([[BUCKET, 5]]);
  });

  it('refolds a recent bucket a late point lands in; for an older bucket, reads it again from the server', async () => {
    const { stream, live, clock, calls } = await openLive();
    stream()!.sink.next(batch([[BUCKET + SEC, 2]]));
    clock.now = BUCKET + 2 * MIN + 30 * SEC; // 12:00 is still kept raw (two minutes back)
    stream()!.sink.next(batch([[BUCKET + 2 * MIN + SEC, 1]]));
    stream()!.sink.next(batch([[BUCKET + 40 * SEC, 5]]));
    expect(live.state.data[0]!.points).toEqual([
      [BUCKET, 7],
      [BUCKET + 2 * MIN, 1],
    ]);

    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask'] });
    try {
      clock.now = BUCKET + 3 * MIN + 30 * SEC; // 12:00's raw points are gone now
      stream()!.sink.next(batch([[BUCKET + 50 * SEC, 100]]));
      expect(live.state.data[0]!.points).toEqual([
        [BUCKET, 7],
        [BUCKET + 2 * MIN, 1],
      ]);
      const reads = () => calls.filter((c) => c.query.includes('query SeriesWindow'));
      expect(reads()).toHaveLength(1);
      jest.advanceTimersByTime(1000);
      expect(reads()).toHaveLength(2);
      expect(reads()[1]!.variables).toMatchObject({ from: BUCKET, to: BUCKET + MIN - 1, step: MIN, agg: 'SUM' });
      reads()[1]!.sink.next({
        data: { dashboard: { id: 'd1', seriesData: [{ series: CPU, points: [[BUCKET, 107]] }], series: [] } },
      });
      await Promise.resolve();
      await Promise.resolve();
      expect(live.state.data[0]!.points).toEqual([
        [BUCKET, 107],
        [BUCKET + 2 * MIN, 1],
      ]);
    } finally {
      jest.useRealTimers();
    }
    expect(live.state.last.get('1')).toEqual({ t: BUCKET + 2 * MIN + SEC, v: 1 });
  });

  it('slides the window: buckets that left it are no longer drawn', async () => {
    const { stream, live, clock } = await openLive({ history: [[BUCKET - 14 * MIN, 4]] });
    stream()!.sink.next(batch([[BUCKET + SEC, 2]]));
    clock.now = T0 + 2 * MIN;
    stream()!.sink.next(batch([[BUCKET + 2 * MIN + SEC, 3]]));
    expect(live.state.data[0]!.points.map(([t]) => t)).toEqual([BUCKET, BUCKET + 2 * MIN]);
  });

  it('adds a series that starts matching later', async () => {
    const { stream, live } = await openLive();
    const other = { id: '2', name: 'cpu', labels: { host: 'a', core: '1' } };
    stream()!.sink.next({
      data: {
        seriesUpdates: {
          __typename: 'SeriesBatch',
          cursor: 'c',
          error: null,
          series: [{ series: other, points: [[BUCKET + SEC, 8]] }],
        },
      },
    });
    expect(live.state.data.map((d) => d.series.id)).toEqual(['1', '2']);
    expect(live.state.data[1]!.points).toEqual([[BUCKET, 8]]);
  });

  it('opens again by itself after a failure that can heal (a dropped socket, UNAVAILABLE), backing off; not after a final one', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask'] });
    try {
      const fake = fakeClient();
      const live = openLiveSeries(fake.client, { dashboardId: 'd1', source: source(), widthPx: 300, now: () => T0 });
      opened.push(live);
      const histories = () => fake.calls.filter((c) => c.query.includes('query SeriesWindow'));
      histories()[0]!.sink.error(new Error('socket gone'));
      await Promise.resolve();
      expect(live.state.status).toBe('error');
      jest.advanceTimersByTime(999);
      expect(histories()).toHaveLength(1);
      jest.advanceTimersByTime(1);
      expect(histories()).toHaveLength(2); // after 1 s
      histories()[1]!.sink.next({ errors: [{ message: 'down', extensions: { code: 'UNAVAILABLE' } }] });
      await Promise.resolve();
      jest.advanceTimersByTime(1999);
      expect(histories()).toHaveLength(2);
      jest.advanceTimersByTime(1);
      expect(histories()).toHaveLength(3); // after 2 s more
      histories()[2]!.sink.next({ data: { dashboard: { id: 'd1', seriesData: [], series: [] } } });
      await Promise.resolve();
      await Promise.resolve();
      expect(live.state).toMatchObject({ status: 'live', error: null });
      // The stream fails for good (the source is refused): no more attempts.
      const stream = fake.calls.find((c) => c.query.includes('subscription SeriesUpdates'))!;
      stream.sink.error([{ message: 'bad match', extensions: { code: 'BAD_USER_INPUT' } }]);
      jest.advanceTimersByTime(60_000);
      expect(histories()).toHaveLength(3);
      expect(live.state.status).toBe('error');
    } finally {
      jest.useRealTimers();
    }
  });

  it('[AU1] stops with an error when access is revoked', async () => {
    const { stream, live } = await openLive();
    stream()!.sink.next({
      data: { seriesUpdates: { __typename: 'AccessRevoked', dashboardId: 'd1', reason: 'REMOVED' } },
    });
    expect(live.state.status).toBe('error');
    expect(live.state.error).toMatch(/no longer have access/);
  });

  it("says what went wrong: the stream's GraphQL errors (with their code), a refused subscribe, a failed read", async () => {
    const first = await openLive();
    first.stream()!.sink.next({ errors: [{ message: 'nope', extensions: { code: 'FORBIDDEN' } }] });
    expect(first.live.state).toMatchObject({ status: 'error', error: expect.stringMatching(/permission/i) });

    const second = await openLive();
    second.stream()!.sink.error([{ message: 'Dashboard not found', extensions: { code: 'NOT_FOUND' } }]);
    expect(second.live.state).toMatchObject({ status: 'error', error: expect.stringMatching(/not exist|not found/i) });

    const third = await openLive();
    third.stream()!.sink.error(new Error('socket gone'));
    expect(third.live.state).toMatchObject({ status: 'error', error: 'Socket gone.' });

    const fake = fakeClient();
    const live = openLiveSeries(fake.client, { dashboardId: 'd1', source: source(), widthPx: 300, now: () => T0 });
    opened.push(live);
    fake.history()!.sink.next({ errors: [{ message: 'slow down', extensions: { code: 'BAD_USER_INPUT' } }] });
    await flush();
    expect(live.state).toMatchObject({ status: 'error', error: 'Slow down.' });
    expect(fake.stream()).toBeUndefined();
  });

  it('says so when the dashboard is gone', async () => {
    const fake = fakeClient();
    const live = openLiveSeries(fake.client, { dashboardId: 'd1', source: source(), widthPx: 300, now: () => T0 });
    opened.push(live);
    fake.history()!.sink.next({ data: { dashboard: null } });
    await flush();
    expect(live.state).toMatchObject({ status: 'error', error: 'This dashboard is not available' });
  });

  it('close() disposes the subscription and tells nobody anything after', async () => {
    const { stream, live, states } = await openLive();
    live.close();
    expect(stream()!.disposed).toBe(true);
    const before = live.state;
    stream()!.sink.next(batch([[BUCKET + SEC, 2]]));
    expect(states).toEqual(['live']);
    expect(live.state).toBe(before);
  });

  it('close() while the window is read opens no subscription', async () => {
    const fake = fakeClient();
    const live = openLiveSeries(fake.client, { dashboardId: 'd1', source: source(), widthPx: 300, now: () => T0 });
    live.close();
    fake.history()!.sink.next({ data: { dashboard: { id: 'd1', seriesData: [], series: [] } } });
    await flush();
    expect(fake.stream()).toBeUndefined();
    expect(live.state.status).toBe('loading');
  });
});
