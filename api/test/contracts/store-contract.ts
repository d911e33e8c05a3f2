/**
 * The Store contract (CONVENTIONS.md 3): every adapter passes these same tests.
 * `registerStoreContract(name, factory)` registers them against one backend.
 */
import { randomUUID } from 'node:crypto';
import type { CommitWrite, OperationRow, Store } from '../../src/ports/store.js';

export function registerStoreContract(
  name: string,
  factory: () => Promise<{ store: Store; cleanup(): Promise<void> }>,
) {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ store, cleanup } = await factory());
    });
    afterAll(() => cleanup());

    const newUser = async (name = 'U') => {
      const id = randomUUID();
      const user = await store.createUser({
        id,
        email: `${id}@example.com`,
        name,
        color: '#123456',
        passwordHash: 'h',
      });
      return user!;
    };
    const newDashboard = async (ownerId: string) =>
      store.createDashboard({
        id: randomUUID(),
        ownerId,
        title: 'T',
        document: { title: 'T', widgets: {}, layout: [] },
        now: new Date(),
      });
    const op = (d: string, version: number, over: Partial<OperationRow> = {}): OperationRow => ({
      dashboardId: d,
      version,
      op: ['widgets', `w${version}`, { i: version }],
      inverse: ['widgets', `w${version}`, { r: true }],
      authorId: over.authorId!,
      clientId: 'c1',
      seq: version,
      kind: 'edit',
      undoState: 'active',
      refVersion: null,
      undoGroup: version,
      createdAt: new Date(),
      ...over,
    });

    it('migrate is idempotent', async () => {
      await store.migrate();
      await store.migrate();
      await store.ping();
    });

    it('getOrCreateSetting: every caller agrees on the first value', async () => {
      const key = `k-${randomUUID()}`;
      const values = await Promise.all([1, 2, 3, 4].map((n) => store.getOrCreateSetting(key, () => `v${n}`)));
      expect(new Set(values).size).toBe(1);
      expect(await store.getOrCreateSetting(key, () => 'other')).toBe(values[0]);
    });

    it('users: unique email, lookups by email and ids', async () => {
      const user = await newUser('Ada');
      expect(await store.createUser({ ...user, id: randomUUID() })).toBeNull();
      expect((await store.findUserByEmail(user.email))?.id).toBe(user.id);
      expect(await store.findUserByEmail('nobody@example.com')).toBeNull();
      const other = await newUser();
      const found = await store.findUsersByIds([user.id, other.id, randomUUID()]);
      expect(found.map((u) => u.id).sort()).toEqual([user.id, other.id].sort());
      expect(await store.findUsersByIds([])).toEqual([]);
      expect(found[0]!.createdAt).toBeInstanceOf(Date);
    });

    it('refresh tokens: rotate, grace, reuse revokes the family, expiry', async () => {
      const user = await newUser();
      const t0 = new Date();
      await store.insertRefreshToken({
        id: randomUUID(),
        userId: user.id,
        familyId: randomUUID(),
        tokenHash: 'h1' + user.id,
        expiresAt: new Date(t0.getTime() + 60_000),
      });
      const succ = { id: randomUUID(), tokenHash: 'h2' + user.id, expiresAt: new Date(t0.getTime() + 60_000) };
      expect(await store.rotateRefreshToken('h1' + user.id, succ, t0, 10_000)).toMatchObject({
        status: 'rotated',
        userId: user.id,
      });
      expect(
        await store.rotateRefreshToken(
          'h1' + user.id,
          { ...succ, id: randomUUID() },
          new Date(t0.getTime() + 5000),
          10_000,
        ),
      ).toMatchObject({ status: 'grace' });
      expect(
        await store.rotateRefreshToken(
          'h1' + user.id,
          { ...succ, id: randomUUID() },
          new Date(t0.getTime() + 11_000),
          10_000,
        ),
      ).toEqual({ status: 'reused' });
      // The successor died with its family.
      expect(
        (
          await store.rotateRefreshToken(
            'h2' + user.id,
            { id: randomUUID(), tokenHash: 'h3' + user.id, expiresAt: succ.expiresAt },
            new Date(t0.getTime() + 12_000),
            10_000,
          )
        ).status,
      ).toBe('invalid');
      await store.insertRefreshToken({
        id: randomUUID(),
        userId: user.id,
        familyId: randomUUID(),
        tokenHash: 'old' + user.id,
        expiresAt: new Date(t0.getTime() - 1),
      });
      expect(
        (
          await store.rotateRefreshToken(
            'old' + user.id,
            { id: randomUUID(), tokenHash: 'x' + user.id, expiresAt: succ.expiresAt },
            t0,
            10_000,
          )
        ).status,
      ).toBe('invalid');
      expect(await store.revokeRefreshFamily('unknown', t0)).toBeNull();
    });

    it('API tokens: insert, list, use, revoke', async () => {
      const user = await newUser();
      const row = await store.insertApiToken({
        id: randomUUID(),
        userId: user.id,
        name: 'ci',
        tokenHash: 'api' + user.id,
      });
      expect(row.lastUsedAt).toBeNull();
      expect(await store.useApiToken('api' + user.id, new Date())).toEqual({ id: row.id, userId: user.id });
      expect((await store.listApiTokens(user.id))[0]!.lastUsedAt).toBeInstanceOf(Date);
      expect(await store.revokeApiToken(randomUUID(), row.id, new Date())).toBe(false);
      expect(await store.revokeApiToken(user.id, row.id, new Date())).toBe(true);
      expect(await store.useApiToken('api' + user.id, new Date())).toBeNull();
      expect(await store.listApiTokens(user.id)).toEqual([]);
    });

    it('dashboards and collaborators: roles, listing, soft delete', async () => {
      const owner = await newUser();
      const member = await newUser();
      const d = await newDashboard(owner.id);
      expect(d.version).toBe(0);
      expect(await store.getRole(d.id, owner.id)).toBe('OWNER');
      expect(await store.getRole(d.id, member.id)).toBeNull();
      expect(await store.findDashboardForUser(d.id, member.id)).toBeNull();
      expect(await store.findDashboardForUser(d.id, owner.id)).toMatchObject({ id: d.id, role: 'OWNER', version: 0 });
      expect((await store.addCollaborator(d.id, member.id, 'VIEWER', new Date()))?.role).toBe('VIEWER');
      expect(await store.addCollaborator(d.id, member.id, 'EDITOR', new Date())).toBeNull();
      expect((await store.updateCollaboratorRole(d.id, member.id, 'EDITOR'))?.role).toBe('EDITOR');
      expect((await store.listCollaborators(d.id)).map((c) => c.role)).toEqual(['OWNER', 'EDITOR']);
      expect((await store.listDashboardsForUser(member.id)).map((x) => [x.id, x.role])).toEqual([[d.id, 'EDITOR']]);
      expect(await store.removeCollaborator(d.id, member.id)).toBe(true);
      expect(await store.removeCollaborator(d.id, member.id)).toBe(false);
      expect(await store.softDeleteDashboard(d.id, new Date())).toBe(true);
      expect(await store.softDeleteDashboard(d.id, new Date())).toBe(false);
      expect(await store.getDashboard(d.id)).toBeNull();
      expect(await store.findDashboardForUser(d.id, owner.id)).toBeNull();
      expect(await store.getRole(d.id, owner.id)).toBeNull();
      expect(await store.listDashboardsForUser(owner.id)).toEqual([]);
      await expect(store.withDashboardLock(d.id, async () => 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('claimClientId: first user wins', async () => {
      const a = await newUser();
      const b = await newUser();
      const clientId = `c-${randomUUID()}`;
      expect(await store.claimClientId(clientId, a.id)).toBe(a.id);
      expect(await store.claimClientId(clientId, b.id)).toBe(a.id);
    });

    /** A commit's writes with nothing but ops and the head. */
    const writeOf = (rows: OperationRow[], version: number, extra: Partial<CommitWrite> = {}): CommitWrite => ({
      clearRedo: [],
      undoStates: [],
      operations: rows,
      snapshots: [],
      head: { version, document: { title: 'T', widgets: {}, layout: [] }, title: 'T', at: new Date() },
      ...extra,
    });

    it('operations: insert in a locked commit, list, range, find, unique (client, seq)', async () => {
      const user = await newUser();
      const d = await newDashboard(user.id);
      await store.withDashboardLock(d.id, async (tx) => {
        expect(tx.version).toBe(0);
        expect(await tx.document()).toEqual({ title: 'T', widgets: {}, layout: [] });
        expect(tx.committed).toEqual([]);
        tx.write(
          writeOf(
            [
              op(d.id, 1, { authorId: user.id }),
              op(d.id, 2, { authorId: user.id, op: null, inverse: null, undoState: null }),
            ],
            2,
            {
              snapshots: [{ version: 2, document: { title: 'T', widgets: { w1: 1 }, layout: [] } }],
              head: {
                version: 2,
                document: { title: 'T2', widgets: { w1: 1 }, layout: [] },
                title: 'T2',
                at: new Date(),
              },
            },
          ),
        );
      });
      const head = await store.getDashboard(d.id);
      expect([head?.version, head?.title, head?.document]).toEqual([
        2,
        'T2',
        { title: 'T2', widgets: { w1: 1 }, layout: [] },
      ]);
      const all = await store.listOperations(d.id, 0, 10);
      expect(all.map((o) => o.version)).toEqual([1, 2]);
      expect(all[0]!.op).toEqual(['widgets', 'w1', { i: 1 }]);
      expect(all[1]!.op).toBeNull();
      expect((await store.listOperations(d.id, 1, 10)).map((o) => o.version)).toEqual([2]);
      expect((await store.listOperationRange(d.id, 0, 1)).map((o) => o.version)).toEqual([1]);
      expect((await store.findOperation(d.id, 'c1', 2))?.version).toBe(2);
      expect(await store.findOperation(d.id, 'c1', 3)).toBeNull();
      expect(await store.latestSnapshot(d.id, 1)).toEqual({
        version: 0,
        document: { title: 'T', widgets: {}, layout: [] },
      });
      expect((await store.latestSnapshot(d.id, 5))?.version).toBe(2);
      await expect(
        store.withDashboardLock(d.id, async (tx) => tx.write(writeOf([op(d.id, 3, { authorId: user.id, seq: 1 })], 3))),
      ).rejects.toMatchObject({ code: '23505' });
      // The whole commit is one statement: the failed insert left the head where it was.
      expect((await store.getDashboard(d.id))?.version).toBe(2);
    });

    it('the lock screens authors and resubmissions in one go', async () => {
      const owner = await newUser();
      const viewer = await newUser();
      const stranger = await newUser();
      const d = await newDashboard(owner.id);
      await store.addCollaborator(d.id, viewer.id, 'VIEWER', new Date());
      await store.withDashboardLock(d.id, async (tx) =>
        tx.write(writeOf([op(d.id, 1, { authorId: owner.id }), op(d.id, 2, { authorId: owner.id })], 2)),
      );
      await store.withDashboardLock(
        d.id,
        async (tx) => {
          expect([...tx.roles].sort()).toEqual(
            [
              [owner.id, 'OWNER'],
              [viewer.id, 'VIEWER'],
            ].sort(),
          );
          expect(tx.roles.has(stranger.id)).toBe(false);
          expect(tx.committed.map((o) => [o.clientId, o.seq, o.version, o.authorId]).sort()).toEqual([
            ['c1', 1, 1, owner.id],
            ['c1', 2, 2, owner.id],
          ]);
          expect(tx.committed.find((o) => o.version === 1)).toEqual(
            expect.objectContaining({ op: ['widgets', 'w1', { i: 1 }], kind: 'edit', createdAt: expect.any(Date) }),
          );
        },
        {
          userIds: [owner.id, viewer.id, stranger.id, owner.id],
          keys: [
            { clientId: 'c1', seq: 2 },
            { clientId: 'c1', seq: 3 },
            { clientId: 'other', seq: 1 },
            { clientId: 'c1', seq: 1 },
          ],
        },
      );
    });

    it('a commit that waited for the lock screens what landed meanwhile', async () => {
      const user = await newUser();
      const d = await newDashboard(user.id);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const first = store.withDashboardLock(d.id, async (tx) => {
        locked();
        await held;
        tx.write(writeOf([op(d.id, 1, { authorId: user.id, clientId: 'late', seq: 7 })], 1));
      });
      await isLocked;
      const second = store.withDashboardLock(d.id, async (tx) => ({ version: tx.version, committed: tx.committed }), {
        userIds: [user.id],
        keys: [{ clientId: 'late', seq: 7 }],
      });
      // Give the second commit's lock statement time to start waiting (its snapshot is older
      // than the first commit); on an embedded backend it simply runs after the first.
      await new Promise((resolve) => setTimeout(resolve, 50));
      release();
      await first;
      const seen = await second;
      expect(seen.version).toBe(1);
      expect(seen.committed.map((o) => [o.clientId, o.seq, o.version])).toEqual([['late', 7, 1]]);
    });

    it('a commit group locks several dashboards, screens each, and writes them in one statement', async () => {
      const user = await newUser();
      const [a, b, gone] = [await newDashboard(user.id), await newDashboard(user.id), await newDashboard(user.id)];
      await store.softDeleteDashboard(gone.id, new Date());
      const unknown = randomUUID();
      // Text that must survive the trip through SQL arrays intact.
      const tricky = ['widgets', 'w', { i: { t: 'quote " backslash \\ {brace}, comma \u00e9 \u{1F600}', n: null } }];
      await store.withDashboardLock(a.id, async (tx) =>
        tx.write(
          writeOf(
            [op(a.id, 1, { authorId: user.id, clientId: 'same', seq: 1, kind: 'undo', undoState: 'redoable' })],
            1,
          ),
        ),
      );
      const seen = await store.withDashboardLocks(
        [
          { dashboardId: b.id, screen: { userIds: [user.id], keys: [{ clientId: 'same', seq: 1 }] } },
          { dashboardId: gone.id },
          { dashboardId: unknown, screen: { userIds: [user.id], keys: [] } },
          { dashboardId: a.id, screen: { userIds: [user.id], keys: [{ clientId: 'same', seq: 1 }] } },
        ],
        async (txs) => {
          txs.get(a.id)!.write(
            writeOf([op(a.id, 2, { authorId: user.id, clientId: 'same', seq: 2, op: tricky })], 2, {
              clearRedo: ['same'],
            }),
          );
          txs.get(b.id)!.write(
            writeOf([op(b.id, 1, { authorId: user.id, clientId: 'same', seq: 1 })], 1, {
              snapshots: [{ version: 1, document: { title: 'B', widgets: { w: tricky }, layout: [] } }],
              head: {
                version: 1,
                document: { title: 'B', widgets: { w: tricky }, layout: [] },
                title: 'B',
                at: new Date(),
              },
            }),
          );
          return [...txs].map(([id, tx]) => [
            id,
            tx.version,
            tx.roles.get(user.id),
            tx.committed.map((o) => o.version),
          ]);
        },
      );
      expect(seen.sort()).toEqual(
        [
          [a.id, 1, 'OWNER', [1]],
          [b.id, 0, 'OWNER', []],
        ].sort(),
      );
      const opsA = await store.listOperations(a.id, 0, 10);
      expect(opsA.map((o) => [o.version, o.undoState])).toEqual([
        [1, 'cleared'],
        [2, 'active'],
      ]);
      expect(opsA[1]!.op).toEqual(tricky);
      expect(await store.getDashboard(b.id)).toMatchObject({
        version: 1,
        title: 'B',
        document: { widgets: { w: tricky } },
      });
      expect(await store.latestSnapshot(b.id, 1)).toEqual({
        version: 1,
        document: { title: 'B', widgets: { w: tricky }, layout: [] },
      });
      expect((await store.getDashboard(a.id))?.version).toBe(2);

      // One failing write fails the group: neither dashboard moves.
      await expect(
        store.withDashboardLocks([{ dashboardId: a.id }, { dashboardId: b.id }], async (txs) => {
          txs.get(a.id)!.write(writeOf([op(a.id, 3, { authorId: user.id, clientId: 'x', seq: 1 })], 3));
          txs.get(b.id)!.write(writeOf([op(b.id, 2, { authorId: user.id, clientId: 'same', seq: 1 })], 2));
        }),
      ).rejects.toMatchObject({ code: '23505' });
      expect([(await store.getDashboard(a.id))?.version, (await store.getDashboard(b.id))?.version]).toEqual([2, 1]);
      expect(await store.findOperation(a.id, 'x', 1)).toBeNull();
    });

    it('commit groups over the same dashboards, requested in opposite orders, do not deadlock', async () => {
      const user = await newUser();
      const ds = [await newDashboard(user.id), await newDashboard(user.id), await newDashboard(user.id)];
      const bump = (order: typeof ds) =>
        store.withDashboardLocks(
          order.map((d) => ({ dashboardId: d.id })),
          async (txs) => {
            for (const d of order) {
              const tx = txs.get(d.id)!;
              tx.write(writeOf([], tx.version + 1));
            }
          },
        );
      await Promise.all([1, 2, 3, 4].map((i) => bump(i % 2 ? ds : [...ds].reverse())));
      expect(await Promise.all(ds.map(async (d) => (await store.getDashboard(d.id))?.version))).toEqual([4, 4, 4]);
    });

    it('withDashboardLock serialises commits to one dashboard', async () => {
      const user = await newUser();
      const d = await newDashboard(user.id);
      const order: number[] = [];
      await Promise.all(
        [1, 2, 3, 4, 5].map(() =>
          store.withDashboardLock(d.id, async (tx) => {
            const next = tx.version + 1;
            order.push(next);
            tx.write(writeOf([op(d.id, next, { authorId: user.id })], next));
          }),
        ),
      );
      expect(order).toEqual([1, 2, 3, 4, 5]);
      expect((await store.getDashboard(d.id))?.version).toBe(5);
    });

    it('undo stacks: stackTop with exclusions; a commit changes states and clears redo stacks', async () => {
      const user = await newUser();
      const d = await newDashboard(user.id);
      await store.withDashboardLock(d.id, async (tx) => {
        tx.write(
          writeOf(
            [
              op(d.id, 1, { authorId: user.id, clientId: 'me', seq: 1 }),
              op(d.id, 2, { authorId: user.id, clientId: 'me', seq: 2 }),
              op(d.id, 3, {
                authorId: user.id,
                clientId: 'me',
                seq: 3,
                kind: 'undo',
                undoState: 'redoable',
                refVersion: 2,
              }),
              op(d.id, 4, { authorId: user.id, clientId: 'me', seq: 4, kind: 'undo', undoState: 'redoable' }),
              op(d.id, 5, { authorId: user.id, clientId: 'other', seq: 1, kind: 'undo', undoState: 'redoable' }),
            ],
            5,
          ),
        );
      });
      await store.withDashboardLock(d.id, async (tx) => {
        expect((await tx.stackTop('me', 'active', []))?.version).toBe(2);
        expect((await tx.stackTop('me', 'active', [2]))?.version).toBe(1);
        expect((await tx.stackTop('me', 'redoable', []))?.version).toBe(4);
      });
      await store.withDashboardLock(d.id, async (tx) =>
        tx.write(
          writeOf([op(d.id, 6, { authorId: user.id, clientId: 'me', seq: 5 })], 6, {
            clearRedo: ['me', 'someone-else'],
            // A redo of 3 before this edit: its state change wins over the clearing.
            undoStates: [
              [2, 'undone'],
              [3, 'redone'],
            ],
          }),
        ),
      );
      const states = new Map((await store.listOperations(d.id, 0, 10)).map((o) => [o.version, o.undoState]));
      expect([...states]).toEqual([
        [1, 'active'],
        [2, 'undone'],
        [3, 'redone'],
        [4, 'cleared'],
        [5, 'redoable'],
        [6, 'active'],
      ]);
      await store.withDashboardLock(d.id, async (tx) => {
        expect((await tx.stackTop('me', 'active', []))?.version).toBe(6);
        expect(await tx.stackTop('me', 'redoable', [])).toBeNull();
        expect((await tx.stackTop('other', 'redoable', []))?.version).toBe(5);
      });
    });

    it('[UN2] undo steps: undoGroup is stored; undoStep lists the active ops of a step, newest first', async () => {
      const user = await newUser();
      const d = await newDashboard(user.id);
      const mine = (version: number, over: Partial<OperationRow> = {}) =>
        op(d.id, version, { authorId: user.id, clientId: 'me', seq: version, undoGroup: 1, ...over });
      await store.withDashboardLock(d.id, async (tx) => {
        tx.write(
          writeOf(
            [
              mine(1),
              mine(2),
              op(d.id, 3, { authorId: user.id, clientId: 'other', seq: 1, undoGroup: 1 }),
              mine(4, { undoState: 'undone' }),
              mine(5),
              mine(6, { undoGroup: 6 }),
              mine(7, { undoGroup: null, kind: 'rename', undoState: null }),
            ],
            7,
          ),
        );
      });
      expect((await store.listOperations(d.id, 0, 10)).map((o) => o.undoGroup)).toEqual([1, 1, 1, 1, 1, 6, null]);
      await store.withDashboardLock(d.id, async (tx) => {
        expect((await tx.undoStep('me', 1, [])).map((o) => o.version)).toEqual([5, 2, 1]);
        expect((await tx.undoStep('me', 1, [5])).map((o) => o.version)).toEqual([2, 1]);
        expect((await tx.undoStep('me', 6, [])).map((o) => o.version)).toEqual([6]);
        expect(await tx.undoStep('nobody', 1, [])).toEqual([]);
      });
    });

    it('checkpoints and the audit log', async () => {
      const user = await newUser();
      const d = await newDashboard(user.id);
      const cp = await store.insertCheckpoint({
        id: randomUUID(),
        dashboardId: d.id,
        name: 'v0',
        version: 0,
        createdBy: user.id,
        createdAt: new Date(),
      });
      expect(await store.getCheckpoint(cp.id)).toEqual(cp);
      expect(await store.listCheckpoints(d.id)).toEqual([cp]);
      await store.insertAudit({
        at: new Date(),
        dashboardId: d.id,
        userId: user.id,
        action: 'a1',
        details: { x: [1] },
        ip: '::1',
      });
      await store.insertAudit({
        at: new Date(),
        dashboardId: d.id,
        userId: null,
        action: 'a2',
        details: null,
        ip: null,
      });
      const log = await store.listAudit(d.id, 10);
      expect(log.map((e) => e.action)).toEqual(['a2', 'a1']);
      expect(log[1]).toMatchObject({ userId: user.id, details: { x: [1] }, ip: '::1' });
      expect(await store.listAudit(d.id, 1)).toHaveLength(1);
    });
  });
}
