/**
 * The SeriesStore's live part of the Store contract (`./series-store-contract.ts`): ingest
 * positions and what a stream reads after one or since a time (LD3), retention pruning (LD1),
 * and writers racing on one dashboard (LD1 cap, LD3 positions committed in order).
 */
import type { Labels } from '../../src/domain/series.js';
import type { SeriesMatch } from '../../src/ports/series-store.js';
import { CAP, DAY, newDashboard, newUser, point as pw, T0, type StorePorts } from './store-fixtures.js';

/** Registers the tests in the current describe; `ports` is filled before they run. */
export function registerSeriesLiveContract(ports: StorePorts, options: { concurrentTransactions: boolean }) {
  const dashboard = async () => (await newDashboard(ports.dashboards, (await newUser(ports.accounts)).id)).id;
  const raw = async (d: string, match: SeriesMatch, from = T0 - DAY, to = T0 + DAY) =>
    (await ports.series.readPoints(d, match, { from, to, limit: 1000 })).map((s) => s.points);
  /** series name and labels -> [t, v] pairs, from a read. */
  const byName = (read: { series: Array<{ series: { name: string; labels: Labels }; points: unknown }> }) =>
    Object.fromEntries(read.series.map((s) => [`${s.series.name}${JSON.stringify(s.series.labels)}`, s.points]));

  it('[LD3] each write advances the position by one; after a position come exactly the points written since, whatever their t', async () => {
    const { series } = ports;
    const d = await dashboard();
    const matches = [{ name: 's' }, { name: 't' }];
    expect(await series.readSince(d, matches, { after: 0 }, 100)).toEqual({ position: 0, series: [] });
    expect((await series.writePoints(d, [pw('s', {}, T0 + 5000, 1)], CAP)).position).toBe(1);
    // A backfill: an old t, written later.
    expect((await series.writePoints(d, [pw('s', {}, T0 - 600_000, 2), pw('t', {}, T0, 3)], CAP)).position).toBe(2);
    expect((await series.writePoints(d, [pw('s', {}, T0 + 5000, 9)], CAP)).position).toBe(3);
    const after = async (position: number) => {
      const read = await series.readSince(d, matches, { after: position }, 100);
      return [read.position, byName(read)];
    };
    expect(await after(0)).toEqual([
      3,
      {
        's{}': [
          [T0 - 600_000, 2],
          [T0 + 5000, 9],
        ],
        't{}': [[T0, 3]],
      },
    ]);
    expect(await after(1)).toEqual([
      3,
      {
        's{}': [
          [T0 - 600_000, 2],
          [T0 + 5000, 9],
        ],
        't{}': [[T0, 3]],
      },
    ]);
    expect(await after(2)).toEqual([3, { 's{}': [[T0 + 5000, 9]] }]);
    expect(await after(3)).toEqual([3, {}]);
    expect(await series.ingestPosition(d)).toBe(3);
  });

  it('[LD3] since a time come the stored points with t > since; at most limit per series, the newest kept, ascending', async () => {
    const { series } = ports;
    const d = await dashboard();
    const ts = Array.from({ length: 10 }, (_, i) => T0 + i * 1000);
    await series.writePoints(
      d,
      ts.map((t) => pw('s', {}, t, t - T0)),
      CAP,
    );
    await series.writePoints(d, [pw('s', {}, T0 - 1000, -1)], CAP); // newer write, older t
    const since = async (from: { after: number } | { since: number }, limit: number) =>
      (await series.readSince(d, [{ name: 's' }], from, limit)).series.map((s) => s.points.map(([t]) => t - T0));
    expect(await since({ since: T0 + 4000 }, 100)).toEqual([[5000, 6000, 7000, 8000, 9000]]);
    expect(await since({ since: T0 + 4000.5 }, 100)).toEqual([[5000, 6000, 7000, 8000, 9000]]);
    expect(await since({ since: T0 + 4000 }, 3)).toEqual([[7000, 8000, 9000]]);
    expect(await since({ after: 0 }, 3)).toEqual([[7000, 8000, 9000]]);
    expect(await since({ after: 1 }, 3)).toEqual([[-1000]]);
    expect(await since({ since: T0 + 9000 }, 3)).toEqual([]);
    expect((await series.readSince(d, [{ name: 's' }], { since: T0 }, 1)).position).toBe(2);
  });

  it('[LD1] pruning deletes at most limit points older than before, over all dashboards, then series left empty and older than before', async () => {
    const { series } = ports;
    const old = Date.now() - 30 * DAY; // older than any retention: no other test keeps such points
    const before = old + 10_000;
    while ((await series.prunePoints(before, 10_000)) > 0); // whatever an aborted run left
    const d = await dashboard();
    const d2 = await dashboard();
    await series.writePoints(
      d,
      [pw('gone', {}, old, 1), pw('gone', {}, old + 1000, 2), pw('gone', {}, old + 2000, 3)],
      CAP,
    );
    await series.writePoints(d, [pw('mixed', {}, old + 500, 1), pw('mixed', {}, T0, 2), pw('kept', {}, T0, 3)], CAP);
    await series.writePoints(d2, [pw('gone', {}, old, 1)], CAP);
    expect(await series.prunePoints(before, 2)).toBe(2);
    expect(await series.prunePoints(before, 100)).toBe(3);
    expect(await series.prunePoints(before, 100)).toBe(0);
    expect(await raw(d, { name: 'gone' }, old - DAY)).toEqual([[]]);
    expect(await raw(d, { name: 'mixed' }, old - DAY)).toEqual([[[T0, 2]]]);
    // Emptied, but younger than `before`: kept, without a last point.
    const [gone] = await series.listSeries(d, { name: 'gone' }, 1);
    expect((await series.lastPoints([gone!.id])).size).toBe(0);
    expect(await series.countSeries(d)).toBe(3);
    // Older than `before` now (limit 0: no point is touched).
    expect(await series.prunePoints(Date.now() + 60_000, 0)).toBe(0);
    expect((await series.listSeries(d, null, 10)).map((s) => s.name)).toEqual(['kept', 'mixed']);
    expect(await series.countSeries(d2)).toBe(0);
  });

  it('[LD1] a write racing retention deleting its emptied series still stores its point (the series is made again)', async () => {
    const { series } = ports;
    const old = Date.now() - 30 * DAY;
    const d = await dashboard();
    for (let round = 0; round < 15; round++) {
      const name = `x${round}`;
      await series.writePoints(d, [pw(name, {}, old, round)], CAP);
      while ((await series.prunePoints(old + 10_000, 10_000)) > 0); // the series is empty now
      const [written] = await Promise.all([
        series.writePoints(d, [pw(name, {}, T0 + round, round)], CAP),
        // Deletes the empty series (limit 0: no point), before, during or after the write.
        series.prunePoints(Date.now() + 60_000, 0),
      ]);
      expect(written.accepted).toBe(1);
      expect(await raw(d, { name })).toEqual([[[T0 + round, round]]]);
    }
  });

  it('[LD1] [LD3] concurrent writes to one dashboard get later positions (coalesced ones share one) and cannot both pass the cap', async () => {
    const { series } = ports;
    const d = await dashboard();
    await series.writePoints(d, [pw('s0', {}, T0, 0), pw('s1', {}, T0, 1)], { maxSeries: 3 });
    const writes = [1, 2, 3, 4].map((i) => series.writePoints(d, [pw('s0', {}, T0 + i, i)], CAP));
    // Each takes a position after the first write's; concurrent ones may be committed
    // together and share one. A reader after position 1 gets all four, once.
    const positions = (await Promise.all(writes)).map((w) => w.position);
    expect(positions.every((p) => p > 1)).toBe(true);
    const head = await series.ingestPosition(d);
    expect(Math.max(...positions)).toBe(head);
    expect((await series.readSince(d, [{ name: 's0' }], { after: 1 }, 100)).series[0]!.points).toEqual(
      [1, 2, 3, 4].map((i) => [T0 + i, i]),
    );
    const racing = await Promise.allSettled(
      ['s2', 's3'].map((n) => series.writePoints(d, [pw(n, {}, T0, 1)], { maxSeries: 3 })),
    );
    expect(racing.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect([await series.countSeries(d), await series.ingestPosition(d)]).toEqual([3, head + 1]);
  });

  (options.concurrentTransactions ? it : it.skip)(
    '[LD3] a reader resuming after each position it read never misses a point while writers race (needs concurrent transactions)',
    async () => {
      const { series } = ports;
      const d = await dashboard();
      const matches = [{ name: 'r' }];
      // "labels t" -> times a reader received it
      const received = new Map<string, number>();
      const written: string[] = [];
      let done = false;
      let cursor = 0;
      const readOnce = async () => {
        const read = await series.readSince(d, matches, { after: cursor }, 100_000);
        for (const s of read.series)
          for (const [t] of s.points) {
            const k = `${s.series.labels.w} ${t}`;
            received.set(k, (received.get(k) ?? 0) + 1);
          }
        cursor = read.position;
      };
      const reader = (async () => {
        while (!done) await readOnce();
        await readOnce();
      })();
      const writer = async (w: number) => {
        for (let n = 0; n < 15; n++) {
          const points = Array.from({ length: 20 }, (_, i) => pw('r', { w: String(w) }, T0 + n * 100 + i, n));
          await series.writePoints(d, points, CAP);
          written.push(...points.map((p) => `${w} ${p.t}`));
        }
      };
      await Promise.all([0, 1, 2, 3, 4, 5].map(writer));
      done = true;
      await reader;
      // 90 writes, some coalesced (sharing a position), each writer's 15 one after another.
      const head = await series.ingestPosition(d);
      expect(head).toBeGreaterThanOrEqual(15);
      expect(head).toBeLessThanOrEqual(90);
      expect([...received.keys()].sort()).toEqual([...written].sort());
      expect([...received.values()].every((times) => times === 1)).toBe(true);
    },
  );
}
