import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ApiError, type GraphQLSubscriber } from '@collab-dashboards/core';
import { createQueryPoints, openLiveQuery, queryErrorMessage } from './live-query.js';
import type { LiveSeries, QuerySource } from './live-series.js';

const SEC = 1000;
const MIN = 60 * SEC;
/** Half a step past 12:00:00 at a 10 s step. */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 5);
const UP_A = { id: 'q:a', name: 'up', labels: { instance: 'a' } };
const UP_B = { id: 'q:b', name: 'up', labels: { instance: 'b' } };

type Sink = Parameters<GraphQLSubscriber['subscribe']>[1];
interface Call {
  query: string;
  variables: Record<string, unknown>;
  sink: Sink;
  disposed: boolean;
}

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
  const all = (name: string) => calls.filter((c) => c.query.includes(name));
  return {
    client,
    calls,
    histories: () => all('query QueryData'),
    streams: () => all('subscription QueryUpdates'),
  };
}

const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
const ticks = async () => {
  for (let i = 0; i < 4; i++) await Promise.resolve();
};

const opened: LiveSeries[] = [];
afterEach(() => opened.splice(0).forEach((live) => live.close()));

function source(overrides: Partial<QuerySource> = {}): QuerySource {
  return { kind: 'query', datasource: 'prom', expr: 'up', window: 300, step: 10, ...overrides };
}

const history = (entries: Array<{ series: typeof UP_A; points: number[][] }>) => ({
  data: { dashboard: { id: 'd1', queryData: entries } },
});

function batch(entries: Array<{ series: typeof UP_A; points: number[][] }>, error: string | null = null) {
  return { data: { queryUpdates: { __typename: 'SeriesBatch', cursor: 'c', error, series: entries } } };
}

/** Opens a live query at T0 on a clock the test moves, and answers its history read. */
async function openQuery(options: { source?: QuerySource; points?: number[][] } = {}) {
  const fake = fakeClient();
  const clock = { now: T0 };
  const live = openLiveQuery(fake.client, {
    dashboardId: 'd1',
    source: options.source ?? source(),
    widthPx: 300,
    now: () => clock.now,
  });
  opened.push(live);
  fake.histories()[0]!.sink.next(history([{ series: UP_A, points: options.points ?? [] }]));
  await flush();
  return { ...fake, live, clock, stream: () => fake.streams().at(-1)! };
}

describe('[LD5] the points of a query', () => {
  it('merges history and stream by t: a point sent again replaces itself, series keep their first order', () => {
    const points = createQueryPoints();
    expect(points.lastT).toBeNull();
    points.merge([{ series: UP_A, points: [[20, 1], [10, 0]] }]); // prettier-ignore
    points.merge([
      { series: UP_B, points: [[20, 5]] },
      { series: UP_A, points: [[20, 2], [30, 3]] }, // prettier-ignore
    ]);
    expect(points.data()).toEqual([
      { series: UP_A, points: [[10, 0], [20, 2], [30, 3]] }, // prettier-ignore
      { series: UP_B, points: [[20, 5]] },
    ]);
    expect(points.lastT).toBe(30);
    expect([...points.last()]).toEqual([
      ['q:a', { t: 30, v: 3 }],
      ['q:b', { t: 20, v: 5 }],
    ]);
  });

  it('keeps only the window: points before it go, then series left empty; the last t stays', () => {
    const points = createQueryPoints();
    points.merge([
      { series: UP_A, points: [[10, 1], [20, 2]] }, // prettier-ignore
      { series: UP_B, points: [[10, 5], [NaN, 1]] }, // prettier-ignore
    ]);
    points.trim(20);
    expect(points.data()).toEqual([{ series: UP_A, points: [[20, 2]] }]);
    points.trim(25);
    expect(points.data()).toEqual([]);
    expect(points.lastT).toBe(20);
  });
});

describe('[LD5] openLiveQuery', () => {
  it("reads the window's history at the step, then follows from the last evaluation it holds", async () => {
    const { histories, stream, live } = await openQuery({ points: [[T0 - 5 * SEC - 2 * MIN, 1], [T0 - 5 * SEC, 1]] }); // prettier-ignore
    expect(histories()[0]!.variables).toEqual({
      dashboardId: 'd1',
      datasource: 'prom',
      expr: 'up',
      from: T0 - 5 * MIN,
      step: 10 * SEC,
    });
    expect(stream().variables).toEqual({
      dashboardId: 'd1',
      datasource: 'prom',
      expr: 'up',
      step: 10 * SEC,
      since: T0 - 5 * SEC,
    });
    expect(live.state).toMatchObject({
      status: 'live',
      error: null,
      sourceError: null,
      window: { from: T0 - 5 * MIN, to: T0, step: 10 * SEC },
    });
    expect(live.state.data).toEqual([{ series: UP_A, points: [[T0 - 5 * SEC - 2 * MIN, 1], [T0 - 5 * SEC, 1]] }]); // prettier-ignore
    expect(live.state.last.get('q:a')).toEqual({ t: T0 - 5 * SEC, v: 1 });
  });

  it('fits the step to the width when the source sets none', async () => {
    const fake = fakeClient();
    const live = openLiveQuery(fake.client, { dashboardId: 'd1', source: source({ step: null }), widthPx: 300 });
    opened.push(live);
    expect(fake.histories()[0]!.variables.step).toBe(2 * SEC); // 300 s over 150 slots
  });

  it('with no point in the history, the replay starts a step before the last evaluation it could hold', async () => {
    const { stream } = await openQuery();
    expect(stream().variables.since).toBe(Date.UTC(2026, 0, 1, 11, 59, 50));
  });

  it('moves `since` on with every batch, so a re-subscription (graphql-ws re-sends the payload) resumes after the last point', async () => {
    const { stream, live } = await openQuery({ points: [[T0 - 5 * SEC, 1]] });
    const payload = stream().variables;
    stream().sink.next(batch([{ series: UP_A, points: [[T0 + 5 * SEC, 0]] }, { series: UP_B, points: [[T0 + 5 * SEC, 1]] }])); // prettier-ignore
    expect(payload.since).toBe(T0 + 5 * SEC);
    // The replay after a reconnect overlaps what is held: nothing doubles.
    stream().sink.next(batch([{ series: UP_A, points: [[T0 + 5 * SEC, 0], [T0 + 15 * SEC, 1]] }])); // prettier-ignore
    expect(payload.since).toBe(T0 + 15 * SEC);
    expect(live.state.data).toEqual([
      { series: UP_A, points: [[T0 - 5 * SEC, 1], [T0 + 5 * SEC, 0], [T0 + 15 * SEC, 1]] }, // prettier-ignore
      { series: UP_B, points: [[T0 + 5 * SEC, 1]] },
    ]);
    // An empty batch (nothing matched) leaves since where it was.
    stream().sink.next(batch([]));
    expect(payload.since).toBe(T0 + 15 * SEC);
  });

  it('slides the window: points that left it are no longer drawn', async () => {
    const { stream, live, clock } = await openQuery({ points: [[T0 - 4 * MIN, 1], [T0 - 5 * SEC, 2]] }); // prettier-ignore
    clock.now = T0 + 2 * MIN;
    stream().sink.next(batch([{ series: UP_A, points: [[T0 + 2 * MIN - 5 * SEC, 3]] }]));
    expect(live.state.data[0]!.points).toEqual([[T0 - 5 * SEC, 2], [T0 + 2 * MIN - 5 * SEC, 3]]); // prettier-ignore
    expect(live.state.window.from).toBe(T0 - 3 * MIN);
  });

  it('shows an upstream error of a batch while keeping the data, and clears it when a batch answers again', async () => {
    const { stream, live } = await openQuery({ points: [[T0 - 5 * SEC, 1]] });
    const payload = stream().variables;
    stream().sink.next(batch([], 'Data source prom is unavailable: cannot connect (ECONNREFUSED)'));
    expect(live.state).toMatchObject({
      status: 'live',
      error: null,
      sourceError: 'Data source prom is unavailable: cannot connect (ECONNREFUSED)',
    });
    expect(live.state.data).toEqual([{ series: UP_A, points: [[T0 - 5 * SEC, 1]] }]);
    expect(payload.since).toBe(T0 - 5 * SEC);
    // Back: the batch back-fills the steps missed.
    stream().sink.next(batch([{ series: UP_A, points: [[T0 + 5 * SEC, 1], [T0 + 15 * SEC, 1]] }])); // prettier-ignore
    expect(live.state).toMatchObject({ status: 'live', sourceError: null });
    expect(live.state.data[0]!.points).toHaveLength(3);
    expect(stream().disposed).toBe(false);
  });

  it('opened while the upstream is down (UNAVAILABLE), follows anyway: says so as the banner does, and the stream back-fills the window when it is back', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask'] });
    try {
      const fake = fakeClient();
      const live = openLiveQuery(fake.client, { dashboardId: 'd1', source: source(), widthPx: 300, now: () => T0 });
      opened.push(live);
      const message = 'Data source prom is unavailable: cannot connect';
      fake.histories()[0]!.sink.next({ errors: [{ message, extensions: { code: 'UNAVAILABLE' } }] });
      await ticks();
      expect(live.state).toMatchObject({ status: 'live', error: null, sourceError: message, data: [] });
      // The stream replays the whole window (from a step before its start): no history read again.
      expect(fake.streams()).toHaveLength(1);
      const stream = fake.streams()[0]!;
      expect(stream.variables.since).toBe(Date.UTC(2026, 0, 1, 11, 55, 0) - 10 * SEC);
      stream.sink.next(batch([], `${message} (still)`));
      expect(live.state).toMatchObject({ status: 'live', sourceError: `${message} (still)` });
      jest.advanceTimersByTime(60_000);
      expect(fake.histories()).toHaveLength(1);
      // Back: the server's first good batch holds the window.
      stream.sink.next(batch([{ series: UP_A, points: [[T0 - 4 * MIN - 5 * SEC, 1], [T0 - 5 * SEC, 2]] }])); // prettier-ignore
      expect(live.state).toMatchObject({ status: 'live', error: null, sourceError: null });
      expect(live.state.data[0]!.points).toHaveLength(2);
      expect(stream.variables.since).toBe(T0 - 5 * SEC);
      expect(stream.disposed).toBe(false);
    } finally {
      jest.useRealTimers();
    }
  });

  it('reopening while the upstream is down keeps what it drew and follows from its last point', async () => {
    const { stream, histories, live } = await openQuery({ points: [[T0 - 5 * SEC, 1]] });
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask'] });
    try {
      stream().sink.error(new Error('socket gone'));
      jest.advanceTimersByTime(1000);
      const down = { message: 'Data source prom is unavailable', extensions: { code: 'UNAVAILABLE' } };
      histories()[1]!.sink.next({ errors: [down] });
      await ticks();
      expect(live.state).toMatchObject({ status: 'live', error: null, sourceError: 'Data source prom is unavailable' });
      expect(live.state.data).toEqual([{ series: UP_A, points: [[T0 - 5 * SEC, 1]] }]);
      expect(stream().variables.since).toBe(T0 - 5 * SEC);
    } finally {
      jest.useRealTimers();
    }
  });

  it('retries a history read that failed otherwise (the socket), backing off, and says why meanwhile', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask'] });
    try {
      const fake = fakeClient();
      const live = openLiveQuery(fake.client, { dashboardId: 'd1', source: source(), widthPx: 300, now: () => T0 });
      opened.push(live);
      fake.histories()[0]!.sink.error(new Error('socket gone'));
      await ticks();
      expect(live.state).toMatchObject({ status: 'error', error: 'Socket gone.' });
      jest.advanceTimersByTime(999);
      expect(fake.histories()).toHaveLength(1);
      jest.advanceTimersByTime(1);
      expect(fake.histories()).toHaveLength(2);
      fake.histories()[1]!.sink.error(new Error('socket gone'));
      await ticks();
      jest.advanceTimersByTime(1999);
      expect(fake.histories()).toHaveLength(2);
      jest.advanceTimersByTime(1);
      expect(fake.histories()).toHaveLength(3);
      fake.histories()[2]!.sink.next(history([{ series: UP_A, points: [[T0 - 5 * SEC, 1]] }]));
      await ticks();
      expect(live.state).toMatchObject({ status: 'live', error: null });
      expect(fake.streams()).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('stops for good, with the upstream’s words, when the query is refused (BAD_USER_INPUT)', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask'] });
    try {
      const fake = fakeClient();
      const live = openLiveQuery(fake.client, { dashboardId: 'd1', source: source(), widthPx: 300, now: () => T0 });
      opened.push(live);
      const refused = { message: 'prom: 1:3: parse error: unexpected <EOF>', extensions: { code: 'BAD_USER_INPUT' } };
      fake.histories()[0]!.sink.next({ errors: [refused] });
      await ticks();
      jest.advanceTimersByTime(60_000);
      expect(fake.histories()).toHaveLength(1);
      expect(fake.streams()).toHaveLength(0);
      expect(live.state).toMatchObject({ status: 'error', error: 'prom: 1:3: parse error: unexpected <EOF>' });
    } finally {
      jest.useRealTimers();
    }
  });

  it('opens again after the stream drops for good (graphql-ws gave up), reading the window afresh', async () => {
    const { stream, histories, live } = await openQuery({ points: [[T0 - 5 * SEC, 1]] });
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask'] });
    try {
      stream().sink.error(new Error('socket gone'));
      expect(live.state).toMatchObject({ status: 'error', error: 'Socket gone.' });
      expect(live.state.data).toHaveLength(1); // still drawn
      jest.advanceTimersByTime(1000);
      expect(histories()).toHaveLength(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('[AU1] stops with an error when access is revoked', async () => {
    const { stream, live } = await openQuery();
    stream().sink.next({
      data: { queryUpdates: { __typename: 'AccessRevoked', dashboardId: 'd1', reason: 'REMOVED' } },
    });
    expect(live.state).toMatchObject({ status: 'error', error: expect.stringMatching(/no longer have access/) });
    expect(stream().disposed).toBe(true);
  });

  it('close() disposes the stream and publishes nothing after', async () => {
    const { stream, live } = await openQuery();
    const states: string[] = [];
    live.subscribe((state) => states.push(state.status));
    live.close();
    expect(stream().disposed).toBe(true);
    stream().sink.next(batch([{ series: UP_A, points: [[T0 + 5 * SEC, 1]] }]));
    expect(states).toEqual([]);
  });

  it('says what the server said about the query or its upstream, and the usual sentences otherwise', () => {
    expect(queryErrorMessage(new ApiError('prom: bad_data: parse error', 'BAD_USER_INPUT'))).toBe(
      'prom: bad_data: parse error',
    );
    expect(
      queryErrorMessage({
        graphQLErrors: [{ message: 'Unknown data source "x"', extensions: { code: 'BAD_USER_INPUT' } }],
      }),
    ).toBe('Unknown data source "x"');
    expect(queryErrorMessage(new ApiError('nope', 'FORBIDDEN'))).toMatch(/permission/);
  });
});
