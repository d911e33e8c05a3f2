/**
 * The collaboration engine through the public API, subscriptions: catch-up then live without
 * gap or duplicate (SUB1, SUB4), and a live stream ended when access is lost (AU1, AU2).
 */
import { addWidget, newWidget } from '@collab-dashboards/core';
import { subscribeEvents } from './helpers/harness.js';
import {
  addNote,
  board,
  C,
  doc,
  editor,
  owner,
  stranger,
  submit,
  t,
  useCollabApp,
  viewer,
} from './helpers/collab-app.js';

useCollabApp();

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

  it('[SUB4] ops committed while the catch-up runs are delivered exactly once', async () => {
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

describe('[AU1][AU2] access revoked on a live subscription', () => {
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
