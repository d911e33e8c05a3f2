import { describe, expect, it } from '@jest/globals';
import { deltaTone, formatFullNumber, formatMetricNumber, metricView } from './metric-format.js';

const short = (value: number) => formatMetricNumber(value, 'en-US');

describe('formatMetricNumber', () => {
  it('writes large values compactly', () => {
    expect(short(12345678.9)).toBe('12.3M');
    expect(short(1.5e12)).toBe('1.5T');
    expect(short(123456)).toBe('123K');
    expect(short(-2_500_000)).toBe('-2.5M');
    expect(short(4.2e18)).toBe('4.2E18');
  });

  it('writes tiny values in scientific notation instead of rounding them to 0', () => {
    expect(short(-0.000123)).toBe('-1.23E-4');
    expect(short(0.005)).toBe('5E-3');
  });

  it('writes everyday values out, briefly', () => {
    expect(short(0)).toBe('0');
    expect(short(-0)).toBe('0');
    expect(short(42)).toBe('42');
    expect(short(3.14159)).toBe('3.14');
    expect(short(0.1234)).toBe('0.123');
    expect(short(99999)).toBe('99,999');
    expect(short(1234.5)).toBe('1,235');
  });

  it('stays short for any magnitude', () => {
    for (let exponent = -12; exponent <= 20; exponent++) {
      for (const mantissa of [1, 1.23456, 9.87654]) {
        const value = mantissa * 10 ** exponent;
        expect({ value, text: short(-value) }).toEqual({ value, text: expect.stringMatching(/^.{1,9}$/) });
      }
    }
  });

  it('keeps the exact value for tooltips, without floating-point noise', () => {
    expect(formatFullNumber(12345678.9, 'en-US')).toBe('12,345,678.9');
    expect(formatFullNumber(-0.000123, 'en-US')).toBe('-0.000123');
    expect(formatFullNumber(0.1 + 0.2, 'en-US')).toBe('0.3');
  });
});

describe('deltaTone and metricView', () => {
  it('shows a rise as good by default, and a fall as good when lower is better', () => {
    expect(deltaTone(5, false)).toBe('good');
    expect(deltaTone(-5, false)).toBe('bad');
    expect(deltaTone(0, false)).toBe('good'); // as the tile always showed it
    expect(deltaTone(-5, true)).toBe('good');
    expect(deltaTone(5, true)).toBe('bad');
    expect(deltaTone(0, true)).toBe('good');
  });

  it('builds the tile from the config', () => {
    const view = metricView(
      { value: 12345678.9, unit: 'ms', label: 'p95 latency', delta: -1500, lowerIsBetter: true },
      'en-US',
    );
    expect(view).toEqual({
      value: '12.3M',
      fullValue: '12,345,678.9',
      fullText: '12,345,678.9 ms',
      unit: 'ms',
      label: 'p95 latency',
      delta: { text: '▼ 1,500', direction: 'down', tone: 'good', full: '-1,500', spoken: 'down 1,500 (good)' },
      description: 'p95 latency: 12,345,678.9 ms, down 1,500 (good)',
    });
  });

  it("keeps today's colouring without lowerIsBetter, and tolerates missing or mistyped keys", () => {
    expect(metricView({ value: 1, delta: -2 }, 'en-US').delta).toMatchObject({ direction: 'down', tone: 'bad' });
    expect(metricView({ value: 1, delta: 2, lowerIsBetter: 'yes' }, 'en-US').delta).toMatchObject({ tone: 'good' });
    expect(metricView({ value: 'x', unit: '', label: 3, delta: 'up' }, 'en-US')).toEqual({
      value: '0',
      fullValue: '0',
      fullText: '0',
      unit: null,
      label: null,
      delta: null,
      description: 'Metric: 0',
    });
  });
});
