import { newWidget, type DashboardDocument } from './document.js';
import { addWidget, deleteText, insertText, moveWidget, removeWidget, setWidgetConfig } from './ops.js';
import { applyOp, composeOps, type JSONOp, type JSONValue } from './ot.js';
import { replaceOp, removeOp } from 'ot-json1';
import {
  transformCursor,
  transformSelection,
  transformThrough,
  validateCursor,
  validateSelection,
  type TextCursor,
} from './presence.js';

function sample(): DashboardDocument {
  const a = newWidget('note', { id: 'a', text: 'ab😀cd' });
  const b = newWidget('note', { id: 'b', text: 'other' });
  return { title: 't', widgets: { a, b }, layout: ['a', 'b'] };
}
const at = (offset: number, widgetId = 'a'): TextCursor => ({ widgetId, offset });

describe('transformCursor [PR2]', () => {
  const doc = sample();

  it('[PR2] leaves a canvas point alone', () => {
    expect(transformCursor({ x: 1.5, y: 2 }, removeWidget(doc, 'a'))).toEqual({ x: 1.5, y: 2 });
  });

  it('[PR2] moves a text cursor past a remote insert before it (code points)', () => {
    expect(transformCursor(at(4), insertText(doc, 'a', 1, '🎉🎉'))).toEqual(at(6));
    expect(transformCursor(at(2), insertText(doc, 'a', 3, 'x'))).toEqual(at(2));
  });

  it('keeps the cursor before text inserted exactly at it', () => {
    expect(transformCursor(at(3), insertText(doc, 'a', 3, 'xyz'))).toEqual(at(3));
  });

  it('[PR2] clamps a cursor inside a deleted range to its start', () => {
    expect(transformCursor(at(3), deleteText(doc, 'a', 1, 4))).toEqual(at(1));
    expect(transformCursor(at(5), deleteText(doc, 'a', 1, 2))).toEqual(at(3));
  });

  it('ignores edits elsewhere', () => {
    expect(transformCursor(at(3), insertText(doc, 'b', 0, 'zz'))).toEqual(at(3));
    expect(transformCursor(at(3), moveWidget(doc, 'a', 4, 4))).toEqual(at(3));
    expect(transformCursor(at(3), null)).toEqual(at(3));
  });

  it('finds the edit inside a compound op', () => {
    const op = composeOps(
      addWidget(doc, newWidget('note', { id: 'c' }), 0),
      moveWidget(doc, 'a', 1, 1),
      insertText(doc, 'a', 0, 'xx'),
    );
    expect(transformCursor(at(3), op)).toEqual(at(5));
  });

  it('[PR2] becomes null when its widget or text is removed', () => {
    expect(transformCursor(at(3), removeWidget(doc, 'a'))).toBeNull();
    expect(transformCursor(at(3), removeOp(['widgets', 'a', 'text']))).toBeNull();
    expect(transformCursor(at(3), removeWidget(doc, 'a'), doc)).toBeNull();
    expect(transformCursor(null, insertText(doc, 'a', 0, 'x'))).toBeNull();
  });

  it('given the document before, survives a wholesale replace, clamped', () => {
    const replaceText = replaceOp(['widgets', 'a', 'text'], true, 'xy');
    expect(transformCursor(at(4), replaceText)).toBeNull();
    expect(transformCursor(at(4), replaceText, doc)).toEqual(at(2));
    expect(transformCursor(at(1), replaceText, doc)).toEqual(at(1));
    const restored = replaceOp(['widgets', 'a'], true, { ...doc.widgets.a!, text: 'abc' } as unknown as JSONValue);
    expect(transformCursor(at(5), restored, doc)).toEqual(at(3));
  });
});

describe('transformSelection [PR2]', () => {
  const doc = sample();

  it('moves both ends of a text selection', () => {
    const selection = { widgetId: 'a', anchor: 4, head: 1 };
    expect(transformSelection(selection, insertText(doc, 'a', 0, '😀'))).toEqual({ widgetId: 'a', anchor: 5, head: 2 });
    expect(transformSelection(selection, deleteText(doc, 'a', 0, 5))).toEqual({ widgetId: 'a', anchor: 0, head: 0 });
  });

  it('[PR2] becomes null when the widget is removed', () => {
    expect(transformSelection({ widgetId: 'a', anchor: 0, head: 1 }, removeWidget(doc, 'a'))).toBeNull();
  });

  it('drops removed widgets from a widget-id list, keeping an empty list', () => {
    expect(transformSelection(['a', 'b'], removeWidget(doc, 'a'))).toEqual(['b']);
    expect(transformSelection(['a'], removeWidget(doc, 'a'))).toEqual([]);
    expect(transformSelection(['a', 'b'], setWidgetConfig(doc, 'a', ['x'], 1))).toEqual(['a', 'b']);
    expect(transformSelection(null, removeWidget(doc, 'a'))).toBeNull();
  });

  it('given the document before, keeps a widget that was replaced wholesale', () => {
    const restored = replaceOp(['widgets', 'a'], true, doc.widgets.a! as unknown as JSONValue);
    expect(transformSelection(['a'], restored)).toEqual([]);
    expect(transformSelection(['a'], restored, doc)).toEqual(['a']);
  });
});

describe('transformThrough', () => {
  it('transforms through ops in order', () => {
    let doc = sample();
    const ops: JSONOp[] = [];
    const push = (op: JSONOp) => {
      ops.push(op);
      doc = applyOp(doc, op);
    };
    push(insertText(doc, 'a', 0, 'xx')); // cursor 3 -> 5
    push(deleteText(doc, 'a', 0, 1)); // -> 4
    push(insertText(doc, 'a', 4, 'y')); // at the cursor: stays 4
    expect(transformThrough(at(3), ops)).toEqual(at(4));
    expect(transformThrough({ widgetId: 'a', anchor: 0, head: 3 }, ops)).toEqual({ widgetId: 'a', anchor: 0, head: 4 });
    expect(transformThrough(['a', 'b'], ops)).toEqual(['a', 'b']);
    expect(transformThrough({ x: 1, y: 1 }, ops)).toEqual({ x: 1, y: 1 });
  });

  it('stays null once removed and tracks the document when given one', () => {
    const doc = sample();
    const ops = [
      removeWidget(doc, 'a'),
      addWidget({ ...doc, widgets: { b: doc.widgets.b! }, layout: ['b'] }, { ...doc.widgets.a!, text: 'x' }),
    ];
    expect(transformThrough(at(3), ops)).toBeNull();
    expect(transformThrough(at(3), ops, doc)).toBeNull();
    const replaced = [
      replaceOp(['widgets', 'a', 'text'], true, 'xyz'),
      insertText({ ...doc, widgets: { ...doc.widgets, a: { ...doc.widgets.a!, text: 'xyz' } } }, 'a', 0, '12'),
    ];
    expect(transformThrough(at(5), replaced, doc)).toEqual(at(5));
  });
});

describe('validateCursor / validateSelection', () => {
  it.each<[unknown]>([[null], [{ x: 1.5, y: -2 }], [{ widgetId: 'a', offset: 0 }], [{ widgetId: 'a', offset: 12 }]])(
    'accepts cursor %j',
    (value) => expect(validateCursor(value)).toBeNull(),
  );

  it.each<[unknown, string]>([
    ['x', 'cursor must be an object or null'],
    [[1, 2], 'cursor must be an object or null'],
    [{ x: 1 }, 'cursor must be { x, y } or { widgetId, offset }'],
    [{ x: 1, y: 2, z: 3 }, 'cursor must be { x, y } or { widgetId, offset }'],
    [{ x: Infinity, y: 2 }, 'cursor.x and cursor.y must be finite numbers'],
    [{ x: '1', y: 2 }, 'cursor.x and cursor.y must be finite numbers'],
    [{ widgetId: 'a', offset: -1 }, 'cursor.offset must be a non-negative integer'],
    [{ widgetId: 'a', offset: 1.5 }, 'cursor.offset must be a non-negative integer'],
    [{ widgetId: 3, offset: 1 }, 'cursor.widgetId must be a non-empty string'],
    [{ widgetId: 'a', offset: 1, evil: 'x' }, 'cursor must be { widgetId, offset }'],
  ])('rejects cursor %j', (value, message) => expect(validateCursor(value)).toBe(message));

  it.each<[unknown]>([[null], [[]], [['a', 'b']], [{ widgetId: 'a', anchor: 0, head: 5 }]])(
    'accepts selection %j',
    (value) => expect(validateSelection(value)).toBeNull(),
  );

  it.each<[unknown, string]>([
    [5, 'selection must be an object, a list of widget ids or null'],
    [[1], 'selection must list widget ids (strings)'],
    [Array.from({ length: 101 }, (_, i) => `w${i}`), 'selection must list at most 100 widgets'],
    [{ widgetId: 'a', anchor: 0 }, 'selection must be { widgetId, anchor, head }'],
    [{ widgetId: 'a', anchor: 0, head: -1 }, 'selection.head must be a non-negative integer'],
    [{ widgetId: '', anchor: 0, head: 0 }, 'selection.widgetId must be a non-empty string'],
  ])('rejects selection %j', (value, message) => expect(validateSelection(value)).toBe(message));
});
