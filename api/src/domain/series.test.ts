import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../errors.js';
import {
  MAX_POINTS_PER_REQUEST,
  labelsMatch,
  seriesKey,
  validatePoints,
  type PointInput,
  type PointRules,
} from './series.js';

const now = Date.UTC(2026, 11, 4, 12);
const rules: PointRules = { now, retentionMs: 7 * 86_400_000 };

function refusal(points: PointInput[]): { code: string; message: string; extensions: Record<string, unknown> } {
  try {
    validatePoints(points, rules);
  } catch (error) {
    if (error instanceof DomainError) return { code: error.code, message: error.message, extensions: error.extensions };
    throw error;
  }
  throw new Error('accepted');
}

describe('LD1: what a pushed point may be', () => {
  it('accepts metric names and labels, sorts the labels, and gives a point without t the server time', () => {
    const [a, b] = validatePoints(
      [
        { series: 'http_requests_total', labels: { status: '200', job: 'api' }, t: now - 1000, v: 3 },
        { series: 'node:cpu:ratio', v: 0.5 },
      ],
      rules,
    );
    expect(a).toEqual({
      name: 'http_requests_total',
      labels: { job: 'api', status: '200' },
      key: seriesKey('http_requests_total', { job: 'api', status: '200' }),
      t: now - 1000,
      v: 3,
    });
    expect(Object.keys(a!.labels)).toEqual(['job', 'status']);
    expect(b).toMatchObject({ name: 'node:cpu:ratio', labels: {}, t: now, v: 0.5 });
  });

  it.each<[string, PointInput, RegExp]>([
    ['NaN', { series: 'x', v: Number.NaN }, /finite/],
    ['Infinity', { series: 'x', v: Number.POSITIVE_INFINITY }, /finite/],
    ['a string value', { series: 'x', v: '1' }, /finite/],
    ['a name with a dash', { series: 'http-requests', v: 1 }, /metric name/],
    ['a name starting with a digit', { series: '1x', v: 1 }, /metric name/],
    ['an empty name', { series: '', v: 1 }, /non-empty/],
    ['a 201-character name', { series: 'a'.repeat(201), v: 1 }, /longer than 200/],
    ['a reserved label', { series: 'x', labels: { __name__: 'y' }, v: 1 }, /reserved/],
    ['a bad label name', { series: 'x', labels: { 'a-b': 'y' }, v: 1 }, /label name/],
    ['a number label value', { series: 'x', labels: { a: 1 }, v: 1 }, /must be a string/],
    ['a 257-character label value', { series: 'x', labels: { a: 'v'.repeat(257) }, v: 1 }, /longer than 256/],
    [
      '17 labels',
      { series: 'x', labels: Object.fromEntries([...Array(17).keys()].map((i) => [`l${i}`, 'v'])), v: 1 },
      /more than 16/,
    ],
    ['labels as an array', { series: 'x', labels: ['a'], v: 1 }, /object of strings/],
    ['a fractional t', { series: 'x', t: now + 0.5, v: 1 }, /integer/],
    ['a t older than the retention', { series: 'x', t: now - rules.retentionMs - 1, v: 1 }, /retention/],
    ['a t more than 5 minutes ahead', { series: 'x', t: now + 5 * 60_000 + 1, v: 1 }, /5 minutes/],
  ])('refuses %s with BAD_USER_INPUT naming the index of the first bad point', (_, bad, why) => {
    const good: PointInput = { series: 'ok', v: 1 };
    const error = refusal([good, good, bad, { series: 'also-bad', v: 1 }]);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.extensions).toEqual({ index: 2 });
    expect(error.message).toMatch(/^Point 2: /);
    expect(error.message).toMatch(why);
  });

  it('accepts the edges: exactly the retention, exactly 5 minutes ahead, 16 labels, 200 characters', () => {
    const labels = Object.fromEntries([...Array(16).keys()].map((i) => [`l${i}`, 'v'.repeat(256)]));
    expect(
      validatePoints(
        [
          { series: 'a'.repeat(200), labels, t: now - rules.retentionMs, v: -0 },
          { series: 'x', t: now + 5 * 60_000, v: Number.MAX_VALUE },
        ],
        rules,
      ),
    ).toHaveLength(2);
  });

  it(`refuses more than ${MAX_POINTS_PER_REQUEST} points as PAYLOAD_TOO_LARGE before looking at them`, () => {
    const points = Array.from({ length: MAX_POINTS_PER_REQUEST + 1 }, () => ({ series: 'bad name', v: 1 }));
    expect(refusal(points).code).toBe('PAYLOAD_TOO_LARGE');
    expect(
      validatePoints(
        points.slice(1).map(() => ({ series: 'x', v: 1 })),
        rules,
      ),
    ).toHaveLength(MAX_POINTS_PER_REQUEST);
  });
});

describe('series identity and matching', () => {
  it('is one series whatever the order of its labels, and another for another name or value', () => {
    expect(seriesKey('x', { a: '1', b: '2' })).toBe(seriesKey('x', { b: '2', a: '1' }));
    expect(seriesKey('x', { a: '1' })).not.toBe(seriesKey('y', { a: '1' }));
    expect(seriesKey('x', { a: '1' })).not.toBe(seriesKey('x', { a: '2' }));
    // No concatenation ambiguity: a label value holding what looks like another pair.
    expect(seriesKey('x', { a: '1","b' })).not.toBe(seriesKey('x', { a: '1', b: '' }));
  });

  it('matches a label subset exactly', () => {
    expect(labelsMatch(undefined, { job: 'api' })).toBe(true);
    expect(labelsMatch({}, { job: 'api' })).toBe(true);
    expect(labelsMatch({ job: 'api' }, { job: 'api', instance: 'a' })).toBe(true);
    expect(labelsMatch({ job: 'ap' }, { job: 'api' })).toBe(false);
    expect(labelsMatch({ zone: 'eu' }, { job: 'api' })).toBe(false);
  });
});
