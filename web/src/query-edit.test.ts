import { describe, expect, it } from '@jest/globals';
import { parseSource } from '../shared/live-series.js';
import {
  applyCompletion,
  bindQuery,
  checkRange,
  completionsFor,
  draftOf,
  draftProblem,
  nameAt,
  rangeLabel,
  rebaseDraft,
  sameQuery,
  stepChoices,
  type QueryDraft,
} from './query-edit.js';

const draft = (overrides: Partial<QueryDraft> = {}): QueryDraft => ({
  datasource: 'prom',
  expr: 'up',
  window: 900,
  step: null,
  ...overrides,
});

describe('[LD5] the query a widget binds to', () => {
  it('starts from the bound query, else from an empty one on the first data source keeping the window', () => {
    const bound = parseSource({ source: { datasource: 'b', expr: 'sum(up)', window: 300, step: 5 } });
    expect(draftOf(bound, ['a', 'b'])).toEqual({ datasource: 'b', expr: 'sum(up)', window: 300, step: 5 });
    const series = parseSource({ source: { series: 'cpu', window: 3600 } });
    expect(draftOf(series, ['a', 'b'])).toEqual({ datasource: 'a', expr: '', window: 3600, step: null });
    expect(draftOf(null, [])).toEqual({ datasource: '', expr: '', window: 900, step: null });
  });

  it('writes the data source and expression, the window unless the default, the step unless auto', () => {
    expect(bindQuery(undefined, draft({ expr: '  up ' }))).toEqual({ datasource: 'prom', expr: 'up' });
    expect(bindQuery({ series: 'cpu', labels: { a: 'b' }, agg: 'MAX' }, draft({ window: 300, step: 15 }))).toEqual({
      datasource: 'prom',
      expr: 'up',
      window: 300,
      step: 15,
    });
    // A window written before stays written, so binding the same query again changes nothing.
    expect(bindQuery({ series: 'cpu', window: 900 }, draft())).toEqual({ datasource: 'prom', expr: 'up', window: 900 });
    expect(bindQuery({ datasource: 'prom', expr: 'up' }, draft())).toBeNull();
    expect(bindQuery({ datasource: 'prom', expr: 'up', window: 900 }, draft())).toBeNull();
    expect(parseSource({ source: bindQuery(undefined, draft({ step: 30 })) })).toMatchObject({
      kind: 'query',
      step: 30,
    });
  });

  it('keeps what the user typed and has not applied when the bound query changes; the rest follows it', () => {
    const bound = draft({ expr: 'rate(process_cpu_seconds_total[10s])', window: 300, step: 1 });
    // Typed, not applied; a collaborator (or an undo) sets the step: the typed text stays.
    const typed = { ...bound, expr: 'process_resident_memory_bytes' };
    expect(rebaseDraft(typed, bound, { ...bound, step: 5 })).toEqual({ ...typed, step: 5 });
    // A window chosen and not applied stays too, whatever the bound window becomes.
    const windowed = { ...bound, window: 900 };
    expect(rebaseDraft(windowed, bound, { ...bound, window: 3600, expr: 'up' })).toEqual({
      ...bound,
      expr: 'up',
      window: 900,
    });
    // Applied: what is bound now is what was typed, nothing left to apply.
    const applied = { ...typed, window: 900 };
    expect(rebaseDraft(applied, bound, applied)).toEqual(applied);
    // Unbound (undo of the first bind): an untouched draft empties, a typed one stays.
    const unbound = draft({ expr: '', window: 900, step: null });
    expect(rebaseDraft(bound, bound, unbound)).toEqual(unbound);
    expect(rebaseDraft(typed, bound, unbound)).toEqual({ ...unbound, expr: typed.expr });
  });

  it('tells a draft that would change what is bound from one that reads the same', () => {
    expect(sameQuery(draft({ expr: ' up ' }), draft())).toBe(true);
    expect(sameQuery(draft({ window: 300 }), draft())).toBe(false);
    expect(sameQuery(draft({ step: 1 }), draft())).toBe(false);
    expect(sameQuery(draft({ datasource: 'b' }), draft())).toBe(false);
    expect(sameQuery(draft({ expr: 'down' }), draft())).toBe(false);
  });

  it('names a window and step as the selects do', () => {
    expect(rangeLabel({ window: 300, step: 1 })).toBe('5 m at a 1 s step');
    expect(rangeLabel({ window: 900, step: null })).toBe('15 m at an auto step');
    expect(rangeLabel({ window: 120, step: 20 })).toBe('120 s at a 20 s step');
  });

  it('lists auto and the usual steps, and a step set elsewhere among them', () => {
    expect(stepChoices(null)[0]).toEqual({ seconds: null, label: 'auto' });
    expect(stepChoices(15).map((c) => c.seconds)).toEqual(stepChoices(null).map((c) => c.seconds));
    expect(stepChoices(20).map((c) => c.seconds)).toEqual([null, 1, 5, 15, 20, 30, 60, 300, 900, 3600]);
  });

  it('says what is missing before anything is sent; the server judges the PromQL', () => {
    expect(draftProblem(draft())).toBeNull();
    expect(draftProblem(draft({ expr: ' ' }))).toMatch(/expression/);
    expect(draftProblem(draft({ datasource: '' }))).toMatch(/data source/);
    expect(draftProblem(draft({ expr: 'x'.repeat(4001) }))).toMatch(/4000/);
    expect(draftProblem(draft({ expr: 'rate(' }))).toBeNull();
  });

  it('checks a draft over its window, at its step or one that fits a widget, in whole seconds', () => {
    expect(checkRange(draft({ step: 30 }), 1_000_000_000)).toEqual({ from: 1_000_000_000 - 900_000, step: 30_000 });
    expect(checkRange(draft({ window: 604_800 }), 0).step % 1000).toBe(0);
    expect(checkRange(draft({ window: 300 }), 0, 4000).step).toBe(1000);
  });
});

describe('[LD5] completing a PromQL expression', () => {
  it('finds the name at the caret; none in a string, a label matcher, a range or a number', () => {
    expect(nameAt('rate(http_req', 13)).toEqual({ start: 5, end: 13, word: 'http_req' });
    expect(nameAt('rate(http_req[5m])', 9)).toEqual({ start: 5, end: 13, word: 'http_req' });
    expect(nameAt('sum(up) by (job)', 3)).toEqual({ start: 0, end: 3, word: 'sum' });
    expect(nameAt('up{job="api', 10)).toBeNull();
    expect(nameAt('up{job', 6)).toBeNull();
    expect(nameAt('up{job="a"} + down', 18)).toEqual({ start: 14, end: 18, word: 'down' });
    expect(nameAt('rate(x[5m', 9)).toBeNull();
    expect(nameAt('up > 10', 7)).toBeNull();
    expect(nameAt('up + ', 5)).toBeNull();
    expect(nameAt('"a\\"b" + ns:cpu', 15)).toEqual({ start: 9, end: 15, word: 'ns:cpu' });
  });

  it('offers metric names containing the word (those starting with it first), then functions starting with it', () => {
    const names = [
      'go_gc_duration_seconds',
      'process_cpu_seconds_total',
      'rate_limited_total',
      'scrape_duration_seconds',
    ];
    expect(completionsFor('dur', names)).toEqual([
      { value: 'go_gc_duration_seconds', kind: 'metric' },
      { value: 'scrape_duration_seconds', kind: 'metric' },
    ]);
    expect(completionsFor('rate', names).map((c) => c.value)).toEqual(['rate_limited_total', 'rate']);
    expect(completionsFor('SCRAPE', names).map((c) => c.value)).toEqual(['scrape_duration_seconds']);
    expect(completionsFor('histogram_q', []).map((c) => c.value)).toEqual(['histogram_quantile']);
    expect(completionsFor('s', names, 2)).toHaveLength(2);
    // Typed out already: nothing left to offer.
    expect(completionsFor('scrape_duration_seconds', names)).toEqual([]);
  });

  it('replaces the word with the choice, opening a call for a function, and puts the caret after it', () => {
    const token = nameAt('sum(rat) + 1', 7)!;
    expect(applyCompletion('sum(rat) + 1', token, { value: 'rate', kind: 'function' })).toEqual({
      expr: 'sum(rate() + 1',
      caret: 9,
    });
    const metric = nameAt('rate(scrape_d[1m])', 13)!;
    expect(applyCompletion('rate(scrape_d[1m])', metric, { value: 'scrape_duration_seconds', kind: 'metric' })).toEqual(
      {
        expr: 'rate(scrape_duration_seconds[1m])',
        caret: 28,
      },
    );
    const call = nameAt('ra(x)', 2)!;
    expect(applyCompletion('ra(x)', call, { value: 'rate', kind: 'function' }).expr).toBe('rate(x)');
  });
});
