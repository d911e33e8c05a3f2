/**
 * The OperationLog's part of the Store contract (`./store-contract.ts`): clientId claims
 * (OP2), the commit transaction (OP1: locks, screens, one statement, all or nothing), reads of
 * ops and snapshots (SUB1), undo stacks and steps (UN1, UN2).
 */
import { randomUUID } from 'node:crypto';
import type { CommitScreen, CommitTx, OperationRow } from '../../src/ports/operation-log.js';
import { lockOne, newDashboard, newUser, op, writeOf, type StorePorts } from './store-fixtures.js';

/** Registers the op log's tests in the current describe; `ports` is filled before they run. */
export function registerOperationLogContract(ports: StorePorts) {
  const lock = <T>(dashboardId: string, fn: (tx: CommitTx) => Promise<T>, screen?: CommitScreen) =>
    lockOne(ports.log, dashboardId, fn, screen);

  it('[OP2] claimClientId: first user wins', async () => {
    const { log, accounts } = ports;
    const a = await newUser(accounts);
    const b = await newUser(accounts);
    const clientId = `c-${randomUUID()}`;
    expect(await log.claimClientId(clientId, a.id)).toBe(a.id);
    expect(await log.claimClientId(clientId, b.id)).toBe(a.id);
  });

  it('operations: insert in a locked commit, list, range, find, unique (client, seq)', async () => {
    const { log, accounts, dashboards } = ports;
    const user = await newUser(accounts);
    const d = await newDashboard(dashboards, user.id);
    await lock(d.id, async (tx) => {
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
    const head = await dashboards.getDashboard(d.id);
    expect([head?.version, head?.title, head?.document]).toEqual([
      2,
      'T2',
      { title: 'T2', widgets: { w1: 1 }, layout: [] },
    ]);
    const all = await log.listOperations(d.id, 0, 10);
    expect(all.map((o) => o.version)).toEqual([1, 2]);
    expect(all[0]!.op).toEqual(['widgets', 'w1', { i: 1 }]);
    expect(all[1]!.op).toBeNull();
    expect((await log.listOperations(d.id, 1, 10)).map((o) => o.version)).toEqual([2]);
    expect((await log.listOperationRange(d.id, 0, 1)).map((o) => o.version)).toEqual([1]);
    // Found by (clientId, seq): what the lock screens.
    const found = await lock(d.id, async (tx) => tx.committed, {
      userIds: [],
      keys: [
        { clientId: 'c1', seq: 2 },
        { clientId: 'c1', seq: 3 },
      ],
    });
    expect(found.map((o) => [o.seq, o.version])).toEqual([[2, 2]]);
    expect(await log.latestSnapshot(d.id, 1)).toEqual({
      version: 0,
      document: { title: 'T', widgets: {}, layout: [] },
    });
    expect((await log.latestSnapshot(d.id, 5))?.version).toBe(2);
    await expect(
      lock(d.id, async (tx) => tx.write(writeOf([op(d.id, 3, { authorId: user.id, seq: 1 })], 3))),
    ).rejects.toMatchObject({ code: '23505' });
    // The whole commit is one statement: the failed insert left the head where it was.
    expect((await dashboards.getDashboard(d.id))?.version).toBe(2);
  });

  it('[GC2] the lock screens authors and resubmissions in one go', async () => {
    const { accounts, dashboards } = ports;
    const owner = await newUser(accounts);
    const viewer = await newUser(accounts);
    const stranger = await newUser(accounts);
    const d = await newDashboard(dashboards, owner.id);
    await dashboards.addCollaborator(d.id, viewer.id, 'VIEWER', new Date());
    await lock(d.id, async (tx) =>
      tx.write(writeOf([op(d.id, 1, { authorId: owner.id }), op(d.id, 2, { authorId: owner.id })], 2)),
    );
    await lock(
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

  it('[GC2] a commit that waited for the lock screens what landed meanwhile', async () => {
    const { accounts, dashboards } = ports;
    const user = await newUser(accounts);
    const d = await newDashboard(dashboards, user.id);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const first = lock(d.id, async (tx) => {
      locked();
      await held;
      tx.write(writeOf([op(d.id, 1, { authorId: user.id, clientId: 'late', seq: 7 })], 1));
    });
    await isLocked;
    const second = lock(d.id, async (tx) => ({ version: tx.version, committed: tx.committed }), {
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

  it('[GC2] a commit group locks several dashboards, screens each, and writes them in one statement', async () => {
    const { log, accounts, dashboards } = ports;
    const user = await newUser(accounts);
    const [a, b, gone] = [
      await newDashboard(dashboards, user.id),
      await newDashboard(dashboards, user.id),
      await newDashboard(dashboards, user.id),
    ];
    await dashboards.softDeleteDashboard(gone.id, new Date());
    const unknown = randomUUID();
    // Text that must survive the trip through SQL arrays intact.
    const tricky = ['widgets', 'w', { i: { t: 'quote " backslash \\ {brace}, comma \u00e9 \u{1F600}', n: null } }];
    await lock(a.id, async (tx) =>
      tx.write(
        writeOf([op(a.id, 1, { authorId: user.id, clientId: 'same', seq: 1, kind: 'undo', undoState: 'redoable' })], 1),
      ),
    );
    const seen = await log.withDashboardLocks(
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
        return [...txs].map(([id, tx]) => [id, tx.version, tx.roles.get(user.id), tx.committed.map((o) => o.version)]);
      },
    );
    expect(seen.sort()).toEqual(
      [
        [a.id, 1, 'OWNER', [1]],
        [b.id, 0, 'OWNER', []],
      ].sort(),
    );
    const opsA = await log.listOperations(a.id, 0, 10);
    expect(opsA.map((o) => [o.version, o.undoState])).toEqual([
      [1, 'cleared'],
      [2, 'active'],
    ]);
    expect(opsA[1]!.op).toEqual(tricky);
    expect(await dashboards.getDashboard(b.id)).toMatchObject({
      version: 1,
      title: 'B',
      document: { widgets: { w: tricky } },
    });
    expect(await log.latestSnapshot(b.id, 1)).toEqual({
      version: 1,
      document: { title: 'B', widgets: { w: tricky }, layout: [] },
    });
    expect((await dashboards.getDashboard(a.id))?.version).toBe(2);

    // One failing write fails the group: neither dashboard moves.
    await expect(
      log.withDashboardLocks([{ dashboardId: a.id }, { dashboardId: b.id }], async (txs) => {
        txs.get(a.id)!.write(writeOf([op(a.id, 3, { authorId: user.id, clientId: 'x', seq: 1 })], 3));
        txs.get(b.id)!.write(writeOf([op(b.id, 2, { authorId: user.id, clientId: 'same', seq: 1 })], 2));
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect([(await dashboards.getDashboard(a.id))?.version, (await dashboards.getDashboard(b.id))?.version]).toEqual([
      2, 1,
    ]);
    expect((await log.listOperations(a.id, 0, 10)).some((o) => o.clientId === 'x')).toBe(false);
  });

  it('[GC2] commit groups over the same dashboards, requested in opposite orders, do not deadlock', async () => {
    const { log, accounts, dashboards } = ports;
    const user = await newUser(accounts);
    const ds = [
      await newDashboard(dashboards, user.id),
      await newDashboard(dashboards, user.id),
      await newDashboard(dashboards, user.id),
    ];
    const bump = (order: typeof ds) =>
      log.withDashboardLocks(
        order.map((d) => ({ dashboardId: d.id })),
        async (txs) => {
          for (const d of order) {
            const tx = txs.get(d.id)!;
            tx.write(writeOf([], tx.version + 1));
          }
        },
      );
    await Promise.all([1, 2, 3, 4].map((i) => bump(i % 2 ? ds : [...ds].reverse())));
    expect(await Promise.all(ds.map(async (d) => (await dashboards.getDashboard(d.id))?.version))).toEqual([4, 4, 4]);
  });

  it('[GC2] withDashboardLocks serialises commits to one dashboard', async () => {
    const { accounts, dashboards } = ports;
    const user = await newUser(accounts);
    const d = await newDashboard(dashboards, user.id);
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3, 4, 5].map(() =>
        lock(d.id, async (tx) => {
          const next = tx.version + 1;
          order.push(next);
          tx.write(writeOf([op(d.id, next, { authorId: user.id })], next));
        }),
      ),
    );
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect((await dashboards.getDashboard(d.id))?.version).toBe(5);
  });

  it('[UN3] undo stacks: stackTop with exclusions; a commit changes states and clears redo stacks', async () => {
    const { log, accounts, dashboards } = ports;
    const user = await newUser(accounts);
    const d = await newDashboard(dashboards, user.id);
    await lock(d.id, async (tx) => {
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
    await lock(d.id, async (tx) => {
      expect((await tx.stackTop('me', 'active', []))?.version).toBe(2);
      expect((await tx.stackTop('me', 'active', [2]))?.version).toBe(1);
      expect((await tx.stackTop('me', 'redoable', []))?.version).toBe(4);
    });
    await lock(d.id, async (tx) =>
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
    const states = new Map((await log.listOperations(d.id, 0, 10)).map((o) => [o.version, o.undoState]));
    expect([...states]).toEqual([
      [1, 'active'],
      [2, 'undone'],
      [3, 'redone'],
      [4, 'cleared'],
      [5, 'redoable'],
      [6, 'active'],
    ]);
    await lock(d.id, async (tx) => {
      expect((await tx.stackTop('me', 'active', []))?.version).toBe(6);
      expect(await tx.stackTop('me', 'redoable', [])).toBeNull();
      expect((await tx.stackTop('other', 'redoable', []))?.version).toBe(5);
    });
  });

  it('[UN2] undo steps: undoGroup is stored; undoStep lists the active ops of a step, newest first', async () => {
    const { log, accounts, dashboards } = ports;
    const user = await newUser(accounts);
    const d = await newDashboard(dashboards, user.id);
    const mine = (version: number, over: Partial<OperationRow> = {}) =>
      op(d.id, version, { authorId: user.id, clientId: 'me', seq: version, undoGroup: 1, ...over });
    await lock(d.id, async (tx) => {
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
    expect((await log.listOperations(d.id, 0, 10)).map((o) => o.undoGroup)).toEqual([1, 1, 1, 1, 1, 6, null]);
    await lock(d.id, async (tx) => {
      expect((await tx.undoStep('me', 1, [])).map((o) => o.version)).toEqual([5, 2, 1]);
      expect((await tx.undoStep('me', 1, [5])).map((o) => o.version)).toEqual([2, 1]);
      expect((await tx.undoStep('me', 6, [])).map((o) => o.version)).toEqual([6]);
      expect(await tx.undoStep('nobody', 1, [])).toEqual([]);
    });
  });
}
