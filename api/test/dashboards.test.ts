import {
  createBackend,
  mapAll,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  type Backend,
  type TestApp,
} from './helpers/harness.js';

let backend: Backend;
let t: TestApp;

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend);
});

const DASHBOARD = `query($id: ID!) { dashboard(id: $id) { id title version document myRole owner { id } collaborators { user { id email } role addedAt } createdAt updatedAt } }`;

describe('dashboards', () => {
  it('creates a dashboard at version 0 with the default document', async () => {
    const owner = await signUp(t, 'Owner');
    const { createDashboard } = await t.ok(
      `mutation { createDashboard(title: " Sales ") { id title version document myRole owner { id } collaborators { user { id } role } } }`,
      {},
      owner.token,
    );
    expect(createDashboard).toMatchObject({
      title: 'Sales',
      version: 0,
      document: { title: 'Sales', widgets: {}, layout: [] },
      myRole: 'OWNER',
      owner: { id: owner.userId },
      collaborators: [{ user: { id: owner.userId }, role: 'OWNER' }],
    });
    const { dashboard } = await t.ok(DASHBOARD, { id: createDashboard.id }, owner.token);
    expect(dashboard.title).toBe(dashboard.document.title);
  });

  it('accepts an initial document that keeps the shape, and refuses one that does not', async () => {
    const owner = await signUp(t, 'Doc');
    const document = {
      title: 'ignored',
      widgets: { n1: { id: 'n1', type: 'note', title: 'Hello', x: 0, y: 0, w: 4, h: 2, config: {}, text: 'hi' } },
      layout: ['n1'],
    };
    const { createDashboard: created } = await t.ok(
      `mutation($d: JSON) { createDashboard(title: "Seeded", document: $d) { document } }`,
      { d: document },
      owner.token,
    );
    expect(created.document).toEqual({ ...document, title: 'Seeded' });
    const bad = await t.gql(
      `mutation($d: JSON) { createDashboard(title: "Bad", document: $d) { id } }`,
      { d: { title: 'x', widgets: [] } },
      owner.token,
    );
    expect(errorCode(bad)).toBe('BAD_USER_INPUT');
  });

  it('validates the title', async () => {
    const owner = await signUp(t, 'Title');
    for (const title of ['', '   ', 'x'.repeat(201)]) {
      expect(
        errorCode(
          await t.gql(`mutation($t: String!) { createDashboard(title: $t) { id } }`, { t: title }, owner.token),
        ),
      ).toBe('BAD_USER_INPUT');
    }
  });

  it('lists only the dashboards the caller is a member of', async () => {
    const a = await signUp(t, 'ListA');
    const b = await signUp(t, 'ListB');
    const mine = await createDashboard(t, a.token, 'Mine');
    await createDashboard(t, b.token, 'Theirs');
    const { dashboards } = await t.ok(`{ dashboards { id title myRole } }`, {}, a.token);
    expect(dashboards).toEqual([{ id: mine, title: 'Mine', myRole: 'OWNER' }]);
    expect(errorCode(await t.gql(`{ dashboards { id } }`))).toBe('UNAUTHENTICATED');
  });
});

describe('[RO1][AC1] permissions, for every role and a stranger', () => {
  let owner: Awaited<ReturnType<typeof signUp>>;
  let editor: Awaited<ReturnType<typeof signUp>>;
  let viewer: Awaited<ReturnType<typeof signUp>>;
  let stranger: Awaited<ReturnType<typeof signUp>>;
  let invitee: Awaited<ReturnType<typeof signUp>>;
  let id: string;

  beforeAll(async () => {
    [owner, editor, viewer, stranger, invitee] = await mapAll(
      ['Owner', 'Editor', 'Viewer', 'Stranger', 'Invitee'],
      (n) => signUp(t, n),
    );
    id = await createDashboard(t, owner.token, 'Team');
    const invite = `mutation($id: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $id, email: $e, role: $r) { user { id } role } }`;
    expect((await t.ok(invite, { id, e: editor.email, r: 'EDITOR' }, owner.token)).inviteCollaborator.role).toBe(
      'EDITOR',
    );
    expect(
      (await t.ok(invite, { id, e: viewer.email.toUpperCase(), r: 'VIEWER' }, owner.token)).inviteCollaborator.role,
    ).toBe('VIEWER');
  });

  it('reads: members see the dashboard with their role; a stranger sees null', async () => {
    for (const [who, role] of [
      [owner, 'OWNER'],
      [editor, 'EDITOR'],
      [viewer, 'VIEWER'],
    ] as const) {
      const { dashboard } = await t.ok(DASHBOARD, { id }, who.token);
      expect(dashboard.myRole).toBe(role);
      expect(dashboard.collaborators.map((c: { role: string }) => c.role)).toEqual(['OWNER', 'EDITOR', 'VIEWER']);
    }
    expect(await t.gql(DASHBOARD, { id }, stranger.token)).toEqual({ data: { dashboard: null } });
    expect(await t.gql(DASHBOARD, { id: 'not-a-uuid' }, owner.token)).toEqual({ data: { dashboard: null } });
    expect(errorCode(await t.gql(DASHBOARD, { id }))).toBe('UNAUTHENTICATED');
  });

  const cases: Array<
    [string, string, Record<string, unknown>, Record<'owner' | 'editor' | 'viewer' | 'stranger', string | null>]
  > = [
    [
      'renameDashboard',
      `mutation($id: ID!) { renameDashboard(id: $id, title: "Renamed") { title } }`,
      {},
      { owner: null, editor: null, viewer: 'FORBIDDEN', stranger: 'NOT_FOUND' },
    ],
    [
      'inviteCollaborator',
      `mutation($id: ID!, $e: String!) { inviteCollaborator(dashboardId: $id, email: $e, role: VIEWER) { role } }`,
      { e: 'nobody-registered@example.com' },
      { owner: 'NOT_FOUND', editor: 'FORBIDDEN', viewer: 'FORBIDDEN', stranger: 'NOT_FOUND' },
    ],
    [
      'auditLog',
      `query($id: ID!) { dashboard(id: $id) { auditLog { action } } }`,
      {},
      { owner: null, editor: 'FORBIDDEN', viewer: 'FORBIDDEN', stranger: null },
    ],
    [
      'createCheckpoint',
      `mutation($id: ID!) { createCheckpoint(dashboardId: $id, name: "cp") { name } }`,
      {},
      { owner: null, editor: null, viewer: 'FORBIDDEN', stranger: 'NOT_FOUND' },
    ],
    [
      'updateCollaboratorRole of a non-member',
      `mutation($id: ID!) { updateCollaboratorRole(dashboardId: $id, userId: "00000000-0000-4000-8000-000000000000", role: VIEWER) { role } }`,
      {},
      { owner: 'NOT_FOUND', editor: 'FORBIDDEN', viewer: 'FORBIDDEN', stranger: 'NOT_FOUND' },
    ],
    [
      'deleteDashboard (other board)',
      `mutation($id: ID!) { deleteDashboard(id: $id) }`,
      { other: true },
      { owner: null, editor: 'FORBIDDEN', viewer: 'FORBIDDEN', stranger: 'NOT_FOUND' },
    ],
  ];

  it.each(cases)('%s', async (_name, query, vars, expected) => {
    let target = id;
    if (vars.other) {
      target = await createDashboard(t, owner.token, 'Disposable');
      const invite = `mutation($id: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $id, email: $e, role: $r) { role } }`;
      await t.ok(invite, { id: target, e: editor.email, r: 'EDITOR' }, owner.token);
      await t.ok(invite, { id: target, e: viewer.email, r: 'VIEWER' }, owner.token);
    }
    // Least privileged first, so the owner's success (e.g. a delete) comes last.
    for (const who of ['stranger', 'viewer', 'editor', 'owner'] as const) {
      const token = { owner, editor, viewer, stranger }[who].token;
      const result = await t.gql(query, { id: target, ...vars }, token);
      expect([who, errorCode(result) ?? null]).toEqual([who, expected[who]]);
    }
  });

  it('an invitation grants EDITOR or VIEWER only, once, to a registered email', async () => {
    const invite = `mutation($id: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $id, email: $e, role: $r) { role } }`;
    expect(errorCode(await t.gql(invite, { id, e: invitee.email, r: 'OWNER' }, owner.token))).toBe('BAD_USER_INPUT');
    expect(errorCode(await t.gql(invite, { id, e: 'not an email', r: 'EDITOR' }, owner.token))).toBe('BAD_USER_INPUT');
    expect(errorCode(await t.gql(invite, { id, e: editor.email, r: 'VIEWER' }, owner.token))).toBe('BAD_USER_INPUT');
  });

  it('changes roles (OWNER only; the owner keeps OWNER)', async () => {
    const update = `mutation($id: ID!, $u: ID!, $r: Role!) { updateCollaboratorRole(dashboardId: $id, userId: $u, role: $r) { user { id } role } }`;
    expect(errorCode(await t.gql(update, { id, u: viewer.userId, r: 'EDITOR' }, editor.token))).toBe('FORBIDDEN');
    expect(errorCode(await t.gql(update, { id, u: owner.userId, r: 'VIEWER' }, owner.token))).toBe('FORBIDDEN');
    expect(errorCode(await t.gql(update, { id, u: viewer.userId, r: 'OWNER' }, owner.token))).toBe('BAD_USER_INPUT');
    expect((await t.ok(update, { id, u: viewer.userId, r: 'EDITOR' }, owner.token)).updateCollaboratorRole.role).toBe(
      'EDITOR',
    );
    expect((await t.ok(DASHBOARD, { id }, viewer.token)).dashboard.myRole).toBe('EDITOR');
    expect((await t.ok(update, { id, u: viewer.userId, r: 'VIEWER' }, owner.token)).updateCollaboratorRole.role).toBe(
      'VIEWER',
    );
  });

  it('removal: a member may remove himself; only the owner removes others; the owner cannot be removed', async () => {
    const remove = `mutation($id: ID!, $u: ID!) { removeCollaborator(dashboardId: $id, userId: $u) }`;
    const board = await createDashboard(t, owner.token, 'Removal');
    const invite = `mutation($id: ID!, $e: String!, $r: Role!) { inviteCollaborator(dashboardId: $id, email: $e, role: $r) { role } }`;
    await t.ok(invite, { id: board, e: editor.email, r: 'EDITOR' }, owner.token);
    await t.ok(invite, { id: board, e: viewer.email, r: 'VIEWER' }, owner.token);
    expect(errorCode(await t.gql(remove, { id: board, u: viewer.userId }, editor.token))).toBe('FORBIDDEN');
    expect(errorCode(await t.gql(remove, { id: board, u: owner.userId }, owner.token))).toBe('FORBIDDEN');
    expect(errorCode(await t.gql(remove, { id: board, u: owner.userId }, stranger.token))).toBe('NOT_FOUND');
    expect(await t.ok(remove, { id: board, u: viewer.userId }, viewer.token)).toEqual({ removeCollaborator: true });
    expect(await t.ok(DASHBOARD, { id: board }, viewer.token)).toEqual({ dashboard: null });
    expect(await t.ok(remove, { id: board, u: editor.userId }, owner.token)).toEqual({ removeCollaborator: true });
    expect(
      errorCode(
        await t.gql(`mutation($id: ID!) { renameDashboard(id: $id, title: "x") { id } }`, { id: board }, editor.token),
      ),
    ).toBe('NOT_FOUND');
    expect(errorCode(await t.gql(remove, { id: board, u: editor.userId }, owner.token))).toBe('NOT_FOUND');
  });

  it('rename commits an op: title == document.title and the version moves', async () => {
    const board = await createDashboard(t, owner.token, 'Before');
    const { renameDashboard } = await t.ok(
      `mutation($id: ID!) { renameDashboard(id: $id, title: "After") { title version document myRole } }`,
      { id: board },
      owner.token,
    );
    expect(renameDashboard).toMatchObject({
      title: 'After',
      version: 1,
      document: { title: 'After' },
      myRole: 'OWNER',
    });
    const { dashboard } = await t.ok(
      `query($id: ID!) { dashboard(id: $id) { operations(fromVersion: 0) { version op author { id } } } }`,
      { id: board },
      owner.token,
    );
    expect(dashboard.operations).toHaveLength(1);
    expect(dashboard.operations[0].author.id).toBe(owner.userId);
  });

  it('a deleted dashboard no longer exists for anyone (AC1), and the audit log recorded the changes', async () => {
    const board = await createDashboard(t, owner.token, 'Doomed');
    await t.ok(
      `mutation($id: ID!, $e: String!) { inviteCollaborator(dashboardId: $id, email: $e, role: EDITOR) { role } }`,
      { id: board, e: editor.email },
      owner.token,
    );
    await t.ok(
      `mutation($id: ID!) { renameDashboard(id: $id, title: "Doomed 2") { id } }`,
      { id: board },
      editor.token,
    );
    const { dashboard } = await t.ok(
      `query($id: ID!) { dashboard(id: $id) { auditLog { action user { id } ip details } } }`,
      { id: board },
      owner.token,
    );
    expect(dashboard.auditLog.map((e: { action: string }) => e.action)).toEqual([
      'renameDashboard',
      'inviteCollaborator',
      'createDashboard',
    ]);
    expect(dashboard.auditLog[0].user.id).toBe(editor.userId);
    expect(dashboard.auditLog[0].ip).toMatch(/127\.0\.0\.1/);
    expect(await t.ok(`mutation($id: ID!) { deleteDashboard(id: $id) }`, { id: board }, owner.token)).toEqual({
      deleteDashboard: true,
    });
    for (const who of [owner, editor]) {
      expect(await t.ok(DASHBOARD, { id: board }, who.token)).toEqual({ dashboard: null });
      expect(
        errorCode(
          await t.gql(`mutation($id: ID!) { renameDashboard(id: $id, title: "x") { id } }`, { id: board }, who.token),
        ),
      ).toBe('NOT_FOUND');
    }
    expect(errorCode(await t.gql(`mutation($id: ID!) { deleteDashboard(id: $id) }`, { id: board }, owner.token))).toBe(
      'NOT_FOUND',
    );
    const { dashboards } = await t.ok(`{ dashboards { id } }`, {}, owner.token);
    expect(dashboards.map((d: { id: string }) => d.id)).not.toContain(board);
  });
});
