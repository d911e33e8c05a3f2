/**
 * Group commit across dashboards (collab-scheduler.ts): submissions to many dashboards that
 * wait while a commit runs go into one transaction together; each dashboard still gets
 * consecutive versions, and one dashboard's failure or deletion fails only its own.
 */
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
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

let backend: Backend;
let t: TestApp;
let owner: Awaited<ReturnType<typeof signUp>>;

/** What the engine asked of the store, and a gate that holds commit transactions. */
const seen = { groups: [] as string[][], claims: 0 };
let gate: Promise<void> | null = null;
let failFor: string | null = null;
const listeners: Array<() => void> = [];
const changed = () => {
  for (const check of listeners.splice(0)) check();
};
/** Resolves once `done()` holds, checked whenever a claim or a transaction starts. */
const until = (done: () => boolean) =>
  new Promise<void>((resolve) => {
    const check = () => (done() ? resolve() : listeners.push(check));
    check();
  });
/** Resolves once `n` more clientIds have been claimed, and their submissions enqueued. */
const claims = async (n: number) => {
  const target = seen.claims + n;
  await until(() => seen.claims >= target);
  await new Promise((resolve) => setImmediate(resolve)); // each claim is followed by its enqueue
};

function instrumented(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'claimClientId') {
        return async (clientId: string, userId: string) => {
          const owner = await target.claimClientId(clientId, userId);
          seen.claims++;
          changed();
          return owner;
        };
      }
      if (prop === 'withDashboardLocks') {
        return async (requests: readonly CommitRequest[], fn: Parameters<Store['withDashboardLocks']>[1]) => {
          seen.groups.push(requests.map((r) => r.dashboardId));
          changed();
          await gate;
          return target.withDashboardLocks(requests, async (txs) => {
            const value = await fn(txs);
            // A database error raised by one dashboard's part of the statement.
            if (failFor && requests.some((r) => r.dashboardId === failFor)) {
              throw Object.assign(new Error('simulated constraint violation'), { code: '23514' });
            }
            return value;
          });
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend, { store: instrumented(backend.store) });
  owner = await signUp(t, 'Owner');
});

const op = (id: string) => addWidget(createDocument('Board'), newWidget('note', { id }));
const submit = (dashboardId: string, clientId: string, seq: number, baseVersion = 0) =>
  t.gql(SUBMIT, { d: dashboardId, c: clientId, s: seq, b: baseVersion, op: op(`w${seq}`) }, owner.token);
const versions = async (dashboardId: string) =>
  (
    await t.ok<{ dashboard: { operations: Array<{ version: number }> } }>(
      `query($id: ID!) { dashboard(id: $id) { operations(fromVersion: 0, limit: 100) { version } } }`,
      { id: dashboardId },
      owner.token,
    )
  ).dashboard.operations.map((h) => h.version);

/** Holds commits until `release()`; what is submitted meanwhile queues up. */
function hold() {
  let release!: () => void;
  gate = new Promise<void>((resolve) => (release = resolve));
  return () => {
    gate = null;
    release();
  };
}

it('[GC1] submissions to many dashboards that queue behind a commit share the next transaction', async () => {
  const boards = await Promise.all(Array.from({ length: 8 }, (_, i) => createDashboard(t, owner.token, `B${i}`)));
  seen.groups = [];
  const release = hold();
  const arrived = claims(boards.length * 2);
  // Two clients per dashboard, so every dashboard has two submissions in flight.
  const results = Promise.all(
    boards.flatMap((id, i) => [submit(id, `a${i}-${RUN}`, 1), submit(id, `b${i}-${RUN}`, 1)]),
  );
  await arrived;
  release();
  const acks = await results;
  expect(acks.map(errorCode)).toEqual(acks.map(() => undefined));
  // 16 submissions, a handful of transactions: the held ones (one per commit slot, each with
  // what had arrived when it started), then one for every other dashboard waiting, then one
  // for the second submissions to the dashboards that were committing.
  expect(seen.groups.length).toBeLessThanOrEqual(6);
  expect(Math.max(...seen.groups.map((g) => g.length))).toBeGreaterThan(1);
  expect(new Set(seen.groups.flat())).toEqual(new Set(boards));
  for (const id of boards) expect(await versions(id)).toEqual([1, 2]);
});

it('[GC5] one dashboard failing in a shared transaction fails only its own submissions', async () => {
  const [filler1, filler2, good, bad, other] = await mapAll(['f1', 'f2', 'good', 'bad', 'other'], (n) =>
    createDashboard(t, owner.token, n),
  );
  seen.groups = [];
  failFor = bad;
  try {
    const release = hold();
    // Fill the commit slots (one on PGlite, two on PostgreSQL) so the next ones queue together.
    const fillers = [submit(filler1, `f1-${RUN}`, 1)];
    await until(() => seen.groups.length === 1);
    fillers.push(submit(filler2, `f2-${RUN}`, 1));
    await claims(1);
    const arrived = claims(3);
    const results = Promise.all([
      submit(good, `g-${RUN}`, 1),
      submit(bad, `x-${RUN}`, 1),
      submit(other, `o-${RUN}`, 1),
    ]);
    await arrived;
    release();
    const [g, x, o] = await results;
    expect((await Promise.all(fillers)).map(errorCode)).toEqual([undefined, undefined]);
    expect(errorCode(g)).toBeUndefined();
    expect(errorCode(o)).toBeUndefined();
    expect(errorCode(x)).toBe('INTERNAL_SERVER_ERROR');
    // The shared transaction failed, then each of its dashboards was tried alone.
    const shared = seen.groups.find((group) => group.length > 1 && group.includes(bad))!;
    expect(shared).toEqual(expect.arrayContaining([good, bad, other]));
    for (const id of shared)
      expect(seen.groups.filter((group) => group.length === 1 && group[0] === id)).toHaveLength(1);
  } finally {
    failFor = null;
  }
  expect(await versions(good)).toEqual([1]);
  expect(await versions(other)).toEqual([1]);
  expect(await versions(bad)).toEqual([]);
  // Nothing was lost: the failed submission goes through once the trouble is gone.
  expect(errorCode(await submit(bad, `x-${RUN}`, 1))).toBeUndefined();
  expect(await versions(bad)).toEqual([1]);
});

it('[GC5] a dashboard deleted while its submissions wait fails them with NOT_FOUND, the others commit', async () => {
  const [filler, kept, deleted] = await mapAll(['filler', 'kept', 'deleted'], (n) =>
    createDashboard(t, owner.token, n),
  );
  seen.groups = [];
  const release = hold();
  const first = submit(filler, `f-${RUN}`, 1);
  await until(() => seen.groups.length === 1);
  const arrived = claims(2);
  const queued = Promise.all([submit(kept, `k-${RUN}`, 1), submit(deleted, `d-${RUN}`, 1)]);
  await arrived;
  expect(await backend.store.softDeleteDashboard(deleted, new Date())).toBe(true);
  release();
  const [f, [k, d]] = await Promise.all([first, queued]);
  expect([errorCode(f), errorCode(k), errorCode(d)]).toEqual([undefined, undefined, 'NOT_FOUND']);
  expect(await versions(kept)).toEqual([1]);
});

it('[GC5] an op holding U+0000 (which jsonb cannot store) is refused alone, with BAD_OPERATION', async () => {
  const id = await createDashboard(t, owner.token, 'nul');
  const nul = addWidget(createDocument('Board'), newWidget('note', { id: 'n', text: 'a\u0000b' }));
  const escaped = addWidget(createDocument('Board'), newWidget('note', { id: 'e', text: 'a\\u0000b' }));
  const [bad, good] = await Promise.all([
    t.gql(SUBMIT, { d: id, c: `nul-${RUN}`, s: 1, b: 0, op: nul }, owner.token),
    t.gql(SUBMIT, { d: id, c: `esc-${RUN}`, s: 1, b: 0, op: escaped }, owner.token),
  ]);
  expect(errorCode(bad)).toBe('BAD_OPERATION');
  expect(errorCode(good)).toBeUndefined(); // a backslash followed by "u0000" is plain text
  expect(await versions(id)).toEqual([1]);
});

it('a dashboard id in upper case commits like its lower-case spelling', async () => {
  const id = await createDashboard(t, owner.token, 'case');
  expect(errorCode(await submit(id.toUpperCase(), `upper-${RUN}`, 1))).toBeUndefined();
  expect(await versions(id)).toEqual([1]);
});
