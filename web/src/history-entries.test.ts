import { addWidget, createDocument, insertText, moveWidget, newWidget, removeWidget } from '@collab-dashboards/core';
import { describeEntry, describeOp, groupHistory, type HistoryOp } from './history-entries.js';

const doc = (() => {
  const empty = createDocument('t');
  const a = addWidget(empty, newWidget('note', { id: 'a', text: 'hi' }));
  return { empty, a };
})();

describe('describeOp', () => {
  it('reads what an op did from its structure, whatever the key order of stored JSON', () => {
    expect(describeOp(doc.a)).toBe('Added a widget');
    // As stored in jsonb: the inserted widget's keys come back reordered.
    expect(
      describeOp([
        ['layout', 1, { i: 'm' }],
        ['widgets', 'm', { i: { h: 2, w: 2, x: 10, y: 0, id: 'm', text: '', type: 'metric', config: {} } }],
      ]),
    ).toBe('Added a widget');
    const withNote = { title: 't', widgets: { a: newWidget('note', { id: 'a', text: 'hi' }) }, layout: ['a'] };
    expect(describeOp(insertText(withNote, 'a', 0, 'x'))).toBe('Edited note text');
    expect(describeOp(moveWidget(withNote, 'a', 3, 0))).toBe('Moved a widget');
    expect(describeOp(removeWidget(withNote, 'a'))).toBe('Removed a widget');
    expect(describeOp(['widgets', 'a', 'config', 'unit', { i: 'ms' }])).toBe('Changed widget settings');
    expect(describeOp(['title', { r: true, i: 'New' }])).toBe('Renamed');
    expect(describeOp(null)).toBe('No change (absorbed by a concurrent edit)');
  });
});

describe('[UN2] groupHistory', () => {
  const op = (version: number, over: Partial<HistoryOp> = {}): HistoryOp => ({
    version,
    op: ['widgets', 'a', 'text', { es: ['x'] }],
    clientId: 'me',
    seq: version,
    kind: 'EDIT',
    refVersion: null,
    undoGroup: version,
    createdAt: new Date(version * 1000).toISOString(),
    author: { id: 'u', name: 'Ada', color: '#000' },
    ...over,
  });

  it("one entry per undo step, even with others' ops between; newest first", () => {
    const entries = groupHistory([
      op(1),
      op(2, { undoGroup: 1 }),
      op(3, { clientId: 'them', undoGroup: 3 }),
      op(4, { undoGroup: 1 }),
      op(5, { kind: 'RESTORE', refVersion: 2, undoGroup: 5 }),
      op(6, { kind: 'UNDO', refVersion: 5, undoGroup: 5 }),
    ]);
    expect(entries.map((e) => [e.newest.version, e.count, e.oldest])).toEqual([
      [6, 1, 6],
      [5, 1, 5],
      [4, 3, 1],
      [3, 1, 3],
    ]);
    expect(entries.map(describeEntry)).toEqual([
      'Undid a change',
      'Restored version 2',
      'Edited note text (3 edits)',
      'Edited note text',
    ]);
  });
});
