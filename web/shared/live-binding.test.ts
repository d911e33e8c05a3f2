import { afterEach, describe, expect, it } from '@jest/globals';
import type { GraphQLSubscriber, Widget } from '@collab-dashboards/core';
import type { LiveSeries, LiveSeriesState, SeriesSource } from './live-series.js';
import {
  bindingKey,
  createLiveBinding,
  liveSourceOf,
  loadingState,
  type LiveBinding,
  type LiveSourceOptions,
} from './live-binding.js';

const CLIENT: GraphQLSubscriber = { subscribe: () => () => {} };
const LIVE = { client: CLIENT, dashboardId: 'd1' };

function source(overrides: Partial<SeriesSource> = {}): SeriesSource {
  return {
    kind: 'series',
    series: 'cpu',
    labels: { host: 'a' },
    window: 900,
    agg: 'AVG' as SeriesSource['agg'],
    step: null,
    ...overrides,
  };
}

function widget(type: string, config: Record<string, unknown>): Pick<Widget, 'type' | 'config'> {
  return { type, config } as Pick<Widget, 'type' | 'config'>;
}

/** An openLiveSeries stand-in: records what was opened, and lets the test publish states. */
function fakeOpen() {
  const opened: Array<{ options: LiveSourceOptions; closed: boolean; emit(state: LiveSeriesState): void }> = [];
  const open = (client: GraphQLSubscriber, options: LiveSourceOptions): LiveSeries => {
    expect(client).toBe(CLIENT);
    const listeners = new Set<(state: LiveSeriesState) => void>();
    const entry = {
      options,
      closed: false,
      emit: (state: LiveSeriesState) => listeners.forEach((l) => l(state)),
    };
    opened.push(entry);
    return {
      state: { ...loadingState(), window: { from: 1, to: 2, step: 3 } },
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      close() {
        entry.closed = true;
      },
    };
  };
  return { open, opened };
}

const bindings: LiveBinding[] = [];
afterEach(() => bindings.splice(0).forEach((b) => b.close()));

function bind() {
  const fake = fakeOpen();
  const states: LiveSeriesState[] = [];
  const binding = createLiveBinding(LIVE, (state) => states.push(state), fake.open);
  bindings.push(binding);
  return { ...fake, binding, states };
}

describe('[LD4] which widgets of the viewer are bound', () => {
  it('binds a metric, chart or table with a valid source, nothing else', () => {
    const config = { source: { series: 'cpu', labels: { host: 'a' } } };
    for (const type of ['metric', 'chart', 'table']) {
      expect(liveSourceOf(widget(type, config))).toMatchObject({ series: 'cpu', labels: { host: 'a' } });
    }
    expect(liveSourceOf(widget('note', config))).toBeNull();
    expect(liveSourceOf(widget('chart', { series: [{ name: 'a', points: [[0, 1]] }] }))).toBeNull();
    expect(liveSourceOf(widget('metric', { value: 3, source: { series: '' } }))).toBeNull();
    expect(liveSourceOf(widget('table', { source: 'cpu' }))).toBeNull();
  });

  it('keys a binding by its source and the step its width fits', () => {
    expect(bindingKey(source(), 0)).toBeNull();
    // 900 s over 300 px and over 320 px both fit 10 s steps; over 2000 px, 1 s.
    expect(bindingKey(source(), 300)).toBe(bindingKey(source(), 320));
    expect(bindingKey(source(), 300)).not.toBe(bindingKey(source(), 2000));
    expect(bindingKey(source({ step: 60 }), 300)).toBe(bindingKey(source({ step: 60 }), 2000));
    expect(bindingKey(source({ labels: { host: 'b' } }), 300)).not.toBe(bindingKey(source(), 300));
    expect(bindingKey(source({ agg: 'MAX' as SeriesSource['agg'] }), 300)).not.toBe(bindingKey(source(), 300));
  });
});

describe('[LD4] a bound widget of the viewer follows its source', () => {
  it('opens nothing until its width is known, then opens once on the given socket', () => {
    const { binding, opened, states } = bind();
    binding.update(source(), 0);
    expect(opened).toHaveLength(0);
    expect(binding.state.status).toBe('loading');
    binding.update(source(), 300);
    expect(opened).toHaveLength(1);
    expect(opened[0]!.options).toEqual({ dashboardId: 'd1', source: source(), widthPx: 300 });
    expect(states).toHaveLength(1); // the opened series' first state
    expect(binding.state.window).toEqual({ from: 1, to: 2, step: 3 });
  });

  it('passes on every state of the open series', () => {
    const { binding, opened, states } = bind();
    binding.update(source(), 300);
    const live: LiveSeriesState = { ...loadingState(), status: 'live' };
    opened[0]!.emit(live);
    expect(states.at(-1)).toBe(live);
    expect(binding.state).toBe(live);
  });

  it('keeps the series through an equal source and a resize within the same step', () => {
    const { binding, opened } = bind();
    binding.update(source(), 300);
    binding.update(source(), 320);
    binding.update({ ...source(), labels: { host: 'a' } }, 310);
    expect(opened).toHaveLength(1);
    expect(opened[0]!.closed).toBe(false);
  });

  it('reopens when a collaborator rebinds it, and when its width fits another step', () => {
    const { binding, opened, states } = bind();
    binding.update(source(), 300);
    binding.update(source({ series: 'mem' }), 300);
    expect(opened).toHaveLength(2);
    expect(opened[0]!.closed).toBe(true);
    expect(opened[1]!.options.source).toMatchObject({ kind: 'series', series: 'mem' });
    binding.update(source({ series: 'mem' }), 2000);
    expect(opened).toHaveLength(3);
    expect(opened[1]!.closed).toBe(true);
    expect(opened[2]!.options.widthPx).toBe(2000);
    // A closed series no longer reaches the widget.
    const count = states.length;
    opened[0]!.emit({ ...loadingState(), status: 'error', error: 'stale' });
    expect(states).toHaveLength(count);
  });

  it('closes on unmount and when it loses its source', () => {
    const { binding, opened } = bind();
    binding.update(source(), 300);
    binding.update(null, 300);
    expect(opened[0]!.closed).toBe(true);
    expect(binding.state.status).toBe('loading');
    binding.update(source(), 300);
    binding.close();
    expect(opened[1]!.closed).toBe(true);
    const count = opened.length;
    opened[1]!.emit({ ...loadingState(), status: 'live' });
    expect(binding.state.status).toBe('loading');
    binding.update(source(), 300);
    expect(opened).toHaveLength(count + 1);
  });
});

describe('[LD4] a bound widget reads over the viewer socket', () => {
  it('opens the real live series on the given client, and ends its stream on close', async () => {
    type Sink = Parameters<GraphQLSubscriber['subscribe']>[1];
    const calls: Array<{ query: string; variables: Record<string, unknown>; sink: Sink; disposed: boolean }> = [];
    const client: GraphQLSubscriber = {
      subscribe(payload, sink) {
        const call = { query: payload.query, variables: payload.variables ?? {}, sink, disposed: false };
        calls.push(call);
        return () => {
          call.disposed = true;
        };
      },
    };
    const statuses: string[] = [];
    const binding = createLiveBinding({ client, dashboardId: 'd1' }, (state) => statuses.push(state.status));
    bindings.push(binding);
    binding.update(source({ step: 60 }), 300);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.query).toContain('query SeriesWindow');
    expect(calls[0]!.variables).toMatchObject({
      dashboardId: 'd1',
      match: { name: 'cpu', labels: { host: 'a' } },
      step: 60_000,
      agg: 'AVG',
    });
    calls[0]!.sink.next({ data: { dashboard: { id: 'd1', seriesData: [], series: [] } } });
    calls[0]!.sink.complete();
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    expect(binding.state.status).toBe('live');
    expect(statuses).toEqual(['loading', 'live']);
    const stream = calls.find((c) => c.query.includes('subscription SeriesUpdates'))!;
    expect(stream.variables).toMatchObject({ dashboardId: 'd1', match: [{ name: 'cpu', labels: { host: 'a' } }] });
    binding.close();
    expect(stream.disposed).toBe(true);
  });
});

describe('[LD5] a widget bound to a data source query', () => {
  it('binds a metric, chart or table whose source names a data source and an expression', () => {
    const config = { source: { datasource: 'prom', expr: 'sum(up)', step: 15 } };
    for (const type of ['metric', 'chart', 'table']) {
      expect(liveSourceOf(widget(type, config))).toEqual({
        kind: 'query',
        datasource: 'prom',
        expr: 'sum(up)',
        window: 900,
        step: 15,
      });
    }
    expect(liveSourceOf(widget('note', config))).toBeNull();
    expect(liveSourceOf(widget('chart', { source: { datasource: 'prom' } }))).toBeNull();
  });

  it('reopens when the expression changes, not when the same query is parsed again', () => {
    const { binding, opened } = bind();
    const query = (expr: string) => liveSourceOf(widget('chart', { source: { datasource: 'prom', expr } }));
    binding.update(query('up'), 300);
    binding.update(query(' up '), 300);
    expect(opened).toHaveLength(1);
    binding.update(query('up == 1'), 300);
    expect(opened).toHaveLength(2);
    expect(opened[0]!.closed).toBe(true);
  });

  it('opens the real live query (queryData, then queryUpdates) on the given client', async () => {
    type Sink = Parameters<GraphQLSubscriber['subscribe']>[1];
    const calls: Array<{ query: string; variables: Record<string, unknown>; sink: Sink; disposed: boolean }> = [];
    const client: GraphQLSubscriber = {
      subscribe(payload, sink) {
        const call = { query: payload.query, variables: payload.variables ?? {}, sink, disposed: false };
        calls.push(call);
        return () => {
          call.disposed = true;
        };
      },
    };
    const binding = createLiveBinding({ client, dashboardId: 'd1' }, () => {});
    bindings.push(binding);
    binding.update(liveSourceOf(widget('chart', { source: { datasource: 'prom', expr: 'up', step: 5 } })), 300);
    expect(calls[0]!.query).toContain('query QueryData');
    expect(calls[0]!.variables).toMatchObject({ dashboardId: 'd1', datasource: 'prom', expr: 'up', step: 5000 });
    calls[0]!.sink.next({ data: { dashboard: { id: 'd1', queryData: [] } } });
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    expect(binding.state.status).toBe('live');
    const stream = calls.find((c) => c.query.includes('subscription QueryUpdates'))!;
    expect(stream.variables).toMatchObject({ dashboardId: 'd1', datasource: 'prom', expr: 'up', step: 5000 });
    binding.close();
    expect(stream.disposed).toBe(true);
  });
});
