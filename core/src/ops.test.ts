import { newWidget, validateDocument, type DashboardDocument, type Widget } from './document.js';
import {
  addWidget,
  deleteText,
  editText,
  insertText,
  moveWidget,
  removeWidget,
  renameWidget,
  reorderWidget,
  resizeWidget,
  setTitle,
  setWidgetConfig,
  textDiff,
} from './ops.js';
import { applyOp, checkOp, invertOp, textType, type JSONOp } from './ot.js';

const widget = (id: string, extra: Partial<Widget> = {}): Widget => newWidget('note', { id, ...extra });

function sample(): DashboardDocument {
  const widgets = [
    widget('n1', { text: 'hello 😀 world' }),
    newWidget('metric', { id: 'm1', config: { value: 1, unit: '%' } }),
    newWidget('chart', { id: 'c1', config: { kind: 'line', series: [{ name: 's', points: [[0, 1]] }] } }),
  ];
  return { title: 'Ops', widgets: Object.fromEntries(widgets.map((w) => [w.id, w])), layout: ['n1', 'm1', 'c1'] };
}

/** Applies `op`, checks the result keeps the shape and that the inverse restores `doc`. */
function check(doc: DashboardDocument, op: JSONOp): DashboardDocument {
  expect(checkOp(op)).toBeNull();
  const after = applyOp(doc, op);
  expect(validateDocument(after)).toBeNull();
  expect(applyOp(after, invertOp(op, doc))).toEqual(doc);
  return after;
}

describe('addWidget', () => {
  it('inserts into widgets and at the end of the layout', () => {
    const doc = sample();
    const w = widget('n2');
    const after = check(doc, addWidget(doc, w));
    expect(after.widgets.n2).toEqual(w);
    expect(after.layout).toEqual(['n1', 'm1', 'c1', 'n2']);
  });

  it('inserts into the layout at an index (clamped)', () => {
    const doc = sample();
    expect(check(doc, addWidget(doc, widget('n2'), 1)).layout).toEqual(['n1', 'n2', 'm1', 'c1']);
    expect(check(doc, addWidget(doc, widget('n2'), 99)).layout).toEqual(['n1', 'm1', 'c1', 'n2']);
  });

  it('[OP5] does not repeat an id the layout already names', () => {
    const doc = { ...sample(), layout: ['n1', 'm1', 'c1', 'n2'] };
    expect(check(doc, addWidget(doc, widget('n2'))).layout).toEqual(['n1', 'm1', 'c1', 'n2']);
  });

  it('rejects an existing id and an invalid widget', () => {
    const doc = sample();
    expect(() => addWidget(doc, widget('n1'))).toThrow('widget n1 already exists');
    expect(() => addWidget(doc, widget('n2', { w: 0 }))).toThrow('widget.w must be greater than 0');
  });
});

describe('removeWidget', () => {
  it('removes from widgets and layout', () => {
    const doc = sample();
    const after = check(doc, removeWidget(doc, 'm1'));
    expect(Object.keys(after.widgets)).toEqual(['n1', 'c1']);
    expect(after.layout).toEqual(['n1', 'c1']);
  });

  it('[OP5] removes a widget missing from the layout', () => {
    const doc = { ...sample(), layout: ['n1'] };
    expect(check(doc, removeWidget(doc, 'm1')).layout).toEqual(['n1']);
  });

  it('carries no removed content, so deleting a huge note stays small', () => {
    const doc = sample();
    doc.widgets.n1!.text = 'x'.repeat(100_000);
    expect(JSON.stringify(removeWidget(doc, 'n1')).length).toBeLessThan(100);
  });

  it('throws for an unknown widget', () => {
    expect(() => removeWidget(sample(), 'nope')).toThrow('no widget nope');
    expect(() => removeWidget(sample(), 'constructor')).toThrow('no widget constructor');
  });
});

describe('moveWidget / resizeWidget / renameWidget / setTitle', () => {
  it('moves, touching only what changed', () => {
    const doc = sample();
    expect(check(doc, moveWidget(doc, 'n1', 3, 4)).widgets.n1).toMatchObject({ x: 3, y: 4 });
    expect(moveWidget(doc, 'n1', 0, 7)).toEqual(['widgets', 'n1', 'y', { r: true, i: 7 }]);
    expect(moveWidget(doc, 'n1', 0, 0)).toBeNull();
    expect(() => moveWidget(doc, 'n1', -1, 0)).toThrow(RangeError);
    expect(() => moveWidget(doc, 'n1', NaN, 0)).toThrow(RangeError);
  });

  it('resizes', () => {
    const doc = sample();
    expect(check(doc, resizeWidget(doc, 'c1', 8, 5)).widgets.c1).toMatchObject({ w: 8, h: 5 });
    expect(() => resizeWidget(doc, 'c1', 0, 5)).toThrow(RangeError);
  });

  it('renames a widget and the dashboard', () => {
    const doc = sample();
    expect(check(doc, renameWidget(doc, 'm1', 'Revenue')).widgets.m1!.title).toBe('Revenue');
    expect(check(doc, setTitle(doc, 'Sales')).title).toBe('Sales');
    expect(setTitle(doc, 'Ops')).toBeNull();
    expect(() => setTitle(doc, 'x'.repeat(201))).toThrow(RangeError);
    expect(() => renameWidget(doc, 'm1', 'x'.repeat(201))).toThrow(RangeError);
  });
});

describe('setWidgetConfig', () => {
  it('replaces an existing value', () => {
    const doc = sample();
    expect(check(doc, setWidgetConfig(doc, 'm1', ['value'], 42)).widgets.m1!.config.value).toBe(42);
    expect(setWidgetConfig(doc, 'm1', ['value'], 1)).toBeNull();
  });

  it('inserts a missing key and removes with undefined', () => {
    const doc = sample();
    expect(check(doc, setWidgetConfig(doc, 'm1', ['label'], 'MRR')).widgets.m1!.config).toEqual({
      value: 1,
      unit: '%',
      label: 'MRR',
    });
    expect(check(doc, setWidgetConfig(doc, 'm1', ['unit'], undefined)).widgets.m1!.config).toEqual({ value: 1 });
    expect(setWidgetConfig(doc, 'm1', ['label'], undefined)).toBeNull();
  });

  it('sets and appends inside arrays', () => {
    const doc = sample();
    const points = (d: DashboardDocument) => (d.widgets.c1!.config.series as { points: unknown[] }[])[0]!.points;
    expect(points(check(doc, setWidgetConfig(doc, 'c1', ['series', 0, 'points', 0], [5, 6])))).toEqual([[5, 6]]);
    expect(points(check(doc, setWidgetConfig(doc, 'c1', ['series', 0, 'points', 1], [1, 2])))).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(() => setWidgetConfig(doc, 'c1', ['series', 0, 'points', 5], [1, 2])).toThrow(RangeError);
  });

  it('replaces the whole config with an empty path', () => {
    const doc = sample();
    expect(check(doc, setWidgetConfig(doc, 'm1', [], { value: 9 })).widgets.m1!.config).toEqual({ value: 9 });
    expect(() => setWidgetConfig(doc, 'm1', [], 5)).toThrow(TypeError);
  });

  it('throws when the parent is missing or has the wrong shape', () => {
    const doc = sample();
    expect(() => setWidgetConfig(doc, 'm1', ['a', 'b'], 1)).toThrow('has no parent');
    expect(() => setWidgetConfig(doc, 'c1', ['series', 'x'], 1)).toThrow(TypeError);
    expect(() => setWidgetConfig(doc, 'm1', [0], 1)).toThrow(TypeError);
  });
});

describe('text builders', () => {
  it('inserts and deletes at code point offsets', () => {
    const doc = sample();
    expect(check(doc, insertText(doc, 'n1', 7, '!')).widgets.n1!.text).toBe('hello 😀! world');
    expect(check(doc, insertText(doc, 'n1', 0, '>')).widgets.n1!.text).toBe('>hello 😀 world');
    expect(check(doc, deleteText(doc, 'n1', 5, 2)).widgets.n1!.text).toBe('hello world');
    expect(check(doc, deleteText(doc, 'n1', 0, 6)).widgets.n1!.text).toBe('😀 world');
    expect(insertText(doc, 'n1', 3, '')).toBeNull();
    expect(deleteText(doc, 'n1', 3, 0)).toBeNull();
  });

  it('rejects out-of-range offsets', () => {
    const doc = sample(); // 13 code points
    expect(() => insertText(doc, 'n1', 14, 'x')).toThrow(RangeError);
    expect(() => deleteText(doc, 'n1', 10, 4)).toThrow(RangeError);
    expect(() => insertText(doc, 'n1', 1.5, 'x')).toThrow(RangeError);
    expect(() => editText(doc, 'n1', [20, 'x'])).toThrow();
    expect(() => editText(doc, 'n1', [10, { d: 5 }])).toThrow('past the end');
  });

  it('applies a raw text op', () => {
    const doc = sample();
    expect(check(doc, editText(doc, 'n1', [6, { d: 1 }, '🎉'])).widgets.n1!.text).toBe('hello 🎉 world');
  });
});

describe('textDiff', () => {
  it('returns null for equal texts', () => {
    expect(textDiff('same', 'same')).toBeNull();
  });

  it('produces one minimal edit between the common prefix and suffix', () => {
    expect(textDiff('hello world', 'hello brave world')).toEqual([6, 'brave ']);
    expect(textDiff('hello brave world', 'hello world')).toEqual([6, { d: 6 }]);
    expect(textDiff('abc', 'aXc')).toEqual([1, { d: 1 }, 'X']);
    expect(textDiff('', 'new')).toEqual(['new']);
    expect(textDiff('old', '')).toEqual([{ d: 3 }]);
  });

  it('counts code points and never splits a surrogate pair', () => {
    expect(textDiff('😀😀', '😀x😀')).toEqual([1, 'x']);
    // 😀 (d83d de00) -> 😁 (d83d de01) share a high surrogate.
    expect(textDiff('a😀b', 'a😁b')).toEqual([1, { d: 1 }, '😁']);
    // 🇫🇷 -> 🇫🇮 share the first code point.
    expect(textDiff('🇫🇷', '🇫🇮')).toEqual([1, { d: 1 }, '🇮']);
  });

  it('places an ambiguous edit at the caret', () => {
    expect(textDiff('aa', 'aaa')).toEqual([2, 'a']);
    expect(textDiff('aa', 'aaa', 1)).toEqual(['a']);
    expect(textDiff('aa', 'aaa', 2)).toEqual([1, 'a']);
    expect(textDiff('aaa', 'aa', 1)).toEqual([1, { d: 1 }]); // deleted after the caret
    expect(textDiff('😀😀', '😀😀😀', 1)).toEqual(['😀']);
  });

  it('turns any old text into any new text (randomized)', () => {
    const alphabet = ['a', 'b', '😀', '😁', 'é', '🇫🇷'];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const word = () => Array.from({ length: rand(8) }, () => alphabet[rand(alphabet.length)]).join('');
    for (let i = 0; i < 500; i++) {
      const before = word();
      const after = word();
      const hint = rand(Array.from(after).length + 1);
      const op = textDiff(before, after, i % 2 ? hint : undefined);
      if (op === null) {
        expect(before).toBe(after);
        continue;
      }
      textType.checkOp(op);
      expect(textType.apply(before, op)).toBe(after);
    }
  });
});

describe('reorderWidget', () => {
  it('moves an id so it ends up at the target index', () => {
    const doc = sample();
    expect(check(doc, reorderWidget(doc, 'n1', 2)).layout).toEqual(['m1', 'c1', 'n1']);
    expect(check(doc, reorderWidget(doc, 'c1', 0)).layout).toEqual(['c1', 'n1', 'm1']);
    expect(check(doc, reorderWidget(doc, 'c1', -5)).layout).toEqual(['c1', 'n1', 'm1']);
    expect(reorderWidget(doc, 'm1', 1)).toBeNull();
  });

  it('[OP5] puts a widget missing from the layout back into it', () => {
    const doc = { ...sample(), layout: ['n1', 'c1'] };
    expect(check(doc, reorderWidget(doc, 'm1', 1)).layout).toEqual(['n1', 'm1', 'c1']);
    expect(() => reorderWidget(doc, 'nope', 0)).toThrow('no widget nope');
  });
});
