/**
 * Edits are never lost or mistaken for one another (issue "Trustworthy editing"):
 * - OP2: a resubmitted (clientId, seq) is a duplicate only when it asks for what was
 *   committed under it; a different op there is a second live editor sharing the clientId,
 *   refused with BAD_USER_INPUT and nothing committed.
 * - UN2: a typing run (a client's text edits of one widget in quick succession) is one undo
 *   step, on every instance.
 * - Undo, redo, restore and rename are authorized under the commit lock, as edits are.
 * - LY1, LY2: concurrent moves never leave a widget hidden behind another.
 */
import {
  addWidget,
  applyOp,
  composeOps,
  findOverlaps,
  insertText,
  moveWidget,
  newWidget,
  transformOp,
  type DashboardDocument,
  type JSONOp,
} from '@collab-dashboards/core';
import { RUN_GAP_MS } from '../src/services/collab-engine.js';
import type { CommitRequest } from '../src/ports/operation-log.js';
import type { Store } from '../src/ports/store.js';
import {
  createBackend,
  mapAll,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';

const RUN = Math.random().toString(36).slice(2, 8);
const C = (name: string) => `${name}-${RUN}`;
const DOC = `query($id: ID!) { dashboard(id: $id) { version document } }`;
const HISTORY = `query($id: ID!, $f: Int!) { dashboard(id: $id) { operations(fromVersion: $f, limit: 1000) {
  version clientId seq kind refVersion undoGroup } } }`;
const UNDO = `mutation($d: ID!, $c: ID!, $s: Int!) { undo(dashboardId: $d, clientId: $c, seq: $s) { version op duplicate } }`;
const REDO = `mutation($d: ID!, $c: ID!, $s: Int!) { redo(dashboardId: $d, clientId: $c, seq: $s) { version op duplicate } }`;
const RESTORE = `mutation($d: ID!, $c: ID!, $s: Int!, $v: Int!) {
  restoreVersion(dashboardId: $d, clientId: $c, seq: $s, version: $v) { version duplicate } }`;

/** A clock the tests move: typing runs are told apart by time. */
let offset = 0;
const clock = { now: () => new Date(Date.now() + offset) };

/** Holds commit transactions while `gate` is set (to change roles between queueing and commit). */
let gate: Promise<void> | null = null;
let held: (() => void) | null = null;
function gated(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'withDashboardLocks') {
        return async (requests: readonly CommitRequest[], fn: Parameters<Store['withDashboardLocks']>[1]) => {
          const waiting = gate;
          if (waiting) held?.();
          await waiting;
          return target.withDashboardLocks(requests, fn);
        };
      }
      if (prop === 'close') return async () => {}; // the backend closes the real store
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

let backend: Backend;
let a: TestApp;
let b: TestApp;
let owner: Awaited<ReturnType<typeof signUp>>;
let editor: Awaited<ReturnType<typeof signUp>>;

beforeAll(async () => {
  backend = await createBackend();
  // Two instances on one database and bus; A's commits can be held.
  a = await startApp(backend, { clock, store: gated(backend.store) });
  b = await startApp(backend, { clock });
  [owner, editor] = await mapAll(['Owner', 'Editor'], (n) => signUp(a, n));
});
beforeEach(() => {
  offset = 0;
});

async function board(): Promise<string> {
  const id = await createDashboard(a, owner.token, 'Board');
  await a.ok(
    `mutation($id: ID!, $e: String!) { inviteCollaborator(dashboardId: $id, email: $e, role: EDITOR) { role } }`,
    { id, e: editor.email },
    owner.token,
  );
  const { document } = await doc(id);
  await ok(id, addWidget(document, newWidget('note', { id: 'n', text: '' })), 0, C('setup'), 1);
  return id;
}

async function doc(id: string, t = a): Promise<{ version: number; document: DashboardDocument }> {
  return (await t.ok(DOC, { id }, owner.token)).dashboard;
}
const text = async (id: string) => (await doc(id)).document.widgets.n!.text;

function submit(id: string, op: JSONOp, base: number, clientId: string, seq: number, token = owner.token, t = a) {
  return t.gql(SUBMIT, { d: id, c: clientId, s: seq, b: base, op }, token);
}
async function ok(id: string, op: JSONOp, base: number, clientId: string, seq: number, token = owner.token, t = a) {
  const r = await submit(id, op, base, clientId, seq, token, t);
  expect(r.errors).toBeUndefined();
  return r.data.submitOperation as { version: number; op: JSONOp; duplicate: boolean };
}
/** Types `chars` one keystroke per submission at the end of the note, as a browser does. */
async function type(id: string, chars: string, clientId: string, firstSeq: number, t = a, token = owner.token) {
  for (let i = 0; i < chars.length; i++) {
    const { version, document } = await doc(id, t);
    const at = [...document.widgets.n!.text].length;
    await ok(id, insertText(document, 'n', at, chars[i]!), version, clientId, firstSeq + i, token, t);
  }
}
async function history(id: string) {
  return (await a.ok(HISTORY, { id, f: 0 }, owner.token)).dashboard.operations as Array<{
    version: number;
    clientId: string;
    seq: number;
    kind: string;
    refVersion: number | null;
    undoGroup: number | null;
  }>;
}

describe('[OP2] one clientId is one live editor', () => {
  it('a resubmission rebased over what the client received since is still a duplicate', async () => {
    const id = await board();
    const { version, document } = await doc(id); // v1
    const mine = insertText(document, 'n', 0, 'mine');
    const theirs = insertText(document, 'n', 0, 'theirs');
    await ok(id, theirs, version, C('them'), 1, editor.token); // v2
    const first = await ok(id, mine, version, C('me'), 1); // v3, transformed over v2
    // The sync engine rebased its in-flight op over v2 before the ack arrived, then resent it.
    const rebased = transformOp(mine, theirs, 'left');
    const again = await ok(id, rebased, version + 1, C('me'), 1);
    expect(again).toEqual({ ...first, duplicate: true });
    // And the plain retry of the original request too.
    expect(await ok(id, mine, version, C('me'), 1)).toEqual({ ...first, duplicate: true });
    expect((await doc(id)).version).toBe(first.version);
  });

  it('a different op under a used (clientId, seq) is BAD_USER_INPUT and commits nothing', async () => {
    const id = await board();
    // Tab 1 types "ab" as seqs 1 and 2; tab 2 restored the same saved state (seq 2 next)
    // and types "X" under seq 2, which the server must not answer as a duplicate.
    await type(id, 'ab', C('shared'), 1);
    const before = await doc(id);
    const r = await submit(id, insertText(before.document, 'n', 2, 'X'), before.version, C('shared'), 2);
    expect(errorCode(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(/already used/);
    expect(r.errors![0]!.extensions?.reason).toBe('CLIENT_SEQ_REUSED');
    // Same op text but against another base (where it means something else) is refused too.
    const atStart = await submit(id, insertText(before.document, 'n', 0, 'b'), before.version, C('shared'), 2);
    expect(errorCode(atStart)).toBe('BAD_USER_INPUT');
    expect(await doc(id)).toEqual(before);
  });

  it('an undo, redo or restore under a seq used for something else is refused', async () => {
    const id = await board();
    await type(id, 'a', C('mixed'), 1);
    expect(errorCode(await a.gql(UNDO, { d: id, c: C('mixed'), s: 1 }, owner.token))).toBe('BAD_USER_INPUT');
    const undo = await a.ok(UNDO, { d: id, c: C('mixed'), s: 2 }, owner.token);
    const { version, document } = await doc(id);
    // The undo's seq reused for an edit, a redo or a restore.
    expect(errorCode(await submit(id, insertText(document, 'n', 0, 'z'), version, C('mixed'), 2))).toBe(
      'BAD_USER_INPUT',
    );
    expect(errorCode(await a.gql(REDO, { d: id, c: C('mixed'), s: 2 }, owner.token))).toBe('BAD_USER_INPUT');
    // A retried undo is still a duplicate (UN1).
    expect((await a.ok(UNDO, { d: id, c: C('mixed'), s: 2 }, owner.token)).undo).toEqual({
      ...undo.undo,
      duplicate: true,
    });
    // A restore retried with another target version is not the same restore.
    const restored = await a.ok(RESTORE, { d: id, c: C('mixed'), s: 3, v: 1 }, owner.token);
    expect((await a.ok(RESTORE, { d: id, c: C('mixed'), s: 3, v: 1 }, owner.token)).restoreVersion).toEqual({
      ...restored.restoreVersion,
      duplicate: true,
    });
    expect(errorCode(await a.gql(RESTORE, { d: id, c: C('mixed'), s: 3, v: 2 }, owner.token))).toBe('BAD_USER_INPUT');
  });
});

describe('[UN2] a typing run is one undo step', () => {
  it('undo reverts a whole run, redo brings it back, history names the step', async () => {
    const id = await board();
    await type(id, 'Hello', C('typist'), 1);
    await type(id, '!', C('typist'), 6);
    expect(await text(id)).toBe('Hello!');
    const ops = (await history(id)).filter((o) => o.clientId === C('typist'));
    expect(ops).toHaveLength(6);
    expect(new Set(ops.map((o) => o.undoGroup))).toEqual(new Set([ops[0]!.version]));

    const undo = (await a.ok(UNDO, { d: id, c: C('typist'), s: 7 }, owner.token)).undo;
    expect(await text(id)).toBe('');
    // Retrying the undo is a duplicate (UN1), not a second undo.
    expect((await a.ok(UNDO, { d: id, c: C('typist'), s: 7 }, owner.token)).undo).toEqual({ ...undo, duplicate: true });
    const undoRow = (await history(id)).at(-1)!;
    expect(undoRow).toMatchObject({ kind: 'UNDO', refVersion: ops.at(-1)!.version, undoGroup: ops[0]!.version });

    await a.ok(REDO, { d: id, c: C('typist'), s: 8 }, owner.token);
    expect(await text(id)).toBe('Hello!');
    await a.ok(UNDO, { d: id, c: C('typist'), s: 9 }, owner.token);
    expect(await text(id)).toBe('');
    expect((await a.ok(UNDO, { d: id, c: C('typist'), s: 10 }, owner.token)).undo).toBeNull();
  });

  it("keeps other people's text typed in the middle of the run", async () => {
    const id = await board();
    await type(id, 'abc', C('run'), 1);
    await type(id, 'XY', C('other'), 1, a, editor.token);
    await type(id, 'def', C('run'), 4);
    expect(await text(id)).toBe('abcXYdef');
    await a.ok(UNDO, { d: id, c: C('run'), s: 7 }, owner.token);
    expect(await text(id)).toBe('XY');
    await a.ok(REDO, { d: id, c: C('run'), s: 8 }, owner.token);
    expect(await text(id)).toBe('abcXYdef');
  });

  it('a pause, another widget or another kind of edit starts a new step', async () => {
    const id = await board();
    await type(id, 'one', C('pauser'), 1);
    offset += RUN_GAP_MS + 500; // the typist stops to think
    await type(id, 'two', C('pauser'), 4);
    const { version, document } = await doc(id);
    await ok(id, addWidget(document, newWidget('note', { id: 'm', text: '' })), version, C('pauser'), 7);
    await a.ok(UNDO, { d: id, c: C('pauser'), s: 8 }, owner.token); // the new widget
    expect((await doc(id)).document.widgets.m).toBeUndefined();
    expect(await text(id)).toBe('onetwo');
    await a.ok(UNDO, { d: id, c: C('pauser'), s: 9 }, owner.token);
    expect(await text(id)).toBe('one');
    await a.ok(UNDO, { d: id, c: C('pauser'), s: 10 }, owner.token);
    expect(await text(id)).toBe('');
  });

  it('a run typed on one instance is undone whole on another, and redone on the first', async () => {
    const id = await board();
    await type(id, 'across', C('roamer'), 1);
    await b.ok(UNDO, { d: id, c: C('roamer'), s: 7 }, owner.token);
    expect(await text(id)).toBe('');
    await a.ok(REDO, { d: id, c: C('roamer'), s: 8 }, owner.token);
    expect(await text(id)).toBe('across');
  });
});

describe('[GC3] undo, redo, restore and rename are authorized under the commit lock', () => {
  it.each(['undo', 'redo', 'restore', 'rename'])(
    '%s by a member removed while it waited commits nothing',
    async (kind) => {
      const id = await board();
      const { version, document } = await doc(id);
      await ok(id, insertText(document, 'n', 0, 'e'), version, C(`${kind}-ed`), 1, editor.token);
      if (kind === 'redo') await a.ok(UNDO, { d: id, c: C(`${kind}-ed`), s: 2 }, editor.token);
      const before = await doc(id);
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      const reachedLock = new Promise<void>((resolve) => (held = resolve));
      const request =
        kind === 'rename'
          ? a.gql(`mutation($d: ID!) { renameDashboard(id: $d, title: "Mine now") { title } }`, { d: id }, editor.token)
          : kind === 'restore'
            ? a.gql(RESTORE, { d: id, c: C(`${kind}-ed`), s: 3, v: 0 }, editor.token)
            : a.gql(kind === 'undo' ? UNDO : REDO, { d: id, c: C(`${kind}-ed`), s: 3 }, editor.token);
      await reachedLock; // authorized before queueing, now waiting for the lock
      gate = null;
      await a.ok(
        `mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }`,
        { d: id, u: editor.userId },
        owner.token,
      );
      release();
      expect(errorCode(await request)).toBe('NOT_FOUND');
      expect(await doc(id)).toEqual(before);
    },
  );
});

describe('[LY1][LY2] widgets never hide one another', () => {
  it('two people moving widgets into each other at once converge to a layout without overlaps', async () => {
    const id = await board();
    let { version, document } = await doc(id);
    for (const [wid, x, y] of [
      ['a', 0, 4],
      ['b', 6, 4],
      ['c', 0, 8],
    ] as const) {
      await ok(
        id,
        addWidget(document, newWidget('metric', { id: wid, x, y, w: 4, h: 3 })),
        version,
        C('lay'),
        version + 10,
      );
      ({ version, document } = await doc(id));
    }
    // Both start from the same version: the owner drops A onto B, the editor drops B onto
    // A's old place and C onto where A lands. Each op pushes aside what its author saw.
    const ownerMove = moveWidget(document, 'a', 6, 4);
    let editorView = applyOp(document, moveWidget(document, 'b', 0, 4));
    const editorMove = [moveWidget(document, 'b', 0, 4), moveWidget(editorView, 'c', 6, 4)];
    const first = await submit(id, ownerMove, version, C('lay-owner'), 1);
    const second = await submit(
      id,
      composeOps(editorMove[0]!, editorMove[1]!),
      version,
      C('lay-editor'),
      1,
      editor.token,
    );
    expect([first.errors, second.errors]).toEqual([undefined, undefined]);
    let after = await doc(id);
    expect(findOverlaps(after.document)).toEqual([]);

    // Both drop a widget on the same empty spot: neither saw anything to push aside there.
    const spot = [moveWidget(after.document, 'a', 0, 20), moveWidget(after.document, 'b', 0, 20)];
    await ok(id, spot[0]!, after.version, C('lay-owner'), 2);
    await ok(id, spot[1]!, after.version, C('lay-editor'), 2, editor.token);
    after = await doc(id);
    expect(findOverlaps(after.document)).toEqual([]);
    // The fix-up is the server's own op, committed right after, named as such in the history.
    const last = (await history(id)).at(-1)!;
    expect(last).toMatchObject({ kind: 'LAYOUT', clientId: 'server:layout', seq: last.version });
    expect(after.document.widgets.a).toMatchObject({ x: 0, y: 20 }); // ranked first, stays
    expect(after.document.widgets.b).toMatchObject({ x: 0, y: 23 }); // pushed just below
    editorView = after.document;
    // A third party cannot use the server's clientId.
    expect(errorCode(await submit(id, moveWidget(editorView, 'a', 0, 0), after.version, 'server:layout', 999))).toBe(
      'BAD_USER_INPUT',
    );
  });
});
