/** Presence and live cursors across instances (rules PR1, PR2). */
import WebSocket from 'ws';
import { addWidget, insertText, newWidget, removeWidget, request } from '@collab-dashboards/core';
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

const UPDATE = `mutation($d: ID!, $c: ID!, $cursor: JSON, $selection: JSON, $b: Int, $s: PresenceStatus) {
  updatePresence(dashboardId: $d, clientId: $c, cursor: $cursor, selection: $selection, baseVersion: $b, status: $s)
}`;
const PRESENCE = `query($d: ID!) { dashboard(id: $d) { presence { clientId user { id name color } cursor selection version status lastSeen } } }`;
const RUN = Math.random().toString(36).slice(2, 8);
const cid = (name: string) => `${name}-${RUN}`;

let backend: Backend;
let one: TestApp;
let two: TestApp;
let ann: Awaited<ReturnType<typeof signUp>>;
let bob: Awaited<ReturnType<typeof signUp>>;
let vic: Awaited<ReturnType<typeof signUp>>;
let eve: Awaited<ReturnType<typeof signUp>>;

beforeAll(async () => {
  backend = await createBackend();
  [one, two] = [await startApp(backend), await startApp(backend)];
  [ann, bob, vic, eve] = await mapAll(['Ann', 'Bob', 'Vic', 'Eve'], (n) => signUp(one, n));
});
afterAll(async () => {
  await Promise.all([one.stop(), two.stop()]);
  await backend.close();
});

async function board() {
  const id = await createDashboard(one, ann.token, 'presence');
  const invite = `mutation($d: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $d, email: $e, role: $r) { role } }`;
  await one.ok(invite, { d: id, e: bob.email, r: 'EDITOR' }, ann.token);
  await one.ok(invite, { d: id, e: vic.email, r: 'VIEWER' }, ann.token);
  return id;
}

const presenceOf = (events: any[], clientId: string) =>
  events.filter((e) => e.__typename === 'PresenceUpdated' && e.presence.clientId === clientId).map((e) => e.presence);

describe('[PR1] joining and leaving, across instances', () => {
  it('a subscriber on instance 2 appears on instance 1 with name and color, and leaves when its stream ends', async () => {
    const id = await board();
    const annLog = subscribeEvents(one.wsClient(ann.token), { d: id, c: cid('ann-1') });
    await annLog.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    const bobClient = two.wsClient(bob.token);
    const bobLog = subscribeEvents(bobClient, { d: id, c: cid('bob-1') });
    await annLog.until((e) => presenceOf(e, cid('bob-1')).length > 0);
    const joined = presenceOf(annLog.events, cid('bob-1'))[0];
    expect(joined).toMatchObject({ user: { id: bob.userId, name: 'Bob' }, status: 'ACTIVE', cursor: null, version: 0 });
    expect(joined.user.color).toMatch(/^#/);
    // Everyone present on any instance, seen from either.
    for (const t of [one, two]) {
      const { dashboard } = await t.ok(PRESENCE, { d: id }, vic.token);
      expect(dashboard.presence.map((p: { clientId: string }) => p.clientId).sort()).toEqual(
        [cid('ann-1'), cid('bob-1')].sort(),
      );
    }
    // One user, two tabs: two clientIds.
    const bobTab2 = subscribeEvents(two.wsClient(bob.token), { d: id, c: cid('bob-2') });
    await annLog.until((e) => presenceOf(e, cid('bob-2')).length > 0);
    bobLog.dispose();
    await annLog.until((e) => e.some((x) => x.__typename === 'PresenceLeft' && x.clientId === cid('bob-1')));
    expect(annLog.events.find((x) => x.__typename === 'PresenceLeft').user.id).toBe(bob.userId);
    const { dashboard } = await one.ok(PRESENCE, { d: id }, ann.token);
    expect(dashboard.presence.map((p: { clientId: string }) => p.clientId).sort()).toEqual(
      [cid('ann-1'), cid('bob-2')].sort(),
    );
    // Dropping the socket leaves too.
    await two.wsClient(bob.token).dispose();
    bobTab2.dispose();
    await annLog.until((e) => e.some((x) => x.__typename === 'PresenceLeft' && x.clientId === cid('bob-2')));
    annLog.dispose();
  });

  it('[PR3] a resubscription with the same clientId replaces the entry, and the old stream ending does not remove it', async () => {
    const id = await board();
    const watcher = subscribeEvents(one.wsClient(ann.token), { d: id, c: cid('ann-r') });
    await watcher.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    const first = subscribeEvents(two.wsClient(bob.token), { d: id, c: cid('bob-r') });
    await watcher.until((e) => presenceOf(e, cid('bob-r')).length === 1);
    const second = subscribeEvents(two.wsClient(bob.token), { d: id, c: cid('bob-r') });
    await watcher.until((e) => presenceOf(e, cid('bob-r')).length === 2);
    first.dispose();
    await second.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    // The old stream's end is not a leave: bob-r is still listed.
    const stillThere = async () =>
      (await one.ok(PRESENCE, { d: id }, ann.token)).dashboard.presence.some(
        (p: { clientId: string }) => p.clientId === cid('bob-r'),
      );
    expect(await stillThere()).toBe(true);
    expect(watcher.events.some((x) => x.__typename === 'PresenceLeft')).toBe(false);
    second.dispose();
    await watcher.until((e) => e.some((x) => x.__typename === 'PresenceLeft' && x.clientId === cid('bob-r')));
    watcher.dispose();
  });
});

describe('[PR2] cursors and selections', () => {
  it('a cursor update over the WebSocket reaches a subscriber on the other instance (latency measured)', async () => {
    const id = await board();
    const annLog = subscribeEvents(one.wsClient(ann.token), { d: id, c: cid('ann-lat') });
    await annLog.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    const bobWs = two.wsClient(bob.token);
    const bobLog = subscribeEvents(bobWs, { d: id, c: cid('bob-lat') });
    await annLog.until((e) => presenceOf(e, cid('bob-lat')).length > 0);
    const latencies: number[] = [];
    for (let i = 1; i <= 60; i++) {
      // Past the coalescing window, so this measures delivery, not the 30/s throttle.
      await new Promise((r) => setTimeout(r, 35));
      const started = performance.now();
      await request(bobWs, UPDATE, { d: id, c: cid('bob-lat'), cursor: { x: i, y: i / 2 } });
      await annLog.until((e) => presenceOf(e, cid('bob-lat')).some((p) => p.cursor?.x === i));
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
    console.log(
      `cursor update, instance 2 -> instance 1 (${process.env.REDIS_URL ? 'Redis' : 'memory bus'}): p50 ${p(0.5)} ms, p99 ${p(0.99)} ms over ${latencies.length}`,
    );
    expect(presenceOf(annLog.events, cid('bob-lat')).at(-1).cursor).toEqual({ x: 60, y: 30 });
    annLog.dispose();
    bobLog.dispose();
  });

  it('[PR5] coalesces a burst: bounded broadcasts, the last value wins', async () => {
    const id = await board();
    const annLog = subscribeEvents(one.wsClient(ann.token), { d: id, c: cid('ann-burst') });
    await annLog.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    const bobWs = two.wsClient(bob.token);
    const bobLog = subscribeEvents(bobWs, { d: id, c: cid('bob-burst') });
    await annLog.until((e) => presenceOf(e, cid('bob-burst')).length > 0);
    const before = presenceOf(annLog.events, cid('bob-burst')).length;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        request(bobWs, UPDATE, { d: id, c: cid('bob-burst'), cursor: { x: i, y: 0 } }),
      ),
    );
    await annLog.until((e) => presenceOf(e, cid('bob-burst')).at(-1)?.cursor?.x === 299);
    const elapsed = performance.now() - started;
    const delivered = presenceOf(annLog.events, cid('bob-burst')).length - before;
    // At most one broadcast per 33 ms window (plus the first, immediate one).
    expect(delivered).toBeLessThanOrEqual(Math.ceil(elapsed / 33) + 2);
    expect(delivered).toBeLessThan(300);
    annLog.dispose();
    bobLog.dispose();
  });

  it('moves a text cursor and selection to the current version through concurrent edits', async () => {
    const id = await board();
    const head = async () =>
      (await one.ok(`query($d: ID!) { dashboard(id: $d) { version document } }`, { d: id }, ann.token)).dashboard;
    let h = await head();
    await one.ok(
      SUBMIT,
      {
        d: id,
        c: cid('ann-ed'),
        s: 1,
        b: 0,
        op: addWidget(h.document, newWidget('note', { id: 'n', text: 'hello world' })),
      },
      ann.token,
    );
    await one.ok(
      SUBMIT,
      {
        d: id,
        c: cid('ann-ed'),
        s: 2,
        b: 1,
        op: addWidget((await head()).document, newWidget('note', { id: 'gone', text: 'bye' })),
      },
      ann.token,
    );
    h = await head(); // v2
    await one.ok(
      SUBMIT,
      { d: id, c: cid('ann-ed'), s: 3, b: 2, op: insertText(h.document, 'n', 0, '🙂🙂 ') },
      ann.token,
    ); // v3
    h = await head();
    await one.ok(SUBMIT, { d: id, c: cid('ann-ed'), s: 4, b: 3, op: removeWidget(h.document, 'gone') }, ann.token); // v4
    const annLog = subscribeEvents(one.wsClient(ann.token), { d: id, c: cid('ann-txt') });
    await annLog.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    // Bob's cursor and selection were made against v2.
    const bobLog = subscribeEvents(two.wsClient(bob.token), { d: id, c: cid('bob-txt') });
    await bobLog.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    await two.ok(
      UPDATE,
      {
        d: id,
        c: cid('bob-txt'),
        cursor: { widgetId: 'n', offset: 5 },
        selection: { widgetId: 'n', anchor: 1, head: 5 },
        b: 2,
      },
      bob.token,
    );
    await annLog.until((e) => presenceOf(e, cid('bob-txt')).some((p) => p.cursor !== null));
    const moved = presenceOf(annLog.events, cid('bob-txt')).find((p) => p.cursor !== null);
    expect(moved).toMatchObject({
      version: 4,
      cursor: { widgetId: 'n', offset: 8 },
      selection: { widgetId: 'n', anchor: 4, head: 8 },
    });
    // Dashboard.presence stores the transformed position too.
    const { dashboard } = await one.ok(PRESENCE, { d: id }, ann.token);
    expect(dashboard.presence.find((p: any) => p.clientId === cid('bob-txt'))).toMatchObject({
      version: 4,
      cursor: { widgetId: 'n', offset: 8 },
    });
    // A cursor in a removed widget becomes null.
    await two.ok(
      UPDATE,
      { d: id, c: cid('bob-txt'), cursor: { widgetId: 'gone', offset: 1 }, selection: null, b: 2 },
      bob.token,
    );
    await annLog.until((e) => presenceOf(e, cid('bob-txt')).some((p) => p.cursor === null && p.version === 4));
    bobLog.dispose();
    annLog.dispose();
  });

  it('validates: shape -> BAD_USER_INPUT, over 4 KB -> PAYLOAD_TOO_LARGE, future baseVersion -> BAD_USER_INPUT', async () => {
    const id = await board();
    const bad = [
      [{ cursor: { x: 'left', y: 1 } }, 'BAD_USER_INPUT'],
      [{ cursor: { widgetId: 'n', offset: -1 } }, 'BAD_USER_INPUT'],
      [{ selection: { widgetId: 'n', anchor: 1 } }, 'BAD_USER_INPUT'],
      [{ selection: Array.from({ length: 101 }, (_, i) => `w${i}`) }, 'BAD_USER_INPUT'],
      [{ cursor: { x: 1, y: 2, note: 'x'.repeat(5000) } }, 'PAYLOAD_TOO_LARGE'],
      [{ cursor: { widgetId: 'n', offset: 1 }, b: 99 }, 'BAD_USER_INPUT'],
    ] as const;
    for (const [vars, code] of bad) {
      expect([vars, errorCode(await one.gql(UPDATE, { d: id, c: cid('bob-v'), ...vars }, bob.token))]).toEqual([
        vars,
        code,
      ]);
    }
    expect(await one.ok(UPDATE, { d: id, c: cid('bob-v'), selection: ['a', 'b'] }, bob.token)).toEqual({
      updatePresence: true,
    });
  });

  it("viewers are present; strangers get NOT_FOUND; nobody moves another user's clientId", async () => {
    const id = await board();
    expect(await one.ok(UPDATE, { d: id, c: cid('vic'), cursor: { x: 1, y: 1 } }, vic.token)).toEqual({
      updatePresence: true,
    });
    expect(errorCode(await one.gql(UPDATE, { d: id, c: cid('eve'), cursor: { x: 1, y: 1 } }, eve.token))).toBe(
      'NOT_FOUND',
    );
    expect(errorCode(await one.gql(PRESENCE, { d: id }, eve.token))).toBeUndefined();
    expect((await one.ok(PRESENCE, { d: id }, eve.token)).dashboard).toBeNull();
    const stranger = subscribeEvents(one.wsClient(eve.token), { d: id, c: cid('eve-s') });
    await expect(stranger.until(() => false, 5000)).rejects.toThrow(/NOT_FOUND/);
    expect(errorCode(await one.gql(UPDATE, { d: id, c: cid('vic'), cursor: { x: 2, y: 2 } }, bob.token))).toBe(
      'FORBIDDEN',
    );
  });
});

describe('[PR1] liveness', () => {
  it('[PR4] a crashed instance leaves no ghost: its entries expire and another instance announces PresenceLeft', async () => {
    const id = await board();
    const shortTtl = { presenceTtl: 1 };
    const watcherApp = await startApp(backend, { config: shortTtl });
    const doomed = await startApp(backend, { config: shortTtl });
    try {
      const annLog = subscribeEvents(watcherApp.wsClient(ann.token), { d: id, c: cid('ann-ghost') });
      await annLog.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
      subscribeEvents(doomed.wsClient(bob.token), { d: id, c: cid('bob-ghost') });
      await annLog.until((e) => presenceOf(e, cid('bob-ghost')).length > 0);
      // Crash: no leave, no cleanup, no more refreshes.
      await doomed.app.services.presence.stop({ cleanup: false });
      await doomed.stop();
      await annLog.until(
        (e) => e.some((x) => x.__typename === 'PresenceLeft' && x.clientId === cid('bob-ghost')),
        10_000,
      );
      const { dashboard } = await watcherApp.ok(PRESENCE, { d: id }, ann.token);
      expect(dashboard.presence.map((p: { clientId: string }) => p.clientId)).toEqual([cid('ann-ghost')]);
      annLog.dispose();
    } finally {
      await watcherApp.stop();
    }
  });

  it('[PR7] marks a client IDLE after IDLE_AFTER without activity, ACTIVE again on activity (injected clock)', async () => {
    const id = await board();
    let offset = 0;
    const clock = { now: () => new Date(Date.now() + offset) };
    const t = await startApp(backend, { clock, config: { idleAfter: 60, presenceTtl: 300 } });
    try {
      const annLog = subscribeEvents(t.wsClient(ann.token), { d: id, c: cid('ann-idle') });
      await annLog.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
      const bobWs = t.wsClient(bob.token);
      subscribeEvents(bobWs, { d: id, c: cid('bob-idle') });
      await annLog.until((e) => presenceOf(e, cid('bob-idle')).length > 0);
      offset = 61_000;
      await annLog.until((e) => presenceOf(e, cid('bob-idle')).some((p) => p.status === 'IDLE'));
      await request(bobWs, UPDATE, { d: id, c: cid('bob-idle'), cursor: { x: 3, y: 4 } });
      await annLog.until((e) => presenceOf(e, cid('bob-idle')).at(-1)?.status === 'ACTIVE');
      expect(presenceOf(annLog.events, cid('bob-idle')).at(-1).cursor).toEqual({ x: 3, y: 4 });
      annLog.dispose();
    } finally {
      await t.stop();
    }
  });
});

describe('[PR1][PR3] keep-alive', () => {
  it('a socket that stops answering pings is closed, and its client leaves the room', async () => {
    const id = await board();
    const t = await startApp(backend, { config: { keepAliveMs: 100 } });
    try {
      const annLog = subscribeEvents(one.wsClient(ann.token), { d: id, c: cid('ann-ka') });
      await annLog.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
      // A raw client that never answers pings, like a peer whose network vanished.
      const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws', { autoPong: false });
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authToken: bob.token } }));
      socket.once('message', () =>
        socket.send(
          JSON.stringify({
            id: '1',
            type: 'subscribe',
            payload: {
              query: `subscription($d: ID!, $c: ID!) { dashboardEvents(dashboardId: $d, clientId: $c) { __typename } }`,
              variables: { d: id, c: cid('bob-ka') },
            },
          }),
        ),
      );
      await annLog.until((e) => presenceOf(e, cid('bob-ka')).length > 0);
      expect(await closed).toBe(1006); // terminated, no close frame
      await annLog.until((e) => e.some((x) => x.__typename === 'PresenceLeft' && x.clientId === cid('bob-ka')));
      annLog.dispose();
    } finally {
      await t.stop();
    }
  });
});
