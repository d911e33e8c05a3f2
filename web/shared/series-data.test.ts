import { describe, expect, it } from '@jest/globals';
import {
  alignSeries,
  fitStep,
  formatSeriesValue,
  gapThreshold,
  legendNames,
  seriesLabel,
  seriesMetric,
  sparklinePath,
  STALE_MS,
  windowPoints,
  type SeriesData,
} from './series-data.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const WINDOW = { from: T0, to: T0 + 15 * MIN };

function data(id: string, points: number[][], labels: unknown = {}, name = 'http_requests_total'): SeriesData {
  return { series: { id, name, labels, last: null }, points };
}

describe('[LD4] legend names', () => {
  it('names a series by its labels, in the order given, or by its name when it has none', () => {
    expect(seriesLabel(data('1', [], { job: 'api', instance: 'a' }).series)).toBe('{job="api", instance="a"}');
    expect(seriesLabel(data('2', [], {}).series)).toBe('http_requests_total');
    expect(seriesLabel(data('3', [], null).series)).toBe('http_requests_total');
    expect(seriesLabel(data('4', [], ['not', 'labels']).series)).toBe('http_requests_total');
  });

  it('quotes label values as Prometheus does', () => {
    expect(seriesLabel(data('1', [], { path: 'a "b"\\c\nd' }).series)).toBe('{path="a \\"b\\"\\\\c\\nd"}');
  });

  it('adds the name where series of different names would read the same', () => {
    const list = [
      data('1', [], { job: 'api' }, 'up'),
      data('2', [], { job: 'api' }, 'errors'),
      data('3', [], { job: 'db' }, 'up'),
      data('4', [], {}, 'up'),
    ];
    expect(legendNames(list)).toEqual(['up{job="api"}', 'errors{job="api"}', '{job="db"}', 'up']);
  });
});

describe('[LD4] points inside the window', () => {
  it('keeps both ends, drops what lies outside and malformed points', () => {
    const points = [[T0 - 1, 1], [T0, 2], [T0 + MIN, Number.NaN], [T0 + 2 * MIN], [WINDOW.to, 3], [WINDOW.to + 1, 4]];
    expect(windowPoints(points, WINDOW)).toEqual([
      [T0, 2],
      [WINDOW.to, 3],
    ]);
  });

  it('sorts late points in, the later write winning a repeated t', () => {
    const points = [
      [T0 + 2 * MIN, 2],
      [T0 + 3 * MIN, 3],
      [T0 + MIN, 1],
      [T0 + 3 * MIN, 30],
      [T0 + 3 * MIN, 31],
    ];
    expect(windowPoints(points, WINDOW)).toEqual([
      [T0 + MIN, 1],
      [T0 + 2 * MIN, 2],
      [T0 + 3 * MIN, 31],
    ]);
  });
});

describe('[LD4] aligned data for uPlot', () => {
  it('joins the timestamps; a series missing at another series’ t is undefined (the line joins across)', () => {
    const a = data('a', [
      [T0, 1],
      [T0 + 2 * MIN, 3],
    ]);
    const b = data('b', [
      [T0 + MIN, 10],
      [T0 + 2 * MIN, 30],
    ]);
    expect(alignSeries([a, b], WINDOW, gapThreshold())).toEqual({
      x: [T0, T0 + MIN, T0 + 2 * MIN],
      ys: [
        [1, undefined, 3],
        [undefined, 10, 30],
      ],
      points: 4,
    });
  });

  it('breaks a line with null inside a gap, at the gap’s midpoint and at every other stamp in it', () => {
    const gap = gapThreshold();
    const a = data('a', [
      [T0, 1],
      [T0 + 10 * MIN, 2],
    ]);
    const b = data('b', [
      [T0 + MIN, 5],
      [T0 + 2 * MIN, 6],
    ]);
    const aligned = alignSeries([a, b], WINDOW, gap);
    // a is null at every stamp inside its gap, so uPlot's clip covers all of it.
    expect(aligned.x).toEqual([T0, T0 + MIN, T0 + 2 * MIN, T0 + 5 * MIN, T0 + 10 * MIN]);
    expect(aligned.ys[0]).toEqual([1, null, null, null, 2]);
    expect(aligned.ys[1]).toEqual([undefined, 5, 6, undefined, undefined]);

    const alone = alignSeries([a], WINDOW, gap);
    expect(alone.x).toEqual([T0, T0 + 5 * MIN, T0 + 10 * MIN]);
    expect(alone.ys).toEqual([[1, null, 2]]);
  });

  it('treats no gap as one below the staleness period or two steps', () => {
    expect(gapThreshold()).toBe(STALE_MS);
    expect(gapThreshold(60 * MIN)).toBe(120 * MIN);
    const hourly = data('h', [
      [T0, 1],
      [T0 + 120 * MIN, 2],
    ]);
    const day = { from: T0, to: T0 + 24 * 60 * MIN, step: 60 * MIN };
    expect(alignSeries([hourly], day, gapThreshold(day.step)).ys).toEqual([[1, 2]]);
  });

  it('is empty when no series has a point in the window', () => {
    expect(alignSeries([data('a', [[T0 - MIN, 1]])], WINDOW)).toEqual({ x: [], ys: [[]], points: 0 });
    expect(alignSeries([], WINDOW)).toEqual({ x: [], ys: [], points: 0 });
  });
});

describe('[LD4] the step that fits a width', () => {
  it('gives about one point per 2 px, rounded up to a nice step', () => {
    // 15 min over 300 px: 150 points, 6 s each -> 10 s.
    expect(fitStep(15 * MIN, 300)).toBe(10_000);
    // 15 min over 900 px: 2 s exactly.
    expect(fitStep(15 * MIN, 900)).toBe(2_000);
    expect(fitStep(60 * MIN, 300)).toBe(30_000);
    expect(fitStep(24 * 60 * MIN, 600)).toBe(5 * MIN);
    expect(fitStep(7 * 24 * 60 * MIN, 400)).toBe(60 * MIN);
  });

  it('never goes below a second, and counts whole days beyond a day', () => {
    expect(fitStep(10_000, 2000)).toBe(1_000);
    expect(fitStep(0, 300)).toBe(1_000);
    expect(fitStep(400 * 24 * 60 * MIN, 200)).toBe(4 * 24 * 60 * MIN);
    expect(fitStep(15 * MIN, 0)).toBe(15 * MIN);
  });
});

describe('[LD4] metric tile numbers', () => {
  it('shows the last value of the first series and its change over the window', () => {
    const first = data('a', [
      [T0 - MIN, 1],
      [T0, 200],
      [T0 + 5 * MIN, 180],
      [T0 + 10 * MIN, 150],
    ]);
    const second = data('b', [[T0 + 11 * MIN, 9]]);
    expect(seriesMetric([first, second], WINDOW)).toEqual({
      value: 150,
      time: T0 + 10 * MIN,
      change: -50,
      changePercent: -25,
    });
  });

  it('has no change with one point, no percent from 0, nothing without a point', () => {
    expect(seriesMetric([data('a', [[T0, 5]])], WINDOW)).toEqual({
      value: 5,
      time: T0,
      change: null,
      changePercent: null,
    });
    expect(
      seriesMetric(
        [
          data('a', [
            [T0, 0],
            [T0 + MIN, 4],
          ]),
        ],
        WINDOW,
      ),
    ).toMatchObject({ change: 4, changePercent: null });
    expect(seriesMetric([data('a', [[T0 - MIN, 5]])], WINDOW)).toBeNull();
    expect(seriesMetric([], WINDOW)).toBeNull();
  });

  it('measures the percent against the size of a negative start', () => {
    const metric = seriesMetric(
      [
        data('a', [
          [T0, -4],
          [T0 + MIN, -2],
        ]),
      ],
      WINDOW,
    );
    expect(metric).toMatchObject({ change: 2, changePercent: 50 });
  });

  it('formats values with their unit', () => {
    expect(formatSeriesValue(1534, 'req/s', 'en-US')).toBe('1,534 req/s');
    expect(formatSeriesValue(2_500_000, null, 'en-US')).toBe('2.5M');
    expect(formatSeriesValue(0.25, '', 'en-US')).toBe('0.25');
  });
});

describe('[LD4] sparkline', () => {
  it('spans the window in x and the values in y', () => {
    const points = [
      [T0, 0],
      [T0 + 7.5 * MIN, 10],
      [WINDOW.to, 5],
    ];
    expect(sparklinePath(points, WINDOW, 100, 22)).toBe('M0 21L50 1L100 11');
  });

  it('draws a flat series through the middle, a lone point as a dot, nothing for no point', () => {
    expect(
      sparklinePath(
        [
          [T0, 3],
          [WINDOW.to, 3],
        ],
        WINDOW,
        60,
        20,
      ),
    ).toBe('M0 10L60 10');
    expect(sparklinePath([[T0 + 3 * MIN, 3]], WINDOW, 60, 20)).toBe('M12 10h0');
    expect(sparklinePath([[T0 - MIN, 3]], WINDOW, 60, 20)).toBe('');
  });
});
