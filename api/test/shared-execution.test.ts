/**
 * Fan-out shares work between subscribers (transport/shared-execution.ts): each event is
 * executed once per selection shape, yet every subscriber still gets exactly the payload its
 * own selection, variables and role call for (FO1). Slow consumers are in
 * shared-execution-slow-consumers.test.ts, socket and room regressions in
 * shared-execution-regressions.test.ts.
 */
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import { signUp, subscribeEvents, SUBMIT } from './helpers/harness.js';
import {
  ann,
  board,
  bob,
  cid,
  INVITE,
  MOVE,
  t,
  useSharedExecutionApp,
  userLookups,
  vic,
} from './helpers/shared-execution-app.js';

useSharedExecutionApp();

/** A subscription with any document; records the dashboardEvents payloads. */
function listen(token: string, query: string, variables: Record<string, unknown>) {
  const events: any[] = [];
  const changed = new Set<() => void>();
  const client = t.wsClient(token);
  client.subscribe(
    { query, variables },
    {
      next: (result) => {
        events.push(result.errors ? { errors: result.errors } : (result.data as any).dashboardEvents);
        for (const f of [...changed]) f();
      },
      error: () => {},
      complete: () => {},
    },
  );
  const until = (predicate: (events: any[]) => boolean) =>
    new Promise<any[]>((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(events.slice(-3))}`)), 10_000);
      const check = () => {
        if (!predicate(events)) return;
        clearTimeout(limit);
        changed.delete(check);
        resolve(events);
      };
      changed.add(check);
      check();
    });
  return { events, until };
}

const synced = (events: any[]) => events.some((e) => e.__typename === 'SyncCompleted');

describe('[FO1] one execution per shape, the right payload for every subscriber', () => {
  it('subscribers with different selection sets each receive exactly their own fields', async () => {
    const id = await board('shapes');
    const full = subscribeEvents(t.wsClient(ann.token), { d: id, c: cid('full') });
    const lean = listen(
      bob.token,
      `subscription($d: ID!, $c: ID!) { dashboardEvents(dashboardId: $d, clientId: $c) {
        __typename ... on PresenceUpdated { presence { clientId cursor } } ... on OperationApplied { version } } }`,
      { d: id, c: cid('lean') },
    );
    await full.until(synced);
    await lean.until(synced);
    await t.ok(MOVE, { d: id, c: cid('vic-cursor'), cursor: { x: 3, y: 4 } }, vic.token);
    await t.ok(
      SUBMIT,
      { d: id, c: cid('bob-writer'), s: 1, b: 0, op: addWidget(createDocument('shapes'), newWidget('note')) },
      bob.token,
    );

    const isVic = (e: any) => e.__typename === 'PresenceUpdated' && e.presence.clientId === cid('vic-cursor');
    await full.until((events) => events.some(isVic) && events.some((e) => e.__typename === 'OperationApplied'));
    await lean.until((events) => events.some(isVic) && events.some((e) => e.__typename === 'OperationApplied'));

    const fullPresence = full.events.find(isVic).presence;
    expect(fullPresence.user).toEqual({ id: vic.userId, name: 'Vic', color: expect.any(String) });
    expect(fullPresence).toMatchObject({ cursor: { x: 3, y: 4 }, status: 'ACTIVE' });
    expect(lean.events.find(isVic)).toEqual({
      __typename: 'PresenceUpdated',
      presence: { clientId: cid('vic-cursor'), cursor: { x: 3, y: 4 } },
    });
    expect(lean.events.find((e) => e.__typename === 'OperationApplied')).toEqual({
      __typename: 'OperationApplied',
      version: 1,
    });
    expect(full.events.find((e) => e.__typename === 'OperationApplied')).toMatchObject({
      version: 1,
      seq: 1,
      author: { id: bob.userId },
    });
  });

  it('a variable used inside the selection changes the payload; root-field variables do not split the work', async () => {
    const id = await board('variables');
    const query = `subscription($d: ID!, $c: ID!, $u: Boolean!) { dashboardEvents(dashboardId: $d, clientId: $c) {
      __typename ... on PresenceUpdated { presence { clientId user @include(if: $u) { name } } } } }`;
    // Five subscribers that differ only in clientId (a root-field argument) and one that asks
    // for the user. Each subscription has its own user loader, so the lookups made for one
    // event count the executions.
    const same = Array.from({ length: 5 }, (_, i) =>
      listen(ann.token, query, { d: id, c: cid(`same-${i}`), u: false }),
    );
    const withUser = listen(bob.token, query, { d: id, c: cid('with-user'), u: true });
    for (const s of [...same, withUser]) await s.until(synced);

    // Carol is new to every subscriber's loader: her presence needs a lookup per execution.
    const carol = await signUp(t, 'Carol');
    await t.ok(INVITE, { d: id, e: carol.email, r: 'VIEWER' }, ann.token);
    const carolMoved = (e: any) => e.__typename === 'PresenceUpdated' && e.presence.clientId === cid('carol');
    const before = userLookups.length;
    await t.ok(MOVE, { d: id, c: cid('carol'), cursor: { x: 1, y: 1 } }, carol.token);
    for (const s of [...same, withUser]) await s.until((events) => events.some(carolMoved));

    for (const s of same)
      expect(s.events.find(carolMoved)).toEqual({
        __typename: 'PresenceUpdated',
        presence: { clientId: cid('carol') },
      });
    expect(withUser.events.find(carolMoved).presence).toEqual({ clientId: cid('carol'), user: { name: 'Carol' } });
    // Two shapes, so two executions: the five `u: false` subscribers never resolve `user`,
    // and the one `u: true` subscriber resolves it once. Without sharing nothing changes for
    // them, so also check sharing itself below.
    const lookedUpCarol = userLookups.slice(before).filter((ids) => ids.includes(carol.userId));
    expect(lookedUpCarol).toHaveLength(1);
  });

  it('six subscribers with one selection cause one execution per event', async () => {
    const id = await board('sharing');
    const subs = Array.from({ length: 6 }, (_, i) =>
      subscribeEvents(t.wsClient(i % 2 ? ann.token : bob.token), { d: id, c: cid(`share-${i}`) }),
    );
    for (const s of subs) await s.until(synced);
    const dave = await signUp(t, 'Dave');
    await t.ok(INVITE, { d: id, e: dave.email, r: 'VIEWER' }, ann.token);
    const before = userLookups.length;
    await t.ok(MOVE, { d: id, c: cid('dave'), cursor: { x: 9, y: 9 } }, dave.token);
    const daveMoved = (e: any) => e.__typename === 'PresenceUpdated' && e.presence.clientId === cid('dave');
    for (const s of subs) await s.until((events) => events.some(daveMoved));
    for (const s of subs)
      expect(s.events.find(daveMoved).presence.user).toEqual({
        id: dave.userId,
        name: 'Dave',
        color: expect.any(String),
      });
    // Per-subscriber execution would look Dave up six times (one loader per subscription).
    expect(userLookups.slice(before).filter((ids) => ids.includes(dave.userId))).toHaveLength(1);
  });

  it('an event whose fields depend on the viewer is executed per viewer (DashboardChanged.myRole)', async () => {
    const id = await board('roles');
    const owner = subscribeEvents(t.wsClient(ann.token), { d: id, c: cid('role-ann') });
    const viewer = subscribeEvents(t.wsClient(vic.token), { d: id, c: cid('role-vic') });
    await owner.until(synced);
    await viewer.until(synced);
    const erin = await signUp(t, 'Erin');
    await t.ok(INVITE, { d: id, e: erin.email, r: 'EDITOR' }, ann.token);
    const changed = (events: any[]) => events.some((e) => e.__typename === 'DashboardChanged');
    await owner.until(changed);
    await viewer.until(changed);
    expect(owner.events.find((e) => e.__typename === 'DashboardChanged').dashboard.myRole).toBe('OWNER');
    expect(viewer.events.find((e) => e.__typename === 'DashboardChanged').dashboard.myRole).toBe('VIEWER');
  });
});
