/**
 * The collaboration engine through the public API, commits: one linear history (OP1), group
 * commit (GC1), concurrent edits (OP3, OP1a), idempotent submits (OP2), validation (OP5, GC4).
 * Subscriptions are in collab-subscriptions.test.ts, undo, snapshots and checkpoints in
 * collab-history.test.ts.
 */
import {
  addWidget,
  insertText,
  moveWidget,
  newWidget,
  removeWidget,
  type DashboardDocument,
  type JSONOp,
} from '@collab-dashboards/core';
import { errorCode, SUBMIT } from './helpers/harness.js';
import {
  addNote,
  board,
  C,
  doc,
  editor,
  owner,
  stranger,
  submit,
  t,
  useCollabApp,
  viewer,
} from './helpers/collab-app.js';

useCollabApp();

describe('[OP1] one linear history', () => {
  it('commits versions 1, 2, 3 without gaps and pages the history', async () => {
    const id = await board();
    for (let i = 1; i <= 3; i++) expect((await addNote(id, `n${i}`)).version).toBe(i);
    const page = await t.ok(
      `query($id: ID!) { dashboard(id: $id) { operations(fromVersion: 1, limit: 1) { version } all: operations(fromVersion: 0) { version clientId seq author { id } } } }`,
      { id },
      viewer.token,
    );
    expect(page.dashboard.operations).toEqual([{ version: 2 }]);
    expect(page.dashboard.all.map((o: { version: number }) => o.version)).toEqual([1, 2, 3]);
    expect(page.dashboard.all[0].author.id).toBe(owner.userId);
    const tooMany = await t.gql(
      `query($id: ID!) { dashboard(id: $id) { operations(fromVersion: 0, limit: 1001) { version } } }`,
      { id },
      owner.token,
    );
    expect(errorCode(tooMany)).toBe('BAD_USER_INPUT');
  });

  it('[GC1] commits concurrent submits from many clients as distinct consecutive versions (group commit)', async () => {
    const id = await board();
    const { document } = await doc(id);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        // Each on a row of its own: widgets dropped on one spot would add layout fix-ups (LY2).
        submit(id, addWidget(document, newWidget('metric', { id: `m${i}`, y: 3 * i, h: 3 })), 0, {
          clientId: C(`burst-${i}`),
          seq: 1,
        }),
      ),
    );
    const versions = results.map((r) => r.data.submitOperation.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const after = await doc(id);
    expect(after.version).toBe(40);
    expect(Object.keys(after.document.widgets)).toHaveLength(40);
    expect(new Set(after.document.layout).size).toBe(40);
  });
});

describe('[OP3] concurrent edits never fail', () => {
  it('two inserts into the same note at the same base both survive', async () => {
    const id = await board();
    await addNote(id, 'n', 'hello');
    const { document } = await doc(id);
    const a = await submit(id, insertText(document, 'n', 0, 'A'), 1, { clientId: C('c-a') });
    const b = await submit(id, insertText(document, 'n', 5, 'B'), 1, { clientId: C('c-b'), token: editor.token });
    expect(a.data.submitOperation.version).toBe(2);
    expect(b.data.submitOperation.version).toBe(3);
    expect((await doc(id)).document.widgets.n!.text).toBe('AhelloB');
  });

  it('[OP1a] an edit inside a widget someone removed is absorbed: committed as null, still versioned', async () => {
    const id = await board();
    await addNote(id, 'n', 'text');
    const { document } = await doc(id);
    await submit(id, removeWidget(document, 'n'), 1, { clientId: C('c-rm') });
    const absorbed = await submit(id, insertText(document, 'n', 0, 'late '), 1, {
      clientId: C('c-late'),
      token: editor.token,
    });
    expect(absorbed.data.submitOperation).toEqual({ version: 3, op: null, duplicate: false });
    const after = await doc(id);
    expect(after.version).toBe(3);
    expect(after.document.widgets).toEqual({});
  });
});

describe('[OP2] idempotent submits', () => {
  it('a resubmission returns the original ack with duplicate: true and commits nothing', async () => {
    const id = await board();
    const { document } = await doc(id);
    const op = addWidget(document, newWidget('note', { id: 'x' }));
    const first = await submit(id, op, 0, { clientId: C('idem'), seq: 7 });
    const again = await submit(id, op, 0, { clientId: C('idem'), seq: 7 });
    expect(first.data.submitOperation.duplicate).toBe(false);
    expect(again.data.submitOperation).toEqual({ ...first.data.submitOperation, duplicate: true });
    expect((await doc(id)).version).toBe(1);
  });

  it('a clientId belongs to the user who first used it', async () => {
    const id = await board();
    const { document } = await doc(id);
    await submit(id, addWidget(document, newWidget('note', { id: 'y' })), 0, { clientId: C('owned-by-owner'), seq: 1 });
    const stolen = await submit(id, moveWidget((await doc(id)).document, 'y', 3, 3), 1, {
      clientId: C('owned-by-owner'),
      seq: 2,
      token: editor.token,
    });
    expect(errorCode(stolen)).toBe('FORBIDDEN');
  });
});

describe('[OP5] validation: nothing is committed for a bad op', () => {
  let id: string;
  let document: DashboardDocument;
  beforeAll(async () => {
    id = await board();
    await addNote(id, 'n', 'abc');
    document = (await doc(id)).document;
  });

  it.each<[string, unknown, string]>([
    ['not an op', { hello: 'world' }, 'BAD_OPERATION'],
    ['an empty descent', [], 'BAD_OPERATION'],
    ['an op that does not apply', ['widgets', 'missing', 'text', { es: [1, 'x'] }], 'BAD_OPERATION'],
    ['an op that breaks the shape', ['widgets', 'n', 'x', { r: true, i: 'left' }], 'BAD_OPERATION'],
    ['an op adding a top-level key', ['extra', { i: 1 }], 'BAD_OPERATION'],
    ['a 300 KB op', ['widgets', 'n', 'text', { es: [0, 'x'.repeat(300_000)] }], 'PAYLOAD_TOO_LARGE'],
  ])('%s -> %s', async (_name, op, code) => {
    const r = await submit(id, op as JSONOp, 1);
    expect(errorCode(r)).toBe(code);
    expect(await doc(id)).toEqual({ version: 1, document });
  });

  it('a baseVersion in the future is BAD_USER_INPUT', async () => {
    expect(errorCode(await submit(id, moveWidget(document, 'n', 1, 1), 99))).toBe('BAD_USER_INPUT');
  });

  it('a null op is refused by the schema', async () => {
    const r = await t.gql(SUBMIT, { d: id, c: C('c'), s: 1, b: 1, op: null }, owner.token);
    expect(r.errors).toBeDefined();
    expect((await doc(id)).version).toBe(1);
  });

  it('[GC4] is validated against the document at its baseVersion, then transformed', async () => {
    const fresh = await board();
    await addNote(fresh, 'n', 'one');
    const v1 = (await doc(fresh)).document;
    await submit(fresh, insertText(v1, 'n', 3, ' two'), 1, { clientId: C('v-a') }); // v2: "one two"
    // Offset 3 is valid at v1; it lands after "one" and before " two" once transformed.
    const late = await submit(fresh, insertText(v1, 'n', 3, '!'), 1, { clientId: C('v-b') });
    expect(late.data.submitOperation.version).toBe(3);
    expect((await doc(fresh)).document.widgets.n!.text).toMatch(/^one(!| two)/);
    expect((await doc(fresh)).document.widgets.n!.text.length).toBe(8);
  });

  it('viewers and strangers cannot submit', async () => {
    expect(
      errorCode(await submit(id, moveWidget(document, 'n', 2, 2), 1, { token: viewer.token, clientId: C('v') })),
    ).toBe('FORBIDDEN');
    expect(
      errorCode(await submit(id, moveWidget(document, 'n', 2, 2), 1, { token: stranger.token, clientId: C('s') })),
    ).toBe('NOT_FOUND');
  });
});
