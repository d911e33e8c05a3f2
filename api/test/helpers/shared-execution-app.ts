/**
 * The app the shared-execution suites (shared-execution*.test.ts) share: one instance whose
 * store counts user lookups, and Ann (owner), Bob (editor) and Vic (viewer).
 *
 * A suite calls `useSharedExecutionApp()` once at the top; its beforeAll sets the exported
 * bindings (`t`, `ann`...), which importers see as live ES module bindings.
 */
import type { Store } from '../../src/ports/store.js';
import { createBackend, mapAll, createDashboard, signUp, startApp, type Backend, type TestApp } from './harness.js';

const RUN = Math.random().toString(36).slice(2, 8);
export const cid = (name: string) => `${name}-${RUN}`;
export const MOVE = `mutation($d: ID!, $c: ID!, $cursor: JSON) { updatePresence(dashboardId: $d, clientId: $c, cursor: $cursor) }`;
export const INVITE = `mutation($d: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $d, email: $e, role: $r) { role } }`;

export let backend: Backend;
export let t: TestApp;
/** Calls of store.findUsersByIds: each execution of `user { ... }` on a fresh context makes one. */
export const userLookups: string[][] = [];
export let ann: Awaited<ReturnType<typeof signUp>>;
export let bob: Awaited<ReturnType<typeof signUp>>;
export let vic: Awaited<ReturnType<typeof signUp>>;

/** Boots the app over a store that records user lookups, and signs up Ann, Bob and Vic. */
export function useSharedExecutionApp(): void {
  beforeAll(async () => {
    backend = await createBackend();
    const counting = new Proxy(backend.store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        if (key !== 'findUsersByIds') return value.bind(target);
        return (ids: readonly string[]) => {
          userLookups.push([...ids]);
          return value.call(target, ids);
        };
      },
    }) as Store;
    t = await startApp(backend, { store: counting });
    [ann, bob, vic] = await mapAll(['Ann', 'Bob', 'Vic'], (n) => signUp(t, n));
  });
}

/** A dashboard of Ann's, shared with Bob (EDITOR) and Vic (VIEWER). */
export async function board(title: string) {
  const id = await createDashboard(t, ann.token, title);
  await t.ok(INVITE, { d: id, e: bob.email, r: 'EDITOR' }, ann.token);
  await t.ok(INVITE, { d: id, e: vic.email, r: 'VIEWER' }, ann.token);
  return id;
}
