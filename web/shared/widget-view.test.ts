import { describe, expect, it } from '@jest/globals';
import { newWidget, type Widget } from '@collab-dashboards/core';
import { SERIES_COLORS } from './chart.js';
import { chartView, kindLabel, tableView, widgetView } from './widget-view.js';

describe('widget view model', () => {
  it('titles a widget by its title, or by its kind', () => {
    expect(widgetView(newWidget('note', { id: 'n', title: 'Plan' })).title).toBe('Plan');
    expect(widgetView(newWidget('metric', { id: 'm', title: '' })).title).toBe('Metric');
    expect(kindLabel('chart')).toBe('Chart');
  });

  it('shows a note as its text', () => {
    const note = { ...newWidget('note', { id: 'n' }), text: 'hello' };
    expect(widgetView(note)).toMatchObject({ type: 'note', text: 'hello' });
  });

  it('gives a metric its delta, toned by lowerIsBetter', () => {
    const metric = newWidget('metric', {
      id: 'm',
      config: { value: 120, unit: 'ms', label: 'p95', delta: -15, lowerIsBetter: true },
    });
    const view = widgetView(metric, 'en-US');
    expect(view).toMatchObject({
      type: 'metric',
      metric: { value: '120', fullText: '120 ms', delta: { text: '▼ 15', direction: 'down', tone: 'good' } },
    });
    const higher = widgetView({ ...metric, config: { ...metric.config, lowerIsBetter: false } }, 'en-US');
    expect(higher).toMatchObject({ metric: { delta: { tone: 'bad' } } });
  });

  it('draws a chart: one series and one legend entry per series, with its scales', () => {
    const view = chartView({
      kind: 'area',
      series: [
        {
          name: 'signups',
          points: [
            [1, 10],
            [2, 30],
          ],
        },
        { points: [[1, 5]] },
      ],
    });
    expect(view).toMatchObject({ kind: 'area', viewBox: '0 0 300 140', label: 'area chart', placeholder: null });
    expect(view.legend).toEqual([
      { name: 'signups', color: SERIES_COLORS[0] },
      { name: 'Series 2', color: SERIES_COLORS[1] },
    ]);
    expect(view.series[0]).toMatchObject({
      paint: { fill: 'none', stroke: SERIES_COLORS[0] },
      area: { opacity: 0.18 },
    });
    expect(view.scales).toEqual({ x: { min: 1, max: 2 }, y: { min: 0, max: 30 } });
  });

  it('fills bars, reads an unknown kind as a line, and says when there is nothing to draw', () => {
    const bar = chartView({ kind: 'bar', series: [{ name: 'a', points: [[0, 1]] }] });
    expect(bar.series[0]).toMatchObject({ paint: { fill: SERIES_COLORS[0], stroke: 'none' }, area: null });
    expect(chartView({ kind: 'pie', series: [] })).toMatchObject({
      kind: 'line',
      series: [],
      legend: [],
      scales: null,
      placeholder: 'No data yet.',
    });
  });

  it('writes table cells as text, a missing value as an empty cell', () => {
    expect(tableView({ columns: ['a', 2], rows: [[1, null, 'x'], 'not a row', [undefined]] })).toEqual({
      columns: ['a', '2'],
      rows: [['1', '', 'x'], ['']],
    });
    expect(tableView({})).toEqual({ columns: [], rows: [] });
  });

  it('names a widget type it cannot draw', () => {
    // A document written by a newer client may hold a type this one does not know.
    const odd = { ...newWidget('note', { id: 'x' }), type: 'gauge' } as unknown as Widget;
    expect(widgetView(odd)).toMatchObject({ type: 'unsupported', message: 'Unsupported widget type “gauge”.' });
  });
});
