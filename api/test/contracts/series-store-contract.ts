/**
 * The SeriesStore's part of the Store contract (`./store-contract.ts`): writes all or nothing
 * under the series cap, replacing a (series, t) (LD1), deletion with the dashboard, raw and
 * bucketed reads and matching (LD2), listing. Positions, reads after one or since a time,
 * pruning and concurrent writers are in `./series-live-contract.ts`.
 */
import { randomUUID } from 'node:crypto';
import { validatePoints, type Labels } from '../../src/domain/series.js';
import type { SeriesMatch } from '../../src/ports/series-store.js';
import { registerSeriesLiveContract } from './series-live-contract.js';
import { CAP, DAY, newDashboard, newUser, point as pw, refusal, T0, type StorePorts } from './store-fixtures.js';

/** Registers the series tests in the current describe; `ports` is filled before they run. */
export function registerSeriesStoreContract(ports: StorePorts, options: { concurrentTransactions: boolean }) {
  const dashboard = async () => (await newDashboard(ports.dashboards, (await newUser(ports.accounts)).id)).id;
  const raw = async (d: string, match: SeriesMatch, from = T0 - DAY, to = T0 + DAY) =>
    (await ports.series.readPoints(d, match, { from, to, limit: 1000 })).map((s) => s.points);

  it('[LD1] a write stores its points in one transaction, creates its series and advances the position by one', async () => {
    const { series } = ports;
    const d = await dashboard();
    expect([await series.ingestPosition(d), await series.countSeries(d)]).toEqual([0, 0]);
    const first = await series.writePoints(
      d,
      [pw('cpu', { host: 'a' }, T0, 1), pw('mem', {}, T0, 3), pw('cpu', { host: 'a' }, T0 + 1000, 2)],
      CAP,
    );
    expect(first).toMatchObject({ accepted: 3, series: 2, position: 1 });
    expect(first.created.map((s) => [s.name, s.labels, s.dashboardId])).toEqual([
      ['cpu', { host: 'a' }, d],
      ['mem', {}, d],
    ]);
    expect(first.created[0]!.id).toMatch(/^\d+$/);
    expect(first.created[0]!.createdAt).toBeInstanceOf(Date);
    const second = await series.writePoints(d, [pw('cpu', { host: 'a' }, T0 + 2000, 4)], CAP);
    expect(second).toEqual({ accepted: 1, series: 1, created: [], position: 2 });
    expect([await series.ingestPosition(d), await series.countSeries(d)]).toEqual([2, 2]);
    expect(await series.listSeries(d, null, 10)).toEqual(first.created);
    expect(await raw(d, { name: 'cpu' })).toEqual([
      [
        [T0, 1],
        [T0 + 1000, 2],
        [T0 + 2000, 4],
      ],
    ]);
  });

  it('[LD1] labels make one series whatever their order, returned with keys sorted', async () => {
    const { series } = ports;
    const d = await dashboard();
    const now = Date.now();
    const points = validatePoints(
      [
        { series: 'm', labels: { b: '1', aa: '2' }, t: now - 1000, v: 1 },
        { series: 'm', labels: { aa: '2', b: '1' }, t: now, v: 2 },
      ],
      { now, retentionMs: DAY },
    );
    expect((await series.writePoints(d, points, CAP)).series).toBe(1);
    const [listed] = await series.listSeries(d, null, 10);
    // jsonb keeps the shorter key first; the port promises sorted keys.
    expect(Object.keys(listed!.labels)).toEqual(['aa', 'b']);
    expect(await series.countSeries(d)).toBe(1);
  });

  it('[LD1] the same (series, t) again replaces its value, so a resent batch changes nothing', async () => {
    const { series } = ports;
    const d = await dashboard();
    const batch = [pw('s', {}, T0, 1), pw('s', {}, T0 + 1000, 2)];
    await series.writePoints(d, batch, CAP);
    expect(await series.writePoints(d, batch, CAP)).toMatchObject({ accepted: 2, created: [] });
    expect(await raw(d, { name: 's' })).toEqual([
      [
        [T0, 1],
        [T0 + 1000, 2],
      ],
    ]);
    expect((await series.writePoints(d, [pw('s', {}, T0, 5)], CAP)).accepted).toBe(1);
    expect(await raw(d, { name: 's' })).toEqual([
      [
        [T0, 5],
        [T0 + 1000, 2],
      ],
    ]);
  });

  it('[LD1] the same (series, t) twice in one request: the last one wins', async () => {
    const { series } = ports;
    const d = await dashboard();
    const points = [pw('a', {}, T0, 1), pw('b', {}, T0, 7), pw('a', {}, T0, 2), pw('a', {}, T0, 3)];
    expect(await series.writePoints(d, points, CAP)).toMatchObject({ accepted: 4, series: 2 });
    expect(await raw(d, { name: 'a' })).toEqual([[[T0, 3]]]);
    expect(await raw(d, { name: 'b' })).toEqual([[[T0, 7]]]);
  });

  it('[LD1] beyond the series cap nothing is stored, the position stays, and the refusal names the first point beyond', async () => {
    const { series } = ports;
    const d = await dashboard();
    const cap = { maxSeries: 3 };
    await series.writePoints(d, [pw('s0', {}, T0, 0), pw('s1', {}, T0, 1)], cap);
    const error = await refusal(
      series.writePoints(
        d,
        [
          pw('s0', {}, T0 + 1, 9),
          pw('s2', {}, T0, 2),
          pw('s2', {}, T0 + 1, 2),
          pw('s3', {}, T0, 3),
          pw('s4', {}, T0, 4),
        ],
        cap,
      ),
    );
    expect([error.code, error.extensions.index]).toEqual(['BAD_USER_INPUT', 3]);
    expect(error.message).toMatch(/^Point 3: the dashboard already holds 3 series/);
    expect([await series.ingestPosition(d), await series.countSeries(d)]).toEqual([1, 2]);
    expect(await raw(d, { name: 's0' })).toEqual([[[T0, 0]]]);
    expect((await series.readSince(d, [{ name: 's0' }], { after: 1 }, 100)).series).toEqual([]);
    // Up to the cap is fine, and a full dashboard still takes points for its series.
    expect((await series.writePoints(d, [pw('s2', {}, T0, 2)], cap)).position).toBe(2);
    expect((await series.writePoints(d, [pw('s0', {}, T0 + 1, 9)], cap)).position).toBe(3);
    const full = await refusal(series.writePoints(d, [pw('s9', {}, T0, 1)], cap));
    expect(full.extensions.index).toBe(0);
    expect(await series.countSeries(d)).toBe(3);
  });

  it('[LD1] deleting a dashboard deletes its series and points; a write to it, or to no dashboard, is NOT_FOUND', async () => {
    const { series, dashboards } = ports;
    const d = await dashboard();
    const { created } = await series.writePoints(d, [pw('s', { k: 'v' }, T0, 1)], CAP);
    expect(await dashboards.softDeleteDashboard(d, new Date())).toBe(true);
    expect(await series.countSeries(d)).toBe(0);
    expect(await series.listSeries(d, null, 10)).toEqual([]);
    expect(await series.lastPoints(created.map((s) => s.id))).toEqual(new Map());
    expect((await refusal(series.writePoints(d, [pw('s', {}, T0, 1)], CAP))).code).toBe('NOT_FOUND');
    expect((await refusal(series.writePoints(randomUUID(), [pw('s', {}, T0, 1)], CAP))).code).toBe('NOT_FOUND');
    expect(await series.countSeries(d)).toBe(0);
  });

  it('[LD2] raw reads: from <= t <= to, ascending, at most limit per series, every matching series', async () => {
    const { series } = ports;
    const d = await dashboard();
    const ts = [4000, 0, 3000, 1000, 2000].map((dt) => T0 + dt);
    await series.writePoints(
      d,
      [...ts.map((t) => pw('cpu', { host: 'x' }, t, t - T0)), pw('cpu', { host: 'y' }, T0 + 9000, 1)],
      CAP,
    );
    const read = (from: number, to: number, limit = 10) => series.readPoints(d, { name: 'cpu' }, { from, to, limit });
    const both = await read(T0 + 1000, T0 + 3000);
    expect(both.map((s) => s.series.labels)).toEqual([{ host: 'x' }, { host: 'y' }]);
    expect(both.map((s) => s.points)).toEqual([
      [
        [T0 + 1000, 1000],
        [T0 + 2000, 2000],
        [T0 + 3000, 3000],
      ],
      [],
    ]);
    expect((await read(T0 + 1000, T0 + 3000, 2))[0]!.points.map(([t]) => t)).toEqual([T0 + 1000, T0 + 2000]);
    expect((await read(T0 + 999.5, T0 + 3000.5))[0]!.points).toHaveLength(3);
    expect((await read(T0 + 1000.5, T0 + 2999.5))[0]!.points).toEqual([[T0 + 2000, 2000]]);
  });

  it('[LD2] a match is the name, and its labels a subset matched exactly', async () => {
    const { series } = ports;
    const d = await dashboard();
    const other = await dashboard();
    const labelSets = [
      { host: 'a', dc: 'eu' },
      { host: 'b', dc: 'eu' },
      { host: 'a', dc: 'us' },
    ];
    await series.writePoints(d, [...labelSets.map((l) => pw('cpu', l, T0, 1)), pw('mem', { host: 'a' }, T0, 1)], CAP);
    await series.writePoints(other, [pw('cpu', { host: 'a', dc: 'eu' }, T0, 1)], CAP);
    const listed = async (labels?: Labels | null, name = 'cpu') =>
      (await series.listSeries(d, { name, labels }, 100)).map((s) => s.labels);
    expect(await listed({ host: 'a' })).toEqual([
      { dc: 'eu', host: 'a' },
      { dc: 'us', host: 'a' },
    ]);
    expect(await listed({ dc: 'eu' })).toEqual([
      { dc: 'eu', host: 'a' },
      { dc: 'eu', host: 'b' },
    ]);
    expect(await listed({ dc: 'eu', host: 'a' })).toEqual([{ dc: 'eu', host: 'a' }]);
    expect(await listed({ host: 'A' })).toEqual([]);
    expect(await listed({ nope: 'a' })).toEqual([]);
    expect(await listed(null)).toHaveLength(3);
    expect(await listed({})).toHaveLength(3);
    expect(await listed(null, 'mem')).toEqual([{ host: 'a' }]);
    const read = await series.readPoints(d, { name: 'cpu', labels: { host: 'a' } }, { from: T0, to: T0, limit: 10 });
    expect(read.map((s) => s.series.labels)).toEqual([
      { dc: 'eu', host: 'a' },
      { dc: 'us', host: 'a' },
    ]);
    const since = await series.readSince(d, [{ name: 'mem' }, { name: 'cpu', labels: { dc: 'us' } }], { after: 0 }, 10);
    expect(since.series.map((s) => [s.series.name, s.series.labels])).toEqual([
      ['cpu', { dc: 'us', host: 'a' }],
      ['mem', { host: 'a' }],
    ]);
  });

  it('[LD2] with a step, one point per non-empty bucket at its start, each aggregation computed by the database', async () => {
    const { series } = ports;
    const d = await dashboard();
    const from = T0 + 7; // buckets not aligned on anything
    const step = 10_000;
    const to = from + 25_000;
    // Bucket 0: t from+0, +3000, +9999 (v 4, 1, 7), written so that the largest t is not
    // the last written; bucket 1 empty; bucket 2: +20000 (its start) and +25000 (v 2, -6).
    const at = [
      [9_999, 7],
      [0, 4],
      [3_000, 1],
      [25_000, -6],
      [20_000, 2],
      [-1, 100],
      [25_001, 100],
    ];
    await series.writePoints(
      d,
      at.map(([dt, v]) => pw('g', {}, from + dt!, v!)),
      CAP,
    );
    const bucketed = async (agg?: 'AVG' | 'MIN' | 'MAX' | 'SUM' | 'COUNT' | 'LAST', limit = 10) =>
      (await series.readPoints(d, { name: 'g' }, { from, to, step, agg, limit }))[0]!.points;
    const expected = { AVG: [4, -2], MIN: [1, -6], MAX: [7, 2], SUM: [12, -4], COUNT: [3, 2], LAST: [7, -6] } as const;
    for (const [agg, [b0, b2]] of Object.entries(expected)) {
      expect([agg, await bucketed(agg as keyof typeof expected)]).toEqual([
        agg,
        [
          [from, b0],
          [from + 20_000, b2],
        ],
      ]);
    }
    expect(await bucketed()).toEqual(await bucketed('AVG'));
    expect(await bucketed('SUM', 1)).toEqual([[from, 12]]);
  });

  it('listSeries orders by name then labels, takes the first and searches; countSeries; lastPoints', async () => {
    const { series } = ports;
    const d = await dashboard();
    const made = [
      ['b', {}],
      ['a', { x: '2' }],
      ['a', { x: '1', y: '0' }],
      ['a', {}],
      ['a', { x: '1' }],
      ['Z', {}],
    ] as const;
    await series.writePoints(
      d,
      made.map(([name, labels], i) => pw(name, labels, T0 + i, i)),
      CAP,
    );
    const order = [
      ['Z', {}],
      ['a', {}],
      ['a', { x: '1' }],
      ['a', { x: '1', y: '0' }],
      ['a', { x: '2' }],
      ['b', {}],
    ];
    const listed = await series.listSeries(d, null, 100);
    expect(listed.map((s) => [s.name, s.labels])).toEqual(order);
    expect((await series.listSeries(d, null, 2)).map((s) => [s.name, s.labels])).toEqual(order.slice(0, 2));
    expect(await series.countSeries(d)).toBe(6);
    // A picker's search: every word, any case, in the name or a label name or value.
    const search = async (words: string, match: SeriesMatch | null = null) =>
      (await series.listSeries(d, match, 100, words)).map((s) => [s.name, s.labels]);
    expect(await search('z')).toEqual([['Z', {}]]);
    expect(await search('Y')).toEqual([['a', { x: '1', y: '0' }]]);
    expect(await search('a 1')).toEqual([
      ['a', { x: '1' }],
      ['a', { x: '1', y: '0' }],
    ]);
    expect(await search('  ')).toEqual(order);
    expect(await search('1', { name: 'a', labels: { y: '0' } })).toEqual([['a', { x: '1', y: '0' }]]);
    expect(await search('nothing-like-it')).toEqual([]);
    const [z, a] = listed;
    await series.writePoints(d, [pw('a', {}, T0 + 500, 50), pw('a', {}, T0 - 500, -50), pw('Z', {}, T0 + 1, 1)], CAP);
    const last = await series.lastPoints([z!.id, a!.id, '999999999999']);
    expect(last).toEqual(
      new Map([
        [z!.id, { t: T0 + 5, v: 5 }],
        [a!.id, { t: T0 + 500, v: 50 }],
      ]),
    );
    expect(await series.lastPoints([])).toEqual(new Map());
  });

  registerSeriesLiveContract(ports, options);
}
