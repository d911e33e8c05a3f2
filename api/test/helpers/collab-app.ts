/**
 * The app the collab suites (collab*.test.ts) share: one instance snapshotting every 5 ops,
 * four users, and helpers to make a dashboard, read it and submit to it.
 *
 * A suite calls `useCollabApp()` once at the top; its beforeAll sets the exported bindings
 * (`t`, `owner`...), which importers see as live ES module bindings, so tests read them as
 * plain names.
 */
import { addWidget, newWidget, type DashboardDocument, type JSONOp } from '@collab-dashboards/core';
import {
  createBackend,
  mapAll,
  createDashboard,
  signUp,
  startApp,
  SUBMIT,
  type Backend,
  type TestApp,
} from './harness.js';

export let backend: Backend;
export let t: TestApp;
export let owner: Awaited<ReturnType<typeof signUp>>;
export let editor: Awaited<ReturnType<typeof signUp>>;
export let viewer: Awaited<ReturnType<typeof signUp>>;
export let stranger: Awaited<ReturnType<typeof signUp>>;

// clientIds belong to the user who first used them (OP2): unique per run, so reruns on a
// kept database do not collide.
const RUN = Math.random().toString(36).slice(2, 8);
export const C = (name: string) => `${name}-${RUN}`;

const DOC = `query($id: ID!) { dashboard(id: $id) { version document } }`;

/** Boots the app and signs up Owner, Editor, Viewer and Stranger before the suite's tests. */
export function useCollabApp(): void {
  beforeAll(async () => {
    backend = await createBackend();
    t = await startApp(backend, { config: { snapshotEvery: 5 } });
    [owner, editor, viewer, stranger] = await mapAll(['Owner', 'Editor', 'Viewer', 'Stranger'], (n) => signUp(t, n));
  });
}

/** A dashboard of Owner's, shared with Editor (EDITOR) and Viewer (VIEWER). */
export async function board(title = 'Board') {
  const id = await createDashboard(t, owner.token, title);
  const invite = `mutation($id: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $id, email: $e, role: $r) { role } }`;
  await t.ok(invite, { id, e: editor.email, r: 'EDITOR' }, owner.token);
  await t.ok(invite, { id, e: viewer.email, r: 'VIEWER' }, owner.token);
  return id;
}

export async function doc(id: string, token = owner.token): Promise<{ version: number; document: DashboardDocument }> {
  return (await t.ok(DOC, { id }, token)).dashboard;
}

let seqs = 0;
/** Submits `op` at `base`; as Owner's `client-owner` with the next seq unless told otherwise. */
export async function submit(
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

/** Adds a note at the current version; expects it to commit and returns the ack. */
export async function addNote(id: string, widgetId: string, text = '') {
  const { version, document } = await doc(id);
  const op = addWidget(document, newWidget('note', { id: widgetId, text }));
  const r = await submit(id, op, version);
  expect(r.errors).toBeUndefined();
  return r.data.submitOperation;
}
