import { describe, expect, it } from '@jest/globals';
import type { LiveSeriesState } from './live-series.js';
import { liveDataAttributes, liveMetricView, liveTableView, LOADING_TEXT, nothingToDraw } from './live-widget-view.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const A = { id: '1', name: 'cpu', labels: { host: 'a' } };
const B = { id: '2', name: 'cpu', labels: { host: 'b', dc: 'paris' } };

function state(overrides: Partial<LiveSeriesState> = {}): LiveSeriesState {
  return {
    status: 'live',
    data: [],
    last: new Map(),
    window: { from: T0 - 15 * MIN, to: T0, step: MIN },
    error: null,
    sourceError: null,
    ...overrides,
  };
}

describe('[LD4] a bound metric tile', () => {
  it('shows the newest raw point, its change since the window began, the series as its label and a sparkline', () => {
    const view = liveMetricView(
      { unit: '%' },
      state({
        data: [
          {
            series: A,
            points: [
              [T0 - 10 * MIN, 40],
              [T0 - 2 * MIN, 50],
            ],
          },
        ],
        last: new Map([['1', { t: T0 - 30_000, v: 55 }]]),
      }),
      'en-US',
    );
    expect(view.placeholder).toBeNull();
    expect(view.metric).toMatchObject({ value: '55', unit: '%', label: 'cpu{host="a"}' });
    expect(view.metric.delta).toMatchObject({ direction: 'up', full: '15' });
    expect(view.sparkline).toMatch(/^M/);
  });

  it('keeps its own label; no change from a single bucket; says why it has no value', () => {
    const one = liveMetricView(
      { label: 'Load' },
      state({
        data: [{ series: A, points: [[T0 - MIN, 40]] }],
        last: new Map([['1', { t: T0 - 30_000, v: 41 }]]),
      }),
      'en-US',
    );
    expect(one.metric).toMatchObject({ value: '41', label: 'Load', delta: null });
    expect(liveMetricView({}, state({ status: 'loading' })).placeholder).toBe(LOADING_TEXT);
    expect(liveMetricView({}, state()).placeholder).toBe('No series match');
    const stale = state({ data: [{ series: A, points: [] }], last: new Map([['1', { t: T0 - 60 * MIN, v: 1 }]]) });
    expect(liveMetricView({}, stale).placeholder).toBe('No data in this window');
  });
});

describe('[LD4] a bound table', () => {
  it('has a column per label name, then the newest value and its time; one row per series', () => {
    const table = liveTableView(
      state({
        data: [
          { series: A, points: [[T0 - MIN, 1]] },
          { series: B, points: [] },
        ],
        last: new Map([['1', { t: T0 - 1000, v: 1234.5 }]]),
      }),
      { locale: 'en-GB', timeZone: 'UTC', unit: 'ms' },
    );
    expect(table.columns).toEqual(['host', 'dc', 'value', 'time']);
    expect(table.rows).toEqual([
      ['a', '', '1,234.5 ms', '01/01/2026, 11:59:59'],
      ['b', 'paris', '', ''],
    ]);
  });

  it('[LD5] names each row when the series are of several metrics (a query such as {__name__=~"process_.*_bytes"})', () => {
    const labels = { instance: 'app:80', job: 'app' };
    const table = liveTableView(
      state({
        data: [
          { series: { id: 'r', name: 'process_resident_memory_bytes', labels }, points: [[T0, 1]] },
          { series: { id: 'v', name: 'process_virtual_memory_bytes', labels }, points: [[T0, 2]] },
        ],
      }),
      { locale: 'en-GB', timeZone: 'UTC' },
    );
    expect(table.columns).toEqual(['series', 'instance', 'job', 'value', 'time']);
    expect(table.rows.map((row) => row.slice(0, 4))).toEqual([
      ['process_resident_memory_bytes', 'app:80', 'app', '1'],
      ['process_virtual_memory_bytes', 'app:80', 'app', '2'],
    ]);
  });

  it('names unlabelled series in one column', () => {
    const table = liveTableView(state({ data: [{ series: { id: '3', name: 'up', labels: {} }, points: [[T0, 1]] }] }), {
      locale: 'en-GB',
      timeZone: 'UTC',
    });
    expect(table).toEqual({ columns: ['series', 'value', 'time'], rows: [['up', '1', '01/01/2026, 12:00:00']] });
  });
});

describe('[LD5] what a bound widget says about its data', () => {
  it('draws nothing but the banner or the error while it holds no data', () => {
    const data = [{ series: A, points: [[T0, 1]] }];
    expect(nothingToDraw(state({ sourceError: 'Data source prom is unavailable' }))).toBe(true);
    expect(nothingToDraw(state({ status: 'error', error: 'Socket gone.' }))).toBe(true);
    expect(nothingToDraw(state({ data, sourceError: 'Data source prom is unavailable' }))).toBe(false);
    expect(nothingToDraw(state())).toBe(false); // "No series match" is the truth here
  });

  it('counts the points drawn, names the newest value, and flags a data source that cannot be queried', () => {
    const data = [
      { series: A, points: [[T0 - MIN, 1], [T0, 2]] }, // prettier-ignore
      { series: B, points: [[T0, 7]] },
    ];
    const last = new Map([
      ['1', { t: T0, v: 2 }],
      ['2', { t: T0 - 1, v: 7 }],
    ]);
    expect(liveDataAttributes(state({ data, last }))).toEqual({
      'data-points': 3,
      'data-last': 2,
      'data-source-error': undefined,
    });
    expect(liveDataAttributes(state({ data, last, sourceError: 'Data source prom is unavailable' }))).toMatchObject({
      'data-points': 3,
      'data-source-error': 'true',
    });
  });
});
