/**
 * Memberships that expire (DESIGN.md section 11, rule SC2): at expiresAt the member gets
 * AccessRevoked on every instance and the dashboard becomes NOT_FOUND for them, exactly as a
 * removal (AU1). Two instances on one backend (PGlite with the memory bus, or PostgreSQL with
 * Redis).
 */
import { randomUUID } from 'node:crypto';
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import {
  createBackend,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  SUBMIT,
  subscribeEvents,
  type TestApp,
} from './helpers/harness.js';

const INVITE = `mutation($d: ID!, $e: String!, $r: Role!, $x: DateTime) {
  inviteCollaborator(dashboardId: $d, email: $e, role: $r, expiresAt: $x) { role expiresAt }
}`;
const UPDATE = `mutation($d: ID!, $u: ID!, $r: Role!, $x: DateTime) {
  updateCollaboratorRole(dashboardId: $d, userId: $u, role: $r, expiresAt: $x) { role expiresAt }
}`;
const COLLABORATORS = `query($d: ID!) { dashboard(id: $d) { collaborators { user { id } role expiresAt } } }`;

let a: TestApp;
let b: TestApp;
let owner: Awaited<ReturnType<typeof signUp>>;

beforeAll(async () => {
  const backend = await createBackend();
  [a, b] = [await startApp(backend), await startApp(backend)];
  owner = await signUp(a, 'Owner');
});

describe('[SC2] memberships that expire', () => {
  it('[SC2][AU1] at expiresAt the member gets AccessRevoked on another instance, then NOT_FOUND everywhere', async () => {
    const member = await signUp(a, 'Guest');
    const d = await createDashboard(a, owner.token, 'Incident bridge');
    const expiresAt = new Date(Date.now() + 2500);
    const invited = await a.ok(INVITE, { d, e: member.email, r: 'EDITOR', x: expiresAt.toISOString() }, owner.token);
    expect(invited.inviteCollaborator).toEqual({ role: 'EDITOR', expiresAt: expiresAt.toISOString() });
    const listed = (await b.ok(COLLABORATORS, { d }, owner.token)).dashboard.collaborators;
    expect(listed).toContainEqual({ user: { id: member.userId }, role: 'EDITOR', expiresAt: expiresAt.toISOString() });

    const log = subscribeEvents(b.wsClient(member.token), { d, c: `guest-${randomUUID()}` });
    await log.until((events) => events.some((e) => e.__typename === 'SyncCompleted'));
    expect((await b.ok(`query($d: ID!) { dashboard(id: $d) { title } }`, { d }, member.token)).dashboard.title).toBe(
      'Incident bridge',
    );
    await log.until(() => log.completed, 8000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime() - 50);
    expect(log.events.at(-1)).toEqual({ __typename: 'AccessRevoked', dashboardId: d, reason: 'REMOVED' });
    for (const app of [a, b]) {
      expect(await app.gql(`query($d: ID!) { dashboard(id: $d) { title } }`, { d }, member.token)).toEqual({
        data: { dashboard: null },
      });
      expect((await app.ok(`{ dashboards { id } }`, {}, member.token)).dashboards).toEqual([]);
    }
    const after = (await a.ok(COLLABORATORS, { d }, owner.token)).dashboard.collaborators;
    expect(after.map((c: { user: { id: string } }) => c.user.id)).toEqual([owner.userId]);
    const audit = (
      await a.ok(`query($d: ID!) { dashboard(id: $d) { auditLog { action details } } }`, { d }, owner.token)
    ).dashboard.auditLog;
    expect(audit).toContainEqual({ action: 'collaboratorExpired', details: { userId: member.userId, role: 'EDITOR' } });
    // Invited again after it ended: a new membership.
    await a.ok(INVITE, { d, e: member.email, r: 'VIEWER', x: null }, owner.token);
    expect((await b.ok(`query($d: ID!) { dashboard(id: $d) { myRole } }`, { d }, member.token)).dashboard.myRole).toBe(
      'VIEWER',
    );
  });

  it('[SC2] updateCollaboratorRole sets, keeps or clears the end; a time in the past is BAD_USER_INPUT', async () => {
    const member = await signUp(a, 'Contractor');
    const d = await createDashboard(a, owner.token, 'Project');
    const soon = new Date(Date.now() + 1500).toISOString();
    expect(
      errorCode(
        await a.gql(
          INVITE,
          { d, e: member.email, r: 'VIEWER', x: new Date(Date.now() - 1000).toISOString() },
          owner.token,
        ),
      ),
    ).toBe('BAD_USER_INPUT');
    await a.ok(INVITE, { d, e: member.email, r: 'VIEWER', x: soon }, owner.token);
    // Omitted: kept; null: permanent.
    expect(
      (
        await a.ok(
          UPDATE.replace(', $x: DateTime', '').replace(', expiresAt: $x', ''),
          { d, u: member.userId, r: 'EDITOR' },
          owner.token,
        )
      ).updateCollaboratorRole,
    ).toEqual({ role: 'EDITOR', expiresAt: soon });
    expect(
      (await a.ok(UPDATE, { d, u: member.userId, r: 'EDITOR', x: null }, owner.token)).updateCollaboratorRole,
    ).toEqual({
      role: 'EDITOR',
      expiresAt: null,
    });
    // A control member with the same end as the old one: when it is revoked, the old end passed.
    const control = await signUp(a, 'Control');
    await a.ok(INVITE, { d, e: control.email, r: 'VIEWER', x: soon }, owner.token);
    const log = subscribeEvents(b.wsClient(member.token), { d, c: `kept-${randomUUID()}` });
    const controlLog = subscribeEvents(b.wsClient(control.token), { d, c: `control-${randomUUID()}` });
    await log.until((events) => events.some((e) => e.__typename === 'SyncCompleted'));
    await controlLog.until(() => controlLog.completed, 8000);
    expect(controlLog.events.at(-1)).toMatchObject({ __typename: 'AccessRevoked', reason: 'REMOVED' });
    expect((await b.ok(`query($d: ID!) { dashboard(id: $d) { myRole } }`, { d }, member.token)).dashboard.myRole).toBe(
      'EDITOR',
    );
    expect(log.completed).toBe(false);
    log.dispose();
  });
});

describe('[SC2] the end is exact for writes too', () => {
  it('[SC2] an edit from a known client right after expiresAt is refused, before the sweep has run', async () => {
    const member = await signUp(a, 'Typist');
    const d = await createDashboard(a, owner.token, 'Notes');
    const expiresAt = Date.now() + 1500;
    await a.ok(INVITE, { d, e: member.email, r: 'EDITOR', x: new Date(expiresAt).toISOString() }, owner.token);
    const clientId = `typist-${randomUUID()}`;
    const doc = createDocument('Notes');
    const first = await a.gql(
      SUBMIT,
      { d, c: clientId, s: 1, b: 0, op: addWidget(doc, newWidget('note', { id: 'n1' })) },
      member.token,
    );
    expect(first.errors).toBeUndefined();
    // The moment itself is what is awaited: the sweep runs once a second, so this lands before
    // it almost always, and the answer must be the same either way.
    while (Date.now() <= expiresAt) await new Promise((resolve) => setTimeout(resolve, expiresAt + 1 - Date.now()));
    const late = await a.gql(
      SUBMIT,
      { d, c: clientId, s: 2, b: 1, op: ['widgets', 'n1', 'title', { r: true, i: 'late' }] },
      member.token,
    );
    expect(errorCode(late)).toBe('NOT_FOUND');
    const version = (await a.ok(`query($d: ID!) { dashboard(id: $d) { version } }`, { d }, owner.token)).dashboard
      .version;
    expect(version).toBe(1);
  });
});
