import { createRng, seedCases, seeded, type RegressionSeed, type Rng } from '@collab-dashboards/core/testing';
import { newWidget, validateDocument, type DashboardDocument, type Widget } from './document.js';
import {
  boxesOverlap,
  findOverlaps,
  layoutChangesOp,
  pushDown,
  resolveOverlaps,
  type GridBox,
  type LayoutChanges,
} from './layout.js';
import { addWidget, moveWidget, resizeWidget } from './ops.js';
import { applyOp, checkOp, composeOps, invertOp, type JSONOp } from './ot.js';
import { replaceOp } from 'ot-json1';

type Geometry = Record<string, GridBox>;

/** A document of notes with the given boxes, in layout order. */
function board(boxes: Geometry, layout = Object.keys(boxes)): DashboardDocument {
  const widgets: Record<string, Widget> = {};
  for (const [id, box] of Object.entries(boxes)) widgets[id] = newWidget('note', { id, ...box });
  return { title: 'Layout', widgets, layout };
}

function geometry(doc: DashboardDocument): Geometry {
  return Object.fromEntries(Object.values(doc.widgets).map(({ id, x, y, w, h }) => [id, { x, y, w, h }]));
}

/** `doc` with `changes` applied directly (no op), to compare with what the op does. */
function moved(doc: DashboardDocument, changes: LayoutChanges): DashboardDocument {
  const widgets = { ...doc.widgets };
  for (const [id, y] of changes) widgets[id] = { ...widgets[id]!, y };
  return { ...doc, widgets };
}

/** Applies `op`, checks the result keeps the shape and that the inverse restores `doc`. */
function check(doc: DashboardDocument, op: JSONOp): DashboardDocument {
  expect(checkOp(op)).toBeNull();
  const after = applyOp(doc, op);
  expect(validateDocument(after)).toBeNull();
  expect(applyOp(after, invertOp(op, doc))).toEqual(doc);
  return after;
}

const box = (x: number, y: number, w: number, h: number): GridBox => ({ x, y, w, h });

function randomBoard(rng: Rng, count: number): DashboardDocument {
  const boxes: Geometry = {};
  for (let i = 0; i < count; i++) {
    const w = 1 + rng.int(5);
    boxes[`w${i}`] = box(rng.int(13 - w), rng.int(12), w, 1 + rng.int(4));
  }
  // Some layouts name a removed widget or miss one (rule OP5).
  const layout = Object.keys(boxes).filter(() => rng.chance(0.9));
  if (rng.chance(0.3)) layout.splice(rng.int(layout.length + 1), 0, 'gone');
  return board(boxes, layout);
}

/** Seeds that once failed here, each with the bug it caught; git history records none so far. */
const REGRESSION_SEEDS: RegressionSeed[] = [];
const FRESH_SEEDS = Array.from({ length: 40 }, (_, i) => 4000 + i * 7919);
/** The seeded cases of every property below: the pinned seeds, then fresh ones (FUZZ_SEED=n: n alone). */
const seeds = seedCases(REGRESSION_SEEDS, FRESH_SEEDS);

describe('boxesOverlap / findOverlaps', () => {
  it('counts shared area only, not touching edges', () => {
    expect(boxesOverlap(box(0, 0, 2, 2), box(1, 1, 2, 2))).toBe(true);
    expect(boxesOverlap(box(0, 0, 2, 2), box(2, 0, 2, 2))).toBe(false);
    expect(boxesOverlap(box(0, 0, 2, 2), box(0, 2, 2, 2))).toBe(false);
    expect(boxesOverlap(box(0, 0, 4, 4), box(1, 1, 1, 1))).toBe(true);
  });

  it('lists overlapping pairs in layout order', () => {
    const doc = board({ a: box(0, 0, 4, 2), b: box(2, 1, 4, 2), c: box(8, 0, 2, 2), d: box(0, 1, 1, 1) });
    expect(findOverlaps(doc)).toEqual([
      ['a', 'b'],
      ['a', 'd'],
    ]);
    expect(findOverlaps(board({ a: box(0, 0, 2, 2), b: box(2, 0, 2, 2) }))).toEqual([]);
  });

  it('tolerates a layout id without a widget and a widget missing from the layout [OP5]', () => {
    const doc = board({ a: box(0, 0, 2, 2), b: box(1, 1, 2, 2), c: box(1, 0, 1, 1) }, ['gone', 'b', 'a', 'gone']);
    // Layout order first (b, a), then the widgets the layout misses (c).
    expect(findOverlaps(doc)).toEqual([
      ['b', 'a'],
      ['a', 'c'],
    ]);
  });
});

describe('pushDown [LY1]', () => {
  it('[LY1] pushes what the moved widget overlaps just below it, cascading', () => {
    const doc = board({
      m: box(0, 0, 4, 2),
      a: box(0, 1, 4, 2), // under m: goes to 2
      b: box(2, 3, 4, 2), // a lands on it at 2..4: goes to 4
      c: box(4, 6, 2, 1), // b ends at 6: touches, stays
      d: box(8, 0, 2, 9), // beside everything: stays
    });
    const changes = pushDown(doc, 'm');
    expect([...changes]).toEqual([
      ['a', 2],
      ['b', 4],
    ]);
    const after = moved(doc, changes);
    expect(findOverlaps(after)).toEqual([]);
  });

  it('[LY1] never moves the moved widget, even below the widgets it overlaps', () => {
    // m was dropped low onto a and b, which sit above it: they go below m, m stays.
    const doc = board({ a: box(0, 0, 3, 3), b: box(3, 1, 3, 3), m: box(1, 2, 4, 2) });
    const changes = pushDown(doc, 'm');
    expect(changes.has('m')).toBe(false);
    expect(Object.fromEntries(changes)).toEqual({ a: 4, b: 4 });
    expect(findOverlaps(moved(doc, changes))).toEqual([]);
  });

  it('[LY1] stacks widgets pushed onto each other in rank order (y, x, layout, id)', () => {
    const doc = board({ m: box(0, 0, 6, 2), a: box(0, 1, 3, 2), b: box(1, 1, 3, 1) });
    // a and b both land at 2 and overlap: b ranks after a (same y, larger x), so it goes below a.
    expect(Object.fromEntries(pushDown(doc, 'm'))).toEqual({ a: 2, b: 4 });
    // Same box, same rank but for the layout position.
    const twins = board({ m: box(0, 0, 2, 2), p: box(0, 1, 2, 2), q: box(0, 1, 2, 2) }, ['m', 'q', 'p']);
    expect(Object.fromEntries(pushDown(twins, 'm'))).toEqual({ q: 2, p: 4 });
  });

  it('[LY1] leaves widgets the cascade does not reach, even if they already overlapped', () => {
    const doc = board({ m: box(0, 0, 2, 2), a: box(0, 1, 2, 1), x: box(6, 0, 3, 3), y: box(7, 1, 3, 3) });
    expect(Object.fromEntries(pushDown(doc, 'm'))).toEqual({ a: 2 });
    expect(findOverlaps(moved(doc, pushDown(doc, 'm')))).toEqual([['x', 'y']]);
  });

  it('[LY1] a pushed widget goes below an unmoved widget ranked before it rather than onto it', () => {
    // a is pushed to 3, onto r (which m does not touch): a goes on below r instead.
    const doc = board({ m: box(0, 0, 2, 3), a: box(0, 2, 4, 2), r: box(2, 1, 2, 3) });
    expect(Object.fromEntries(pushDown(doc, 'm'))).toEqual({ a: 4 });
  });

  it('returns nothing when the moved widget overlaps nothing, and throws for an unknown id', () => {
    const doc = board({ m: box(0, 0, 2, 2), a: box(2, 0, 2, 2) });
    expect(pushDown(doc, 'm').size).toBe(0);
    expect(() => pushDown(doc, 'gone')).toThrow('no widget gone');
  });

  it.each(seeds)(
    '[LY1] on random layouts: no overlap involves the moved or a pushed widget, nothing moves up (%s)',
    seeded(import.meta.url, (seed) => {
      const rng = createRng(seed);
      const doc = randomBoard(rng, 6 + rng.int(30));
      const ids = Object.keys(doc.widgets);
      const id = rng.pick(ids);
      const changes = pushDown(doc, id);
      expect(changes.has(id)).toBe(false);
      for (const [other, y] of changes) expect(y).toBeGreaterThan(doc.widgets[other]!.y);
      const after = moved(doc, changes);
      const touched = new Set([id, ...changes.keys()]);
      const left = findOverlaps(after).filter(([a, b]) => touched.has(a) || touched.has(b));
      expect({ seed, left }).toEqual({ seed, left: [] });
    }),
  );
});

describe('resolveOverlaps [LY3]', () => {
  it('[LY3] pushes the later-ranked widget of each overlapping pair below the earlier, cascading', () => {
    const doc = board({ a: box(0, 0, 4, 2), b: box(2, 1, 4, 2), c: box(4, 2, 2, 2), d: box(9, 0, 2, 2) });
    expect([...resolveOverlaps(doc)]).toEqual([
      ['b', 2],
      ['c', 4],
    ]);
  });

  it('[LY3] gives no priority to the widget that moved last: rank decides', () => {
    // Whoever moved, the widget higher up (then further left) stays.
    const doc = board({ late: box(0, 1, 2, 2), early: box(0, 0, 2, 2) }, ['late', 'early']);
    expect(Object.fromEntries(resolveOverlaps(doc))).toEqual({ late: 2 });
  });

  it('[LY3] returns nothing for a document without overlaps', () => {
    expect(resolveOverlaps(board({ a: box(0, 0, 2, 2), b: box(2, 0, 2, 2), c: box(0, 2, 4, 1) })).size).toBe(0);
    expect(resolveOverlaps({ title: '', widgets: {}, layout: ['gone'] }).size).toBe(0);
  });

  it.each(seeds)(
    '[LY3] clears every overlap of a random layout, idempotently (%s)',
    seeded(import.meta.url, (seed) => {
      const rng = createRng(seed);
      const doc = randomBoard(rng, 1 + rng.int(60));
      const changes = resolveOverlaps(doc);
      for (const [id, y] of changes) expect(y).toBeGreaterThan(doc.widgets[id]!.y);
      const after = check(doc, layoutChangesOp(doc, changes));
      expect({ seed, left: findOverlaps(after) }).toEqual({ seed, left: [] });
      // Only y changes, and the op gives the same geometry as the changes themselves.
      expect(geometry(after)).toEqual(geometry(moved(doc, changes)));
      expect(resolveOverlaps(after).size).toBe(0);
      // Deterministic: the order of the widgets map does not matter.
      const reversed = { ...doc, widgets: Object.fromEntries(Object.entries(doc.widgets).reverse()) };
      expect([...resolveOverlaps(reversed)]).toEqual([...changes]);
    }),
  );

  it('[LY3] stays quick for a full board stacked on one spot', () => {
    const boxes: Geometry = {};
    for (let i = 0; i < 500; i++) boxes[`w${i}`] = box(0, 0, 4, 3);
    const doc = board(boxes);
    const changes = resolveOverlaps(doc);
    expect(changes.size).toBe(499);
    expect(changes.get('w499')).toBe(499 * 3);
    expect(findOverlaps(check(doc, layoutChangesOp(doc, changes)))).toEqual([]);
  });
});

describe('layoutChangesOp', () => {
  it('is one op replacing y on each widget, the same as composing the replaces', () => {
    const doc = board({ a: box(0, 0, 2, 2), b: box(0, 1, 2, 2), c: box(0, 2, 2, 2) });
    const changes: LayoutChanges = new Map([
      ['c', 4],
      ['b', 2],
    ]);
    const op = layoutChangesOp(doc, changes);
    expect(op).toEqual(
      composeOps(replaceOp(['widgets', 'c', 'y'], true, 4), replaceOp(['widgets', 'b', 'y'], true, 2)),
    );
    expect(geometry(check(doc, op))).toEqual(geometry(moved(doc, changes)));
    expect(layoutChangesOp(doc, new Map([['a', 5]]))).toEqual(['widgets', 'a', 'y', { r: true, i: 5 }]);
  });

  it('is null when nothing changes, and throws on a bad change', () => {
    const doc = board({ a: box(0, 3, 2, 2) });
    expect(layoutChangesOp(doc, new Map())).toBeNull();
    expect(layoutChangesOp(doc, new Map([['a', 3]]))).toBeNull();
    expect(() => layoutChangesOp(doc, new Map([['gone', 1]]))).toThrow('no widget gone');
    expect(() => layoutChangesOp(doc, new Map([['a', -1]]))).toThrow(RangeError);
    expect(() => layoutChangesOp(doc, new Map([['a', NaN]]))).toThrow(RangeError);
  });
});

describe('moveWidget / resizeWidget / addWidget push the widgets they land on [LY1]', () => {
  const doc = board({ a: box(0, 0, 4, 2), b: box(0, 2, 4, 2), c: box(0, 4, 4, 2), side: box(6, 0, 2, 2) });

  it('[LY1] moveWidget: one op moves the widget and pushes the others, and one inverse undoes both', () => {
    const op = moveWidget(doc, 'c', 0, 1);
    const after = check(doc, op);
    expect(geometry(after)).toEqual({
      a: box(0, 3, 4, 2), // c now covers 1..3: a goes below it
      b: box(0, 5, 4, 2), // c covers it too, and a ranks before it: below both
      c: box(0, 1, 4, 2),
      side: box(6, 0, 2, 2),
    });
    expect(findOverlaps(after)).toEqual([]);
    expect(moveWidget(doc, 'side', 4, 0)).toEqual(['widgets', 'side', 'x', { r: true, i: 4 }]);
    expect(moveWidget(doc, 'a', 0, 0)).toBeNull();
  });

  it('[LY1] resizeWidget pushes what the widget grows over', () => {
    const after = check(doc, resizeWidget(doc, 'a', 8, 3));
    expect(geometry(after)).toMatchObject({ a: box(0, 0, 8, 3), b: box(0, 3, 4, 2), c: box(0, 5, 4, 2) });
    expect(geometry(after).side).toEqual(box(6, 3, 2, 2));
    expect(findOverlaps(after)).toEqual([]);
  });

  it('[LY1] addWidget pushes what the new widget covers', () => {
    const after = check(doc, addWidget(doc, newWidget('metric', { id: 'm', x: 2, y: 1, w: 6, h: 2 })));
    expect(after.layout).toEqual(['a', 'b', 'c', 'side', 'm']);
    expect(geometry(after)).toMatchObject({ m: box(2, 1, 6, 2), a: box(0, 3, 4, 2), side: box(6, 3, 2, 2) });
    expect(findOverlaps(after)).toEqual([]);
  });

  it.each(seeds)(
    '[LY1] random moves and resizes leave no overlap on the widget placed (%s)',
    seeded(import.meta.url, (seed) => {
      const rng = createRng(seed);
      let current = randomBoard(rng, 4 + rng.int(20));
      for (let step = 0; step < 5; step++) {
        const id = rng.pick(Object.keys(current.widgets));
        const { x, w } = current.widgets[id]!;
        const move = rng.chance(0.5);
        const target = move
          ? { ...current.widgets[id]!, x: rng.int(13 - w), y: rng.int(10) }
          : { ...current.widgets[id]!, w: 1 + rng.int(12 - x), h: 1 + rng.int(4) };
        const op = move ? moveWidget(current, id, target.x, target.y) : resizeWidget(current, id, target.w, target.h);
        current = check(current, op);
        expect(current.widgets[id]).toEqual(target);
        if (op === null) continue; // not moved: overlaps it already had are resolveOverlaps' job
        const left = findOverlaps(current).filter(([a, b]) => a === id || b === id);
        expect({ seed, step, left }).toEqual({ seed, step, left: [] });
      }
    }),
  );
});
