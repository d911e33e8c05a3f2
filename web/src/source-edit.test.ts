import { describe, expect, it } from '@jest/globals';
import { parseSource, WINDOW_CHOICES } from '../shared/live-series.js';
import {
  bindName,
  bindSeries,
  isBoundTo,
  isBoundToName,
  matchesSearch,
  pickerRows,
  pushHint,
  searchText,
  seriesOptionView,
  windowChoices,
  withSourceField,
} from './source-edit.js';

const CPU = { id: '1', name: 'cpu_usage', labels: { host: 'web-1', dc: 'Paris' }, last: { t: 0, v: 1530 } };

describe('[LD4] binding a widget to a series', () => {
  it('binds to the series name and all its labels', () => {
    expect(bindSeries(undefined, CPU)).toEqual({ series: 'cpu_usage', labels: { host: 'web-1', dc: 'Paris' } });
    expect(bindSeries(undefined, { name: 'up', labels: null })).toEqual({ series: 'up', labels: {} });
  });

  it('keeps the window, aggregation and step the widget had, and writes no defaults', () => {
    const current = { series: 'mem', labels: { host: 'a' }, window: 3600, agg: 'MAX', step: 30 };
    expect(bindSeries(current, CPU)).toEqual({ ...current, series: 'cpu_usage', labels: CPU.labels });
    expect(bindSeries({ series: 'mem', window: 300 }, CPU)).toEqual({
      series: 'cpu_usage',
      labels: CPU.labels,
      window: 300,
    });
  });

  it('changes nothing when the widget reads that series already', () => {
    const bound = bindSeries(undefined, CPU);
    expect(bindSeries(bound, CPU)).toBeNull();
    expect(bindSeries({ ...bound, window: 300 }, CPU)).toBeNull();
  });

  it('sets the window or aggregation of a bound widget only, and only when it changes', () => {
    const bound = { series: 'cpu_usage', labels: {}, window: 900 };
    expect(withSourceField(bound, 'window', 3600)).toEqual({ ...bound, window: 3600 });
    expect(withSourceField(bound, 'agg', 'MAX')).toEqual({ ...bound, agg: 'MAX' });
    expect(withSourceField(bound, 'window', 900)).toBeNull();
    expect(withSourceField(undefined, 'window', 300)).toBeNull();
    expect(withSourceField([1], 'agg', 'SUM')).toBeNull();
  });

  it('lists the standard windows, and a window set elsewhere in its place', () => {
    expect(windowChoices(900)).toBe(WINDOW_CHOICES);
    const choices = windowChoices(1200);
    expect(choices.map((c) => c.seconds)).toEqual([300, 900, 1200, 3600, 21_600, 86_400, 604_800]);
    expect(choices.find((c) => c.seconds === 1200)!.label).toBe('1200 s');
  });

  it('knows which series a source reads: the same name and the same labels', () => {
    const source = parseSource({ source: bindSeries(undefined, CPU) });
    expect(isBoundTo(source, CPU)).toBe(true);
    expect(isBoundTo(source, { ...CPU, labels: { host: 'web-1' } })).toBe(false);
    expect(isBoundTo(source, { ...CPU, name: 'mem' })).toBe(false);
    expect(isBoundTo(parseSource({ source: { series: 'up', labels: {} } }), { name: 'up', labels: {} })).toBe(true);
    expect(isBoundTo(null, CPU)).toBe(false);
  });
});

describe('the series picker', () => {
  it('searches what the server searches: each word, in any case, in the name or a label', () => {
    expect(searchText(CPU)).toBe('["cpu_usage","dc","paris","host","web-1"]');
    expect(matchesSearch(CPU, '')).toBe(true);
    expect(matchesSearch(CPU, '  CPU   paris ')).toBe(true);
    expect(matchesSearch(CPU, 'host web')).toBe(true);
    expect(matchesSearch(CPU, 'cpu london')).toBe(false);
    expect(matchesSearch({ name: 'up', labels: null }, 'up')).toBe(true);
  });

  it('shows each series by its name, labels and newest value', () => {
    const view = seriesOptionView(
      { ...CPU, last: { t: Date.UTC(2026, 0, 1, 12), v: 1_530_000 } },
      {
        locale: 'en-US',
        timeZone: 'UTC',
      },
    );
    expect(view).toEqual({
      name: 'cpu_usage',
      labels: '{host="web-1", dc="Paris"}',
      last: '1.53M',
      lastTitle: 'Last: 1,530,000 at Jan 1, 2026, 12:00:00 PM',
    });
    expect(seriesOptionView({ id: '2', name: 'up', labels: {}, last: null })).toEqual({
      name: 'up',
      labels: '',
      last: null,
      lastTitle: null,
    });
  });

  it('tells how to push the first points', () => {
    expect(pushHint('d 1')).toMatchObject({ request: 'POST /api/dashboards/d%201/points' });
  });
});

describe('binding every series of a name', () => {
  const a = (labels: Record<string, string>, id: string) => ({ id, name: 'cpu', labels, last: null });
  it('puts one row for all of a name before its series when the list holds several', () => {
    const list = [a({ host: 'a' }, '1'), a({ host: 'b' }, '2'), { id: '3', name: 'mem', labels: {}, last: null }];
    expect(
      pickerRows(list).map((row) => (row.kind === 'name' ? `all ${row.name} ${row.count}` : row.series.id)),
    ).toEqual(['all cpu 2', '1', '2', '3']);
  });

  it('binds the name without labels, keeping window and aggregation, once', () => {
    const current = { series: 'cpu', labels: { host: 'a' }, window: 3600, agg: 'MAX' };
    const next = bindName(current, 'cpu');
    expect(next).toEqual({ series: 'cpu', window: 3600, agg: 'MAX' });
    expect(bindName(next, 'cpu')).toBeNull();
    expect(isBoundToName(parseSource({ source: next }), 'cpu')).toBe(true);
    expect(isBoundToName(parseSource({ source: current }), 'cpu')).toBe(false);
  });
});
