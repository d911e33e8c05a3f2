/**
 * The collaboration engine through the public API, history: snapshots and documentAt (SN1),
 * undo and redo (UN1, UN3), checkpoints and restore (UN6).
 */
import {
  addWidget,
  applyOp,
  insertText,
  moveWidget,
  newWidget,
  removeWidget,
  type DashboardDocument,
} from '@collab-dashboards/core';
import { errorCode, subscribeEvents } from './helpers/harness.js';
import {
  addNote,
  backend,
  board,
  C,
  doc,
  editor,
  owner,
  submit,
  t,
  useCollabApp,
  viewer,
} from './helpers/collab-app.js';

useCollabApp();

describe('[SN1] snapshots and history', () => {
  it('documentAt(v) rebuilds every past version (snapshots every 5 ops)', async () => {
    const id = await board();
    const expected: DashboardDocument[] = [(await doc(id)).document];
    for (let i = 1; i <= 12; i++) {
      const { version, document } = await doc(id);
      const op =
        i % 3 === 0 ? moveWidget(document, `w${i - 1}`, i, i) : addWidget(document, newWidget('note', { id: `w${i}` }));
      await submit(id, op, version);
      expected.push(applyOp(document, op));
    }
    for (let v = 0; v <= 12; v++) {
      const { dashboard } = await t.ok(
        `query($id: ID!, $v: Int!) { dashboard(id: $id) { documentAt(version: $v) } }`,
        { id, v },
        viewer.token,
      );
      expect([v, dashboard.documentAt]).toEqual([v, expected[v]]);
    }
    const snaps = await backend.store.latestSnapshot(id, 12);
    expect(snaps?.version).toBe(10);
    const bad = await t.gql(`query($id: ID!) { dashboard(id: $id) { documentAt(version: 13) } }`, { id }, owner.token);
    expect(errorCode(bad)).toBe('BAD_USER_INPUT');
  });
});

describe('[UN1] undo and redo', () => {
  const UNDO = `mutation($d: ID!, $c: ID!, $s: Int!) { undo(dashboardId: $d, clientId: $c, seq: $s) { version op duplicate } }`;
  const REDO = `mutation($d: ID!, $c: ID!, $s: Int!) { redo(dashboardId: $d, clientId: $c, seq: $s) { version op duplicate } }`;

  it("undoes only the caller's op, keeps others' later edits, and redo restores it", async () => {
    const id = await board();
    await addNote(id, 'n', 'base');
    let cur = await doc(id);
    await submit(id, insertText(cur.document, 'n', 4, ' mine'), cur.version, { clientId: C('me'), seq: 1 });
    cur = await doc(id);
    await submit(id, insertText(cur.document, 'n', 0, 'theirs '), cur.version, {
      clientId: C('them'),
      seq: 1,
      token: editor.token,
    });
    expect((await doc(id)).document.widgets.n!.text).toBe('theirs base mine');

    const undo = await t.ok(UNDO, { d: id, c: C('me'), s: 2 }, owner.token);
    expect(undo.undo.duplicate).toBe(false);
    expect((await doc(id)).document.widgets.n!.text).toBe('theirs base');
    // A retry of the same undo is a duplicate, not a second undo.
    expect((await t.ok(UNDO, { d: id, c: C('me'), s: 2 }, owner.token)).undo).toEqual({
      ...undo.undo,
      duplicate: true,
    });

    await t.ok(REDO, { d: id, c: C('me'), s: 3 }, owner.token);
    expect((await doc(id)).document.widgets.n!.text).toBe('theirs base mine');
    await t.ok(UNDO, { d: id, c: C('me'), s: 4 }, owner.token);
    await t.ok(REDO, { d: id, c: C('me'), s: 5 }, owner.token);
    expect((await doc(id)).document.widgets.n!.text).toBe('theirs base mine');
  });

  it('[UN3] returns null with nothing to undo or redo; a new edit empties the redo stack', async () => {
    const id = await board();
    expect(await t.ok(UNDO, { d: id, c: C('fresh'), s: 1 }, owner.token)).toEqual({ undo: null });
    expect(await t.ok(REDO, { d: id, c: C('fresh'), s: 2 }, owner.token)).toEqual({ redo: null });
    await submit(id, addWidget((await doc(id)).document, newWidget('note', { id: 'a' })), 0, {
      clientId: C('fresh'),
      seq: 3,
    });
    await t.ok(UNDO, { d: id, c: C('fresh'), s: 4 }, owner.token);
    expect((await doc(id)).document.widgets).toEqual({});
    const cur = await doc(id);
    await submit(id, addWidget(cur.document, newWidget('note', { id: 'b' })), cur.version, {
      clientId: C('fresh'),
      seq: 5,
    });
    expect(await t.ok(REDO, { d: id, c: C('fresh'), s: 6 }, owner.token)).toEqual({ redo: null });
    // The undo stack still holds the new edit.
    await t.ok(UNDO, { d: id, c: C('fresh'), s: 7 }, owner.token);
    expect(Object.keys((await doc(id)).document.widgets)).toEqual([]);
    expect(await t.ok(UNDO, { d: id, c: C('fresh'), s: 8 }, owner.token)).toEqual({ undo: null });
  });

  it('viewers cannot undo', async () => {
    const id = await board();
    expect(errorCode(await t.gql(UNDO, { d: id, c: C('v'), s: 1 }, viewer.token))).toBe('FORBIDDEN');
  });
});

describe('checkpoints and restore', () => {
  it('[UN6] creates a checkpoint (event delivered), restores a version with one undoable op', async () => {
    const id = await board();
    await addNote(id, 'keep', 'v1 text');
    const log = subscribeEvents(t.wsClient(viewer.token), { d: id, c: C('cp-watch') });
    await log.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    const { createCheckpoint } = await t.ok(
      `mutation($d: ID!) { createCheckpoint(dashboardId: $d, name: "before") { id name version createdBy { id } } }`,
      { d: id },
      editor.token,
    );
    expect(createCheckpoint).toMatchObject({ name: 'before', version: 1, createdBy: { id: editor.userId } });
    await log.until((e) => e.some((x) => x.__typename === 'CheckpointCreated'));
    expect(log.events.find((x) => x.__typename === 'CheckpointCreated').checkpoint).toEqual({
      id: createCheckpoint.id,
      name: 'before',
      version: 1,
    });

    let cur = await doc(id);
    await submit(id, removeWidget(cur.document, 'keep'), cur.version);
    cur = await doc(id);
    await submit(id, addWidget(cur.document, newWidget('chart', { id: 'c' })), cur.version);
    const restore = `mutation($d: ID!, $v: Int!, $c: ID!, $s: Int!) { restoreVersion(dashboardId: $d, version: $v, clientId: $c, seq: $s) { version duplicate } }`;
    const r = await t.ok(restore, { d: id, v: 1, c: C('restorer'), s: 1 }, editor.token);
    expect(r.restoreVersion.version).toBe(4);
    const restored = await doc(id);
    const { dashboard } = await t.ok(
      `query($id: ID!) { dashboard(id: $id) { documentAt(version: 1) checkpoints { name } } }`,
      { id },
      owner.token,
    );
    expect(restored.document).toEqual(dashboard.documentAt);
    expect(dashboard.checkpoints).toEqual([{ name: 'before' }]);
    // The restore is undoable like any edit.
    await t.ok(
      `mutation($d: ID!, $c: ID!) { undo(dashboardId: $d, clientId: $c, seq: 2) { version } }`,
      { d: id, c: C('restorer') },
      editor.token,
    );
    expect(Object.keys((await doc(id)).document.widgets)).toEqual(['c']);
    expect(errorCode(await t.gql(restore, { d: id, v: 99, c: C('restorer'), s: 3 }, editor.token))).toBe(
      'BAD_USER_INPUT',
    );
    log.dispose();
  });
});
