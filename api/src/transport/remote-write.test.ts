/**
 * Decoding remote write against an independent encoder: prometheus-remote-write's full
 * prompb schema (exemplars, metadata and all) with snappyjs, not our own reduced schema.
 */
import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import { DomainError } from '../errors.js';
import { decodeRemoteWrite, isStaleMarker } from './remote-write.js';

const require = createRequire(import.meta.url);
const { serialize } = require('prometheus-remote-write') as {
  serialize(payload: unknown): Promise<Uint8Array>;
};
const SnappyJS = require('snappyjs') as { compress(input: Uint8Array): Uint8Array };

const staleNaN = new DataView(new ArrayBuffer(8));
staleNaN.setBigUint64(0, 0x7ff0000000000002n);
const STALE = staleNaN.getFloat64(0);

async function body(payload: unknown): Promise<Uint8Array> {
  return SnappyJS.compress(await serialize(payload));
}

function reasonOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return `${error.code}:${String(error.extensions.reason)}`;
    throw error;
  }
  return 'accepted';
}

describe('LD1: Prometheus remote write decoding', () => {
  it('turns every sample into a point: __name__ is the series, the other labels its labels', async () => {
    const t = Date.UTC(2026, 11, 4, 12);
    const decoded = decodeRemoteWrite(
      await body({
        timeseries: [
          {
            labels: [
              { name: '__name__', value: 'up' },
              { name: 'job', value: 'api' },
              { name: 'instance', value: '127.0.0.1:4000' },
            ],
            samples: [
              { value: 1, timestamp: t },
              { value: 0, timestamp: t + 15_000 },
            ],
            exemplars: [{ labels: [{ name: 'trace_id', value: 'abc' }], value: 1, timestamp: t }],
          },
          { labels: [{ name: '__name__', value: 'rate:5m' }], samples: [{ value: -2.5e300, timestamp: t }] },
        ],
        metadata: [{ type: 1, metricFamilyName: 'up', help: 'scrape ok', unit: '' }],
      }),
    );
    expect(decoded).toEqual({
      points: [
        { series: 'up', labels: { job: 'api', instance: '127.0.0.1:4000' }, t, v: 1 },
        { series: 'up', labels: { job: 'api', instance: '127.0.0.1:4000' }, t: t + 15_000, v: 0 },
        { series: 'rate:5m', labels: {}, t, v: -2.5e300 },
      ],
      stale: 0,
    });
  });

  it('skips staleness markers (and only them: another NaN stays for validation to refuse)', async () => {
    expect(isStaleMarker(STALE)).toBe(true);
    expect(isStaleMarker(Number.NaN)).toBe(false);
    expect(isStaleMarker(1)).toBe(false);
    const decoded = decodeRemoteWrite(
      await body({
        timeseries: [
          {
            labels: [{ name: '__name__', value: 'x' }],
            samples: [
              { value: STALE, timestamp: 1 },
              { value: Number.NaN, timestamp: 2 },
              { value: 3, timestamp: 3 },
            ],
          },
        ],
      }),
    );
    expect(decoded.stale).toBe(1);
    expect(decoded.points.map((p) => p.t)).toEqual([2, 3]);
    expect(Number.isNaN(decoded.points[0]!.v)).toBe(true);
  });

  it('decodes an empty request to nothing', async () => {
    expect(decodeRemoteWrite(await body({ timeseries: [] }))).toEqual({ points: [], stale: 0 });
  });

  it('refuses a body that is not snappy, or not a WriteRequest, as BAD_USER_INPUT (400)', async () => {
    expect(reasonOf(() => decodeRemoteWrite(new TextEncoder().encode('{"points": []}')))).toBe(
      'BAD_USER_INPUT:BAD_SNAPPY',
    );
    expect(reasonOf(() => decodeRemoteWrite(SnappyJS.compress(new Uint8Array([0x0a, 0xff, 0xff, 0x01]))))).toBe(
      'BAD_USER_INPUT:BAD_PROTOBUF',
    );
    const valid = await body({ timeseries: [{ labels: [{ name: '__name__', value: 'x' }], samples: [{ value: 1 }] }] });
    expect(reasonOf(() => decodeRemoteWrite(valid.slice(0, valid.length - 3)))).toMatch(/^BAD_USER_INPUT:BAD_/);
  });
});
