/**
 * Seeded property tests for rule UN1: undo then redo is the identity (UN8); undoing a whole stack
 * keeps others' edits (UN9). A failing seed prints how to replay it; pin it in REGRESSION_SEEDS.
 */
import {
  addWidget,
  findOverlaps,
  insertText,
  moveWidget,
  newWidget,
  removeWidget,
  type DashboardDocument,
  type JSONOp,
} from '@collab-dashboards/core';
import {
  createBackend,
  createDashboard,
  signUp,
  startApp,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';
import { createRng, seedCases, seeded, type RegressionSeed, type Rng } from '@collab-dashboards/core/testing';

let backend: Backend;
let t: TestApp;
let alice: Awaited<ReturnType<typeof signUp>>;
let bob: Awaited<ReturnType<typeof signUp>>;
const RUN = Math.random().toString(36).slice(2, 8);
/** Seeds that once failed here, each with the bug it caught; git history records none so far. */
const REGRESSION_SEEDS: RegressionSeed[] = [];

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend);
  [alice, bob] = await Promise.all([signUp(t, 'Alice'), signUp(t, 'Bob')]);
});

const UNDO = `mutation($d: ID!, $c: ID!, $s: Int!) { undo(dashboardId: $d, clientId: $c, seq: $s) { version } }`;
const REDO = `mutation($d: ID!, $c: ID!, $s: Int!) { redo(dashboardId: $d, clientId: $c, seq: $s) { version } }`;

async function sharedBoard() {
  const id = await createDashboard(t, alice.token, 'props');
  await t.ok(
    `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
    { d: id, e: bob.email },
    alice.token,
  );
  return id;
}

async function head(id: string): Promise<{ version: number; document: DashboardDocument }> {
  return (await t.ok(`query($d: ID!) { dashboard(id: $d) { version document } }`, { d: id }, alice.token)).dashboard;
}

/** Whether the server pushed widgets apart (rule LY2) after `version`. */
async function pushedApartSince(id: string, version: number): Promise<boolean> {
  const data = await t.ok(
    `query($d: ID!, $f: Int!) { dashboard(id: $d) { operations(fromVersion: $f, limit: 1000) { kind } } }`,
    { d: id, f: version },
    alice.token,
  );
  return data.dashboard.operations.some((o: { kind: string }) => o.kind === 'LAYOUT');
}

/**
 * A document without its widgets' vertical positions: what undo and redo must restore
 * exactly even where widgets were pushed down to keep them from hiding one another (rules
 * LY1, LY2: a move's op pushes others down, and the server pushes apart what an undo puts
 * back on top of a widget moved there since).
 */
function withoutY(doc: DashboardDocument) {
  return { ...doc, widgets: Object.fromEntries(Object.entries(doc.widgets).map(([k, w]) => [k, { ...w, y: 0 }])) };
}

/** A client of the API that keeps its own seq counter. */
function actor(id: string, user: { token: string }, name: string) {
  const clientId = `${name}-${RUN}-${id.slice(0, 8)}`;
  let seq = 0;
  return {
    async submit(make: (doc: DashboardDocument) => JSONOp | null) {
      const { version, document } = await head(id);
      const op = make(document);
      if (op === null) return;
      const r = await t.gql(SUBMIT, { d: id, c: clientId, s: ++seq, b: version, op }, user.token);
      expect(r.errors).toBeUndefined();
    },
    async undo() {
      return (await t.ok(UNDO, { d: id, c: clientId, s: ++seq }, user.token)).undo;
    },
    async redo() {
      return (await t.ok(REDO, { d: id, c: clientId, s: ++seq }, user.token)).redo;
    },
  };
}

function randomEdit(rng: Rng, prefix: string, doc: DashboardDocument, allowRemove = true): JSONOp | null {
  const mine = Object.keys(doc.widgets).filter((w) => w.startsWith(prefix));
  if (mine.length === 0 || rng.chance(0.3))
    return addWidget(doc, newWidget('note', { id: `${prefix}${rng.int(1e9)}`, text: 'ab' }));
  const id = rng.pick(mine);
  if (rng.chance(0.4))
    return insertText(doc, id, rng.int([...doc.widgets[id]!.text].length + 1), rng.pick(['x', 'yy', '🙂']));
  if (!allowRemove || rng.chance(0.8)) return moveWidget(doc, id, rng.int(10), rng.int(10));
  return removeWidget(doc, id);
}

describe('[UN1] undo/redo properties', () => {
  it.each(
    seedCases(
      REGRESSION_SEEDS,
      Array.from({ length: 12 }, (_, i) => i + 1),
    ),
  )(
    '[UN8] undo then redo leaves the document as it was (%s)',
    seeded(import.meta.url, async (seed) => {
      const rng = createRng(seed);
      const id = await sharedBoard();
      const a = actor(id, alice, 'a');
      const b = actor(id, bob, 'b');
      for (let i = 0; i < 12; i++) {
        await (rng.chance(0.5) ? a : b).submit((doc) => randomEdit(rng, rng.chance(0.5) ? 'a' : 'b', doc));
        if (rng.chance(0.4)) {
          const { version, document: before } = await head(id);
          const who = rng.chance(0.5) ? a : b;
          if (await who.undo()) {
            expect(await who.redo()).not.toBeNull();
            const after = (await head(id)).document;
            // Exactly as it was, unless the server had to push widgets apart in between: then
            // as it was but for vertical positions, and still nothing hidden.
            if (await pushedApartSince(id, version)) expect(withoutY(after)).toEqual(withoutY(before));
            else expect(after).toEqual(before);
            expect(findOverlaps(after)).toEqual([]);
          }
        }
      }
    }),
  );

  it.each(
    seedCases(
      REGRESSION_SEEDS,
      Array.from({ length: 12 }, (_, i) => i + 101),
    ),
  )(
    "[UN9] undoing all of one client's edits keeps the other's interleaved edits (%s)",
    seeded(import.meta.url, async (seed) => {
      const rng = createRng(seed);
      const id = await sharedBoard();
      const a = actor(id, alice, 'a');
      const b = actor(id, bob, 'b');
      // Each client edits only its own widgets, interleaved. A adds, moves and types; he does
      // not delete his own widgets: undoing a deletion re-inserts a copy, and ops older than
      // the deletion cannot follow the copy while others' ops sit in between (see api/SPEC.md).
      for (let i = 0; i < 16; i++) {
        if (rng.chance(0.5)) await a.submit((doc) => randomEdit(rng, 'a', doc, false));
        else await b.submit((doc) => randomEdit(rng, 'b', doc));
      }
      const beforeUndo = (await head(id)).document;
      while (await a.undo()) {
        /* until A's undo stack is empty */
      }
      const after = (await head(id)).document;
      // B's widgets as B left them, but for where A's moves pushed them (LY1) or the server
      // pushed them apart (LY2): their vertical position.
      const onlyB = (doc: DashboardDocument) =>
        Object.fromEntries(Object.entries(withoutY(doc).widgets).filter(([w]) => w.startsWith('b')));
      expect(Object.keys(after.widgets).filter((w) => w.startsWith('a'))).toEqual([]);
      expect(onlyB(after)).toEqual(onlyB(beforeUndo));
      expect(after.layout).toEqual(beforeUndo.layout.filter((w) => w.startsWith('b')));
      // Redoing everything brings A's widgets back and still leaves B's work alone. (Exact
      // restoration holds for undo followed at once by redo; after a whole interleaved stack,
      // ties between re-applied inserts may order differently.)
      while (await a.redo()) {
        /* until the redo stack is empty */
      }
      const redone = (await head(id)).document;
      expect(Object.keys(redone.widgets).sort()).toEqual(Object.keys(beforeUndo.widgets).sort());
      expect(onlyB(redone)).toEqual(onlyB(beforeUndo));
    }),
  );
});
