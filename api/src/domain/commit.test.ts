import {
  addWidget,
  applyOp,
  createDocument,
  insertText,
  invertOp,
  moveWidget,
  newWidget,
  removeWidget,
  type DashboardDocument,
  type JSONOp,
} from '@collab-dashboards/core';
import {
  applyCommitted,
  documentBefore,
  rebase,
  textEditTarget,
  validateSubmittedOp,
  withoutCancelledPairs,
  type HistoryOp,
} from './commit.js';
import { diffDocuments } from './restore.js';

/** Builds a history of ops from v0, keeping each op's inverse as the store does. */
function history(start: DashboardDocument, ops: Array<(doc: DashboardDocument) => JSONOp>) {
  let doc = start;
  const docs = [doc];
  const rows: HistoryOp[] = [];
  ops.forEach((make, i) => {
    const op = make(doc);
    const { after, inverse } = applyCommitted(doc, op);
    rows.push({ version: i + 1, op, inverse });
    doc = after as DashboardDocument;
    docs.push(doc);
  });
  return { head: doc, docs, rows };
}

const note = (id: string, text = '') => newWidget('note', { id, text });

describe('documentBefore', () => {
  it('[OP5][GC4] rebuilds every past version from the head and the stored inverses', () => {
    const { head, docs, rows } = history(createDocument('t'), [
      (d) => addWidget(d, note('a', 'hello')),
      (d) => insertText(d, 'a', 5, ' world'),
      (d) => moveWidget(d, 'a', 3, 4),
      (d) => addWidget(d, note('b')),
      (d) => removeWidget(d, 'a'),
    ]);
    for (let v = 0; v <= rows.length; v++) {
      expect(documentBefore(head, rows.slice(v))).toEqual(docs[v]);
    }
    // Every document on the way down, each version once.
    const seen: Array<[number, unknown]> = [];
    documentBefore(head, rows, (version, d) => seen.push([version, d]));
    expect(seen).toEqual(
      docs
        .slice(0, -1)
        .map((d, v) => [v, d])
        .reverse(),
    );
  });
});

describe('validateSubmittedOp', () => {
  const doc = applyOp(createDocument('t'), addWidget(createDocument('t'), note('a', 'abc')));
  it.each<[string, unknown]>([
    ['null', null],
    ['an object', { i: 1 }],
    ['an empty descent', []],
    ['an edit of a missing widget', ['widgets', 'zzz', 'text', { es: [0, 'x'] }]],
    ['a widget without geometry', ['widgets', 'q', { i: { id: 'q', type: 'note' } }]],
    ['a layout that is not a list', ['layout', { r: true, i: 'x' }]],
  ])('[OP5] refuses %s', (_name, op) => {
    expect(validateSubmittedOp(op, doc)).toMatchObject({ ok: false });
  });

  it('accepts a valid op and returns the document after it', () => {
    const op = moveWidget(doc, 'a', 1, 2);
    const result = validateSubmittedOp(op, doc);
    expect(result).toEqual({ ok: true, after: applyOp(doc, op) });
  });
});

describe('rebase', () => {
  it('[OP3] transforms over later ops with the incoming op on the left and converges', () => {
    const base = applyOp(createDocument('t'), addWidget(createDocument('t'), note('a', 'xy')));
    const theirs = insertText(base, 'a', 1, 'T');
    const mine = insertText(base, 'a', 1, 'M');
    const { op, conflicts } = rebase(mine, [{ version: 2, op: theirs, inverse: invertOp(theirs, base) }]);
    expect(conflicts).toBe(0);
    const after = applyOp(applyOp(base, theirs), op!) as DashboardDocument;
    // Left wins ties: the incoming insert goes first at the same offset.
    expect(after.widgets.a!.text).toBe('xMTy');
  });

  it('[OP1a] an edit inside a removed widget is absorbed to null, and counted as a conflict', () => {
    const base = applyOp(createDocument('t'), addWidget(createDocument('t'), note('a', 'xy')));
    const removal = removeWidget(base, 'a');
    const edit = insertText(base, 'a', 0, 'late');
    const result = rebase(edit, [{ version: 2, op: removal, inverse: invertOp(removal, base) }]);
    expect(result.op).toBeNull();
    expect(result.conflicts).toBe(1);
  });

  it('skips absorbed (null) ops in the history', () => {
    const base = createDocument('t');
    const op = addWidget(base, note('a'));
    expect(rebase(op, [{ version: 1, op: null, inverse: null }]).op).toEqual(op);
  });
});

describe('diffDocuments (restoreVersion)', () => {
  it('turns one document into another, touching only what differs', () => {
    const { docs } = history(createDocument('old'), [
      (d) => addWidget(d, note('keep', 'same')),
      (d) => addWidget(d, note('gone', 'bye')),
      (d) => moveWidget(d, 'keep', 5, 5),
    ]);
    const target = docs[1]!;
    const current = applyOp(docs[3]!, addWidget(docs[3]!, note('new')));
    const op = diffDocuments(current, { ...target, title: 'older' })!;
    expect(applyOp(current, op)).toEqual({ ...target, title: 'older' });
    expect(diffDocuments(target, target)).toBeNull();
    // An edit to an untouched widget, concurrent with the restore, survives it.
    const unrelated = applyOp(createDocument('t'), addWidget(createDocument('t'), note('u', 'u')));
    // (v goes beside u: placed on it, it would push u down and so touch it, rule LY1.)
    const withBoth = applyOp(unrelated, addWidget(unrelated, { ...note('v'), x: 6 }));
    const restoreOp = diffDocuments(withBoth, unrelated)!;
    const concurrent = insertText(withBoth, 'u', 1, '!');
    const rebased = rebase(concurrent, [{ version: 1, op: restoreOp, inverse: invertOp(restoreOp, withBoth) }]);
    expect((applyOp(applyOp(withBoth, restoreOp), rebased.op!) as DashboardDocument).widgets.u!.text).toBe('u!');
  });

  it('changes a widget field by field and its text by the changed region, so concurrent typing survives', () => {
    const base = applyOp(createDocument('t'), addWidget(createDocument('t'), note('n', 'hello world')));
    // Since the version restored, the note moved and its text grew.
    const moved = applyOp(base, moveWidget(base, 'n', 4, 0));
    const now = applyOp(moved, insertText(moved, 'n', 5, ' brave new'));
    const restoreOp = diffDocuments(now, base)!;
    expect(applyOp(now, restoreOp)).toEqual(base);
    // Someone types at the end of the note while the restore commits: their text stays.
    const typing = insertText(now, 'n', [...now.widgets.n!.text].length, '!');
    const rebased = rebase(typing, [{ version: 1, op: restoreOp, inverse: invertOp(restoreOp, now) }]);
    const after = applyOp(applyOp(now, restoreOp), rebased.op!) as DashboardDocument;
    expect(after.widgets.n).toMatchObject({ text: 'hello world!', x: 0 });
  });
});

describe('[UN2] withoutCancelledPairs and undo steps', () => {
  const row = (version: number, over: Partial<HistoryOp> = {}): HistoryOp => ({
    version,
    op: ['x', { r: true, i: version }] as JSONOp,
    inverse: null,
    undoGroup: version,
    ...over,
  });
  const versions = (rows: HistoryOp[]) => withoutCancelledPairs(rows).map((r) => r.version);

  it('[UN5] an undo of a whole step cancels the step when all of it stands right before it', () => {
    const step = [row(1), row(2, { undoGroup: 1 }), row(3, { undoGroup: 1 })];
    expect(versions([row(0), ...step, row(4, { kind: 'undo', refVersion: 3, undoGroup: 1 })])).toEqual([0]);
  });

  it("[UN5] keeps everything when someone else's op stands inside the step", () => {
    const rows = [
      row(1),
      row(2, { undoGroup: 99 }), // another client's op
      row(3, { undoGroup: 1 }),
      row(4, { kind: 'undo', refVersion: 3, undoGroup: 1 }),
    ];
    expect(versions(rows)).toEqual([1, 2, 3, 4]);
  });

  it('[UN10] a single op and its undo or redo still cancel as a pair', () => {
    expect(versions([row(1), row(2), row(3, { kind: 'undo', refVersion: 2, undoGroup: 2 })])).toEqual([1]);
    expect(versions([row(1), row(2, { kind: 'redo', refVersion: 1, undoGroup: 2 })])).toEqual([]);
    // Rows from before undo steps existed (undoGroup null) pair as before.
    expect(versions([row(1, { undoGroup: null }), row(2, { kind: 'undo', refVersion: 1, undoGroup: null })])).toEqual(
      [],
    );
  });

  it('[UN10] a restore naming a version is not an undo of it', () => {
    expect(versions([row(1), row(2, { kind: 'restore', refVersion: 1 })])).toEqual([1, 2]);
  });
});

describe('[UN2] textEditTarget', () => {
  it('names the widget of a pure text edit, else null', () => {
    expect(textEditTarget(['widgets', 'n', 'text', { es: ['ab'] }])).toBe('n');
    expect(textEditTarget(['widgets', 'n', 'x', { r: true, i: 3 }])).toBeNull();
    expect(
      textEditTarget([
        ['layout', 0, { i: 'n' }],
        ['widgets', 'n', { i: {} }],
      ]),
    ).toBeNull();
    expect(textEditTarget(null)).toBeNull();
  });
});
