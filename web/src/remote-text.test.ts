import { describe, expect, it } from '@jest/globals';
import { mirrorPieces, remoteTextMarks, type Place, type RemotePresence } from './remote-text.js';

const ada = { name: 'Ada', color: '#e11d48' };
const bob = { name: 'Bob', color: '#2563eb' };
const identity: Place = (position) => position;

function presence(clientId: string, cursor: unknown, selection: unknown, user = ada): RemotePresence {
  return { clientId, cursor, selection, version: 3, status: 'ACTIVE', user };
}

describe('remoteTextMarks', () => {
  it('takes the caret from the cursor and the range from the selection, in UTF-16 indices', () => {
    const text = 'a😀bcd';
    const marks = remoteTextMarks(
      'w1',
      text,
      [presence('c1', { widgetId: 'w1', offset: 2 }, { widgetId: 'w1', anchor: 4, head: 1 })],
      identity,
    );
    // Code point 2 is after the emoji (two UTF-16 units).
    expect(marks).toEqual([
      { clientId: 'c1', name: 'Ada', color: '#e11d48', idle: false, caret: 3, range: { start: 1, end: 5 } },
    ]);
  });

  it('falls back to the selection head when the cursor is elsewhere (e.g. a canvas point)', () => {
    const marks = remoteTextMarks(
      'w1',
      'hello',
      [presence('c1', { x: 1, y: 2 }, { widgetId: 'w1', anchor: 1, head: 1 })],
      identity,
    );
    expect(marks).toEqual([expect.objectContaining({ caret: 1, range: null })]);
  });

  it('skips other widgets, widget-id selections, malformed data and positions that cannot be placed', () => {
    const list = [
      presence('c1', { widgetId: 'w2', offset: 1 }, ['w1']),
      presence('c2', { widgetId: 'w1', offset: -1 }, { widgetId: 'w1', anchor: 'x', head: 0 }),
      presence('c3', null, null),
      presence('c4', { widgetId: 'w1', offset: 2 }, null, bob),
    ];
    expect(remoteTextMarks('w1', 'hello', list, identity)).toEqual([
      expect.objectContaining({ clientId: 'c4', caret: 2, name: 'Bob' }),
    ]);
    expect(remoteTextMarks('w1', 'hello', list, () => null)).toEqual([]);
  });

  it('maps through `place` (with the presence version) and clamps to the text', () => {
    const calls: number[] = [];
    const shift: Place = (position, version) => {
      calls.push(version);
      if (position && 'offset' in position) return { ...position, offset: position.offset + 10 };
      return position;
    };
    const marks = remoteTextMarks('w1', 'hello', [presence('c1', { widgetId: 'w1', offset: 2 }, null)], shift);
    expect(calls).toEqual([3]);
    expect(marks[0]!.caret).toBe(5);
  });
});

describe('mirrorPieces', () => {
  it('cuts the text at every caret and selection boundary', () => {
    const [a, b] = remoteTextMarks(
      'w',
      'hello world',
      [
        presence('a', { widgetId: 'w', offset: 8 }, { widgetId: 'w', anchor: 2, head: 8 }),
        presence('b', { widgetId: 'w', offset: 0 }, { widgetId: 'w', anchor: 6, head: 11 }, bob),
      ],
      identity,
    );
    const pieces = mirrorPieces('hello world', [a!, b!]);
    expect(pieces.map((p) => (p.kind === 'caret' ? `|${p.mark.clientId}` : p.text))).toEqual([
      '|b',
      'he',
      'llo ',
      'wo',
      '|a',
      'rld',
    ]);
    const covered = pieces.flatMap((p) => (p.kind === 'text' ? [p.selectedBy.map((m) => m.clientId).join('+')] : []));
    expect(covered).toEqual(['', 'a', 'a+b', 'b']);
    expect(pieces.map((p) => (p.kind === 'text' ? p.text : '')).join('')).toBe('hello world');
  });

  it('puts a caret at the very end, and handles empty text', () => {
    const marks = remoteTextMarks('w', 'hi\n', [presence('a', { widgetId: 'w', offset: 3 }, null)], identity);
    expect(mirrorPieces('hi\n', marks).map((p) => p.kind)).toEqual(['text', 'caret']);
    const none = remoteTextMarks('w', '', [presence('a', { widgetId: 'w', offset: 0 }, null)], identity);
    expect(mirrorPieces('', none).map((p) => p.kind)).toEqual(['caret']);
  });
});
