import { describe, expect, it } from '@jest/globals';
import { chartGeometry, chartShapes } from './chart.js';

describe('chart geometry', () => {
  it('draws one path per series, and an area fill', () => {
    const series = [
      {
        name: 'a',
        points: [
          [0, 1],
          [1, 3],
          [2, 2],
        ],
      },
    ];
    const [line] = chartShapes('line', series, 100, 50);
    expect(line!.path.startsWith('M')).toBe(true);
    expect(line!.path.split('L')).toHaveLength(3);
    expect(chartShapes('area', series, 100, 50)[0]!.fill).toMatch(/Z$/);
    expect(chartShapes('bar', series, 100, 50)[0]!.path.match(/Z/g)).toHaveLength(3);
    expect(chartShapes('line', [], 100, 50)).toEqual([]);
  });
  it('spans the data range, y from 0 or below', () => {
    const series = [
      {
        name: 'up',
        points: [
          [1, 5],
          [3, 20],
        ],
      },
      { name: 'down', points: [[2, -4]] },
    ];
    expect(chartGeometry('line', series, 100, 50).scales).toEqual({ x: { min: 1, max: 3 }, y: { min: -4, max: 20 } });
    expect(chartGeometry('bar', [{ points: [[0, 7]] }], 100, 50).scales).toEqual({
      x: { min: 0, max: 0 },
      y: { min: 0, max: 7 },
    });
    expect(chartGeometry('line', [{ points: 'none' }], 100, 50)).toEqual({ shapes: [], scales: null });
  });
});
