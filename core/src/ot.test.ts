import { editOp, insertOp, moveOp, removeOp, replaceOp, type as json1, type Doc } from 'ot-json1';
import {
  applyOp,
  checkOp,
  composeOps,
  invertOp,
  isNoop,
  normalizeOp,
  textEditAt,
  transformOp,
  transformWithConflictInfo,
  type JSONOp,
} from './ot.js';
import { createDocument, newWidget, type DashboardDocument } from './document.js';
import {
  addWidget,
  deleteText,
  insertText,
  moveWidget,
  removeWidget,
  renameWidget,
  reorderWidget,
  resizeWidget,
  setTitle,
  setWidgetConfig,
} from './ops.js';

const textPath = (id: string) => ['widgets', id, 'text'];
const edit = (id: string, textOp: unknown[]): JSONOp => editOp(textPath(id), 'text-unicode', textOp);
const doc = (text: string) => ({ widgets: { a: { id: 'a', x: 1, text } }, layout: ['a'] });

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** Both orders of applying two concurrent ops, transformed with `mine` on the left (OP3). */
function converge<T>(base: T, mine: JSONOp, theirs: JSONOp) {
  const viaTheirs = applyOp(applyOp(base, theirs), transformOp(mine, theirs, 'left'));
  const viaMine = applyOp(applyOp(base, mine), transformOp(theirs, mine, 'right'));
  return { viaTheirs, viaMine };
}

describe('applyOp', () => {
  it('returns the same document for the null op', () => {
    const d = doc('x');
    expect(applyOp(d, null)).toBe(d);
  });

  it('never mutates its input', () => {
    const d = deepFreeze(doc('hello'));
    const after = applyOp(d, composeOps(replaceOp(['widgets', 'a', 'x'], true, 2), edit('a', [5, '!'])));
    expect(after).toEqual({ widgets: { a: { id: 'a', x: 2, text: 'hello!' } }, layout: ['a'] });
    expect(d.widgets.a).toEqual({ id: 'a', x: 1, text: 'hello' });
  });

  it('throws when the op does not apply', () => {
    expect(() => applyOp(doc(''), removeOp(['widgets', 'missing']))).toThrow();
    expect(() => applyOp(doc(''), edit('missing', ['x']))).toThrow();
  });

  it('uses code point offsets in text edits', () => {
    expect(applyOp(doc('😀😀'), edit('a', [1, 'x'])).widgets.a.text).toBe('😀x😀');
  });

  it('rejects a text delete past the end (ot-json1 would silently truncate it)', () => {
    expect(json1.apply(doc('abc'), edit('a', [1, { d: 5 }]))).toEqual(doc('a'));
    expect(() => applyOp(doc('abc'), edit('a', [1, { d: 5 }]))).toThrow('runs past the end');
    expect(() => applyOp(doc('abc'), edit('a', [4, 'x']))).toThrow();
    expect(applyOp(doc('abc'), edit('a', [1, { d: 2 }])).widgets.a.text).toBe('a');
  });

  it('rejects a text delete whose content does not match the text', () => {
    expect(() => applyOp(doc('abc'), edit('a', [{ d: 'xy' }]))).toThrow('does not match');
    expect(applyOp(doc('a😀c'), edit('a', [1, { d: '😀' }])).widgets.a.text).toBe('ac');
  });

  it('rejects a text edit on something that is not a string', () => {
    expect(() => applyOp({ widgets: { a: { text: 5 } } }, edit('a', ['x']))).toThrow();
  });
});

describe('composeOps', () => {
  it('composes any number of ops, skipping nulls', () => {
    const op = composeOps(
      insertOp(['layout', 1], 'b'),
      null,
      edit('a', ['hi ']),
      replaceOp(['widgets', 'a', 'x'], true, 3),
    );
    expect(applyOp(doc('there'), op)).toEqual({
      widgets: { a: { id: 'a', x: 3, text: 'hi there' } },
      layout: ['a', 'b'],
    });
    expect(composeOps()).toBeNull();
  });

  it('returns null when the ops cancel out', () => {
    expect(composeOps(edit('a', ['x']), edit('a', [{ d: 1 }]))).toBeNull();
  });
});

describe('transformOp [OP3]', () => {
  it('[OP3] converges two concurrent inserts at the same place in a note (left goes first)', () => {
    const base = doc('hi 😀 there');
    const mine = edit('a', [4, 'X']);
    const theirs = edit('a', [4, 'Y']);
    const { viaTheirs, viaMine } = converge(base, mine, theirs);
    expect(viaTheirs).toEqual(viaMine);
    expect(viaMine.widgets.a.text).toBe('hi 😀XY there');
  });

  it('[OP3] converges concurrent inserts and deletes around emoji', () => {
    const base = doc('a😀b😀c');
    const mine = edit('a', [1, { d: 2 }, 'Z']); // replace "😀b"
    const theirs = edit('a', [2, '🎉', 1, { d: 1 }]); // insert after 😀, delete the 2nd 😀
    const { viaTheirs, viaMine } = converge(base, mine, theirs);
    expect(viaTheirs).toEqual(viaMine);
    expect(viaMine.widgets.a.text).toBe('a🎉Zc');
  });

  it('[OP3] lets the left op win concurrent replaces of one value', () => {
    const base = doc('');
    const mine = replaceOp(['widgets', 'a', 'x'], true, 5);
    const theirs = replaceOp(['widgets', 'a', 'x'], true, 7);
    expect(transformOp(theirs, mine, 'right')).toBeNull();
    const { viaTheirs, viaMine } = converge(base, mine, theirs);
    expect(viaTheirs.widgets.a.x).toBe(5);
    expect(viaMine.widgets.a.x).toBe(5);
  });

  it('[OP1a] absorbs an edit inside a concurrently removed widget to null, either side', () => {
    const remove = composeOps(removeOp(['widgets', 'a']), removeOp(['layout', 0]));
    for (const side of ['left', 'right'] as const) {
      expect(transformOp(edit('a', ['x']), remove, side)).toBeNull();
      expect(transformOp(replaceOp(['widgets', 'a', 'x'], true, 9), remove, side)).toBeNull();
    }
    const { viaTheirs, viaMine } = converge(doc('t'), edit('a', ['x']), remove);
    expect(viaTheirs).toEqual({ widgets: {}, layout: [] });
    expect(viaMine).toEqual({ widgets: {}, layout: [] }); // no half-widget resurrected
  });

  it('handles null on either side', () => {
    const op = edit('a', ['x']);
    expect(transformOp(null, op, 'left')).toBeNull();
    expect(transformOp(op, null, 'left')).toBe(op);
  });
});

describe('transformWithConflictInfo', () => {
  it('reports conflicts the plain transform would throw on, and resolves them', () => {
    const remove = removeOp(['widgets', 'a']);
    expect(() => json1.transform(remove, edit('a', ['x']), 'left')).toThrow('conflict');
    const result = transformWithConflictInfo(edit('a', ['x']), remove, 'left');
    expect(result).toEqual({ op: null, conflicted: true });
    const replace = (v: number) => replaceOp(['widgets', 'a', 'x'], true, v);
    expect(transformWithConflictInfo(replace(1), replace(2), 'left')).toEqual({ op: replace(1), conflicted: true });
  });

  it('reports no conflict for mergeable edits', () => {
    const result = transformWithConflictInfo(edit('a', [1, 'x']), edit('a', [1, 'y']), 'left');
    expect(result).toEqual({ op: edit('a', [1, 'x']), conflicted: false });
    expect(transformWithConflictInfo(null, edit('a', ['x']), 'left')).toEqual({ op: null, conflicted: false });
  });
});

describe('transform fast path: ops on sibling keys', () => {
  // Ops of every kind the product makes, on a dashboard of a few widgets; each pair is
  // transformed both by the wrappers (which skip ops confined to sibling object keys) and by
  // ot-json1 itself, and must agree exactly.
  const board = (): DashboardDocument => {
    let d = createDocument('fast path');
    for (const id of ['a', 'b', 'c', 'd']) d = applyOp(d, addWidget(d, newWidget('note', { id, text: `text ${id}` })));
    return d;
  };
  const makers: Array<(d: DashboardDocument, id: string, n: number) => JSONOp> = [
    (d, id, n) => moveWidget(d, id, n % 10, n % 7),
    (d, id, n) => resizeWidget(d, id, 1 + (n % 5), 1 + (n % 4)),
    (d, id, n) => renameWidget(d, id, `t${n}`),
    (d, id, n) => insertText(d, id, n % 4, 'xy'),
    (d, id, n) => deleteText(d, id, n % 3, 2),
    (d, id) => removeWidget(d, id),
    (d, id, n) => reorderWidget(d, id, n % 4),
    (d, id, n) => setWidgetConfig(d, id, ['k'], n),
    (d, _id, n) => setTitle(d, `title ${n}`),
    (d, _id, n) => addWidget(d, newWidget('metric', { id: `new${n}` }), n % 4),
  ];
  const plain = (op: JSONOp, other: JSONOp, side: 'left' | 'right') => {
    const attempt = json1.tryTransform(op, other, side);
    return attempt.ok
      ? { op: attempt.result, conflicted: false }
      : { op: json1.transformNoConflict(op, other, side), conflicted: true };
  };

  it('agrees with ot-json1 on every pair of product ops', () => {
    const d = board();
    let pairs = 0;
    let skipped = 0;
    for (let i = 0; i < makers.length; i++) {
      for (let j = 0; j < makers.length; j++) {
        for (const [x, y] of [
          ['a', 'a'],
          ['a', 'b'],
          ['b', 'd'],
        ] as const) {
          const op = makers[i]!(d, x, i + j);
          const other = makers[j]!(d, y, i * j + 1);
          for (const side of ['left', 'right'] as const) {
            const expected = plain(op, other, side);
            expect(transformWithConflictInfo(op, other, side)).toEqual(expected);
            expect(transformOp(op, other, side)).toEqual(json1.transformNoConflict(op, other, side));
            if (expected.op === op) skipped++;
            pairs++;
          }
        }
      }
    }
    expect(pairs).toBe(600);
    expect(skipped).toBeGreaterThan(0);
  });
});

describe('transform fast path: two replaces of the same value', () => {
  // Replaces at one path with every kind of value, as ot-json1 sees them; both sides, and
  // both wrappers, must agree with it exactly (conflict flag included).
  const values: Doc[] = [
    0,
    1,
    2.5,
    -3,
    '',
    'a',
    'b "q" \\',
    true,
    false,
    null,
    [],
    [1, 2],
    { k: 1 },
    { k: 2 },
    { a: [1, { b: null }] },
    { b: null, a: [1] },
    { a: 1, b: 2 },
    { b: 2, a: 1 },
  ];
  const paths: Array<Array<string | number>> = [
    ['x'],
    ['widgets', 'a', 'x'],
    ['widgets', 'a', 'config', 'k'],
    ['layout', 1],
    ['widgets', 'a', 'layout', 0, 'w'],
  ];
  const plain = (op: JSONOp, other: JSONOp, side: 'left' | 'right') => {
    const attempt = json1.tryTransform(op, other, side);
    return attempt.ok
      ? { op: attempt.result, conflicted: false }
      : { op: json1.transformNoConflict(op, other, side), conflicted: true };
  };

  it('agrees with ot-json1 on every pair', () => {
    let pairs = 0;
    for (const path of paths) {
      for (const a of values) {
        for (const b of values) {
          for (const removed of [true, 7]) {
            const op = replaceOp(path, removed, a);
            const other = replaceOp(path, true, b);
            for (const side of ['left', 'right'] as const) {
              expect(transformWithConflictInfo(op, other, side)).toEqual(plain(op, other, side));
              expect(transformOp(op, other, side)).toEqual(json1.transformNoConflict(op, other, side));
              pairs++;
            }
          }
        }
      }
    }
    expect(pairs).toBe(paths.length * values.length * values.length * 4);
  });

  it('leaves ops that are not two flat replaces of one value to ot-json1', () => {
    const move = moveOp(['widgets', 'a', 'x'], ['widgets', 'a', 'y']);
    const replace = replaceOp(['widgets', 'a', 'x'], true, 1);
    for (const [op, other] of [
      [replace, move],
      [move, replace],
      [replace, replaceOp(['widgets', 'a'], true, { x: 2 })],
      [replace, removeOp(['widgets', 'a', 'x'])],
      [replace, insertOp(['widgets', 'a', 'x'], 2)],
    ] as const) {
      for (const side of ['left', 'right'] as const) {
        expect(transformWithConflictInfo(op, other, side)).toEqual(plain(op, other, side));
      }
    }
  });
});

describe('invertOp', () => {
  it('inverts an op whose removed content was stripped (plain invert gets it wrong)', () => {
    const before = doc('hello world');
    const op = composeOps(removeOp(['widgets', 'a']), removeOp(['layout', 0]));
    expect(applyOp(applyOp(before, op), invertOp(op, before))).toEqual(before);
    expect(json1.invert(op)).not.toEqual(invertOp(op, before));
  });

  it('inverts text deletes given by length', () => {
    const before = doc('a😀bc');
    const op = edit('a', [1, { d: 2 }]);
    expect(applyOp(applyOp(before, op), invertOp(op, before))).toEqual(before);
    expect(() => json1.invert(op)).toThrow('makeInvertible');
  });

  it('inverts transformed ops, and the null op to null', () => {
    const before = doc('t');
    const remove = removeOp(['widgets', 'a']);
    const moved = transformOp(remove, replaceOp(['widgets', 'a', 'x'], true, 4), 'right');
    const mid = applyOp(before, replaceOp(['widgets', 'a', 'x'], true, 4));
    expect(applyOp(applyOp(mid, moved), invertOp(moved, mid))).toEqual(mid);
    expect(invertOp(null, before)).toBeNull();
  });
});

describe('isNoop / normalizeOp', () => {
  it('treats only null as the no-op', () => {
    expect(isNoop(null)).toBe(true);
    expect(isNoop(edit('a', ['x']))).toBe(false);
  });

  it('normalizes to canonical form', () => {
    expect(normalizeOp([['widgets', ['a', 'x', { r: true, i: 1 }]]] as JSONOp)).toEqual([
      'widgets',
      'a',
      'x',
      { r: true, i: 1 },
    ]);
  });
});

describe('checkOp', () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['an insert', insertOp(['widgets', 'b'], { id: 'b' })],
    ['a move', moveOp(['layout', 0], ['layout', 2])],
    ['a text edit', edit('a', [2, 'hi', { d: 1 }])],
    ['a text delete with content', edit('a', [{ d: 'ab' }])],
  ])('accepts %s', (_name, op) => {
    expect(checkOp(op)).toBeNull();
  });

  it.each<[string, unknown, string | RegExp]>([
    ['[] (not a no-op)', [], 'op must not be empty (the no-op is null)'],
    ['undefined', undefined, 'op must be null or an array'],
    ['an object', { i: 1 }, 'op must be null or an array'],
    ['an empty component', ['a', {}], /./],
    ['an unknown component key', ['a', { x: 1 }], /Invalid component item/],
    ['unmatched pick', ['a', { p: 0 }], /./],
    ['a negative text skip', edit('a', [-3]), /invalid text edit/],
    ['a fractional text skip', ['a', { es: [1.5, 'x'] }], 'invalid text edit: skips and deletes must be integers'],
    ['an empty text insert', ['a', { es: [''] }], /invalid text edit/],
    ['a malformed text component', ['a', { es: [{ bogus: 1 }] }], /invalid text edit/],
    ['a text op that is not a list', ['a', { es: 'x' }], /invalid text edit/],
    ['a number edit', ['a', { ena: 5 }], /only text edits/],
    ['a custom subtype', ['a', { et: 'text-unicode', e: ['x'] }], /only text edits/],
  ])('rejects %s', (_name, op, message) => {
    if (typeof message === 'string') expect(checkOp(op)).toBe(message);
    else expect(checkOp(op)).toMatch(message);
  });
});

describe('textEditAt', () => {
  it('finds the embedded edit at an output path', () => {
    const op = composeOps(insertOp(['layout', 0], 'b'), edit('a', [1, 'x']), edit('c', ['y']));
    expect(textEditAt(op, textPath('a'))).toEqual([1, 'x']);
    expect(textEditAt(op, textPath('c'))).toEqual(['y']);
    expect(textEditAt(op, textPath('b'))).toBeNull();
    expect(textEditAt(null, textPath('a'))).toBeNull();
  });
});
