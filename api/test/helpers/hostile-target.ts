/**
 * What the hostile-input battery (hostile.test.ts) attacks: an app with tight socket and size
 * limits, a dashboard with a note, and users of every standing towards it: Owner, Editor,
 * Viewer, Stranger and Removed (an editor removed again). The cases live in
 * hostile-auth-cases.ts and hostile-input-cases.ts.
 *
 * The battery calls `useHostileTarget()` once at the top; its beforeAll sets the exported
 * bindings (`t`, `owner`, `id`...), which importers see as live ES module bindings: the case
 * tables are built before it runs and read them only when a case runs.
 */
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import {
  createBackend,
  mapAll,
  createDashboard,
  signUp,
  startApp,
  SUBMIT,
  type GqlError,
  type TestApp,
} from './harness.js';

export const RUN = Math.random().toString(36).slice(2, 8);
export let t: TestApp;
export let owner: Awaited<ReturnType<typeof signUp>>;
export let editor: Awaited<ReturnType<typeof signUp>>;
export let viewer: Awaited<ReturnType<typeof signUp>>;
export let stranger: Awaited<ReturnType<typeof signUp>>;
export let removed: Awaited<ReturnType<typeof signUp>>;
/** The target dashboard, at version 1 (one note, `n`, saying "hello"). */
export let id: string;
/** The app's JWT signing secret. */
export let secret: Uint8Array;

export function useHostileTarget(): void {
  beforeAll(async () => {
    const backend = await createBackend();
    t = await startApp(backend, {
      env: {
        CONNECTION_INIT_TIMEOUT: '1',
        MAX_MESSAGE_BYTES: String(300 * 1024),
        MAX_SUBSCRIPTIONS_PER_SOCKET: '3',
        MAX_SOCKETS_PER_USER: '3',
      },
    });
    [owner, editor, viewer, stranger, removed] = await mapAll(
      ['Owner', 'Editor', 'Viewer', 'Stranger', 'Removed'],
      (n) => signUp(t, n),
    );
    id = await createDashboard(t, owner.token, 'target');
    const invite = `mutation($d: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $d, email: $e, role: $r) { role } }`;
    for (const [who, role] of [
      [editor, 'EDITOR'],
      [viewer, 'VIEWER'],
      [removed, 'EDITOR'],
    ] as const) {
      await t.ok(invite, { d: id, e: who.email, r: role }, owner.token);
    }
    await t.ok(
      `mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }`,
      { d: id, u: removed.userId },
      owner.token,
    );
    await t.ok(
      SUBMIT,
      {
        d: id,
        c: `seed-${RUN}`,
        s: 1,
        b: 0,
        op: addWidget(createDocument('target'), newWidget('note', { id: 'n', text: 'hello' })),
      },
      owner.token,
    );
    secret = new TextEncoder().encode(await t.app.services.store.getOrCreateSetting('jwt_secret', () => 'unused'));
  });
}

export const ME = '{ me { id } }';
export const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
export const submit = (token: string, vars: Record<string, unknown>) =>
  t.gql(SUBMIT, { d: id, c: `h-${RUN}`, s: 1, b: 1, ...vars }, token);
export const mutation = (q: string, vars: Record<string, unknown>, token: string) => t.gql(q, vars, token);

/** A hostile request: its name, how to make it, and the error code it must get. */
export type Case = [string, () => Promise<{ errors?: GqlError[] }>, string];
