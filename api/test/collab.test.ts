/** The collaboration engine through the public API: rules OP1-OP5, SUB1, UN1, checkpoints. */
import {
  addWidget,
  applyOp,
  insertText,
  moveWidget,
  newWidget,
  removeWidget,
  type DashboardDocument,
  type JSONOp,
} from '@collab-dashboards/core';
import {
  createBackend,
  mapAll,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  subscribeEvents,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';

let backend: Backend;
let t: TestApp;
let owner: Awaited<ReturnType<typeof signUp>>;
let editor: Awaited<ReturnType<typeof signUp>>;
let viewer: Awaited<ReturnType<typeof signUp>>;
let stranger: Awaited<ReturnType<typeof signUp>>;

// clientIds belong to the user who first used them (OP2): unique per run, so reruns on a
// kept database do not collide.
const RUN = Math.random().toString(36).slice(2, 8);
const C = (name: string) => `${name}-${RUN}`;

const DOC = `query($id: ID!) { dashboard(id: $id) { version document } }`;

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend, { config: { snapshotEvery: 5 } });
  [owner, editor, viewer, stranger] = await mapAll(['Owner', 'Editor', 'Viewer', 'Stranger'], (n) => signUp(t, n));
});

async function board(title = 'Board') {
  const id = await createDashboard(t, owner.token, title);
  const invite = `mutation($id: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $id, email: $e, role: $r) { role } }`;
  await t.ok(invite, { id, e: editor.email, r: 'EDITOR' }, owner.token);
  await t.ok(invite, { id, e: viewer.email, r: 'VIEWER' }, owner.token);
  return id;
}

async function doc(id: string, token = owner.token): Promise<{ version: number; document: DashboardDocument }> {
  return (await t.ok(DOC, { id }, token)).dashboard;
}

let seqs = 0;
async function submit(
  id: string,
  op: JSONOp,
  base: number,
  opts: { token?: string; clientId?: string; seq?: number } = {},
) {
  return t.gql(
    SUBMIT,
    { d: id, c: opts.clientId ?? C('client-owner'), s: opts.seq ?? ++seqs, b: base, op },
    opts.token ?? owner.token,
  );
}

async function addNote(id: string, widgetId: string, text = '') {
  const { version, document } = await doc(id);
  const op = addWidget(document, newWidget('note', { id: widgetId, text }));
  const r = await submit(id, op, version);
  expect(r.errors).toBeUndefined();
  return r.data.submitOperation;
}

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

  it('commits concurrent submits from many clients as distinct consecutive versions (group commit)', async () => {
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

  it('is validated against the document at its baseVersion, then transformed', async () => {
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

describe('[SUB1] catch-up then live, gap-free', () => {
  it('replays from fromVersion, then SyncCompleted, then live ops, with no duplicate at the seam', async () => {
    const id = await board();
    for (let i = 1; i <= 3; i++) await addNote(id, `n${i}`);
    const client = t.wsClient(viewer.token);
    const log = subscribeEvents(client, { d: id, c: C('viewer-tab'), f: 1 });
    const live = (async () => {
      await log.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
      await addNote(id, 'n4');
    })();
    await log.until((e) => e.some((x) => x.version === 4 && x.__typename === 'OperationApplied'));
    await live;
    expect(log.events.map((e) => `${e.__typename}:${e.version}`)).toEqual([
      'OperationApplied:2',
      'OperationApplied:3',
      'SyncCompleted:3',
      'OperationApplied:4',
    ]);
    expect(log.events[3].author.id).toBe(owner.userId);
    log.dispose();
  });

  it('ops committed while the catch-up runs are delivered exactly once', async () => {
    const id = await board();
    const { document } = await doc(id);
    const client = t.wsClient(editor.token);
    const log = subscribeEvents(client, { d: id, c: C('seam'), f: 0 });
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        submit(id, addWidget(document, newWidget('note', { id: `s${i}`, y: 3 * i, h: 3 })), 0, {
          clientId: C(`seam-${i}`),
          seq: 1,
        }),
      ),
    );
    await log.until((e) => e.filter((x) => x.__typename === 'OperationApplied').length >= 30);
    const versions = log.events.filter((x) => x.__typename === 'OperationApplied').map((x) => x.version);
    expect(versions).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(log.events.filter((x) => x.__typename === 'SyncCompleted')).toHaveLength(1);
    log.dispose();
  });

  it('without fromVersion starts with SyncCompleted at the current version', async () => {
    const id = await board();
    await addNote(id, 'a');
    const log = subscribeEvents(t.wsClient(owner.token), { d: id, c: C('now') });
    await log.until((e) => e.length >= 1);
    expect(log.events[0]).toEqual({ __typename: 'SyncCompleted', version: 1 });
    log.dispose();
  });

  it('refuses a fromVersion in the future and a non-member', async () => {
    const id = await board();
    const future = subscribeEvents(t.wsClient(owner.token), { d: id, c: C('f'), f: 5 });
    await expect(future.until(() => false, 5000)).rejects.toThrow(/BAD_USER_INPUT/);
    const stranger$ = subscribeEvents(t.wsClient(stranger.token), { d: id, c: C('s') });
    await expect(stranger$.until(() => false, 5000)).rejects.toThrow(/NOT_FOUND/);
  });
});

describe('snapshots and history', () => {
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

  it('returns null with nothing to undo or redo; a new edit empties the redo stack', async () => {
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
  it('creates a checkpoint (event delivered), restores a version with one undoable op', async () => {
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

describe('[AU1] access revoked on a live subscription', () => {
  it('removing a collaborator ends his stream with AccessRevoked REMOVED; deleting ends others with DASHBOARD_DELETED', async () => {
    const id = await board();
    const editorLog = subscribeEvents(t.wsClient(editor.token), { d: id, c: C('ed-tab') });
    const viewerLog = subscribeEvents(t.wsClient(viewer.token), { d: id, c: C('vw-tab') });
    await editorLog.until((e) => e.length > 0);
    await viewerLog.until((e) => e.length > 0);
    await t.ok(
      `mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }`,
      { d: id, u: editor.userId },
      owner.token,
    );
    await editorLog.until((e) => e.some((x) => x.__typename === 'AccessRevoked'));
    expect(editorLog.events.at(-1)).toEqual({ __typename: 'AccessRevoked', dashboardId: id, reason: 'REMOVED' });
    await viewerLog.until((e) => e.some((x) => x.__typename === 'DashboardChanged'));
    await t.ok(`mutation($d: ID!) { deleteDashboard(id: $d) }`, { d: id }, owner.token);
    await viewerLog.until((e) => e.some((x) => x.__typename === 'AccessRevoked'));
    expect(viewerLog.events.at(-1)).toEqual({
      __typename: 'AccessRevoked',
      dashboardId: id,
      reason: 'DASHBOARD_DELETED',
    });
    await viewerLog.until(() => viewerLog.completed);
    await editorLog.until(() => editorLog.completed);
  });
});
