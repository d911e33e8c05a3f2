/**
 * The Store contract (CONVENTIONS.md 3): every adapter passes these same tests, each aggregate
 * through its own port (api/src/ports/). `registerStoreContract(name, factory)` registers them
 * against one backend: the database's lifecycle, settings, accounts (AU1, RT1), dashboards and
 * members (AC1, RO1), the op log (./operation-log-contract.ts: OP1, OP2, SUB1, UN1, UN2),
 * checkpoints, the audit log, and series (./series-store-contract.ts: LD1, LD2, LD3). A new port brings its tests as one more part.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../../src/ports/store.js';
import type { TokenAction } from '../../src/domain/token-scope.js';
import { registerOperationLogContract } from './operation-log-contract.js';
import { registerSeriesStoreContract } from './series-store-contract.js';
import { newDashboard, newUser, type StorePorts } from './store-fixtures.js';

export function registerStoreContract(
  name: string,
  factory: () => Promise<{ store: Store; cleanup(): Promise<void> }>,
  options: { concurrentTransactions: boolean },
) {
  describe(`Store contract: ${name}`, () => {
    const ports = {} as StorePorts;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      const opened = await factory();
      cleanup = opened.cleanup;
      const { store } = opened;
      const all: StorePorts = {
        lifecycle: store,
        settings: store,
        accounts: store,
        dashboards: store,
        log: store,
        checkpoints: store,
        audit: store,
        series: store,
      };
      Object.assign(ports, all);
    });
    afterAll(() => cleanup());

    it('migrate is idempotent', async () => {
      const { lifecycle } = ports;
      await lifecycle.migrate();
      await lifecycle.migrate();
      await lifecycle.ping();
    });

    it('getOrCreateSetting: every caller agrees on the first value', async () => {
      const { settings } = ports;
      const key = `k-${randomUUID()}`;
      const values = await Promise.all([1, 2, 3, 4].map((n) => settings.getOrCreateSetting(key, () => `v${n}`)));
      expect(new Set(values).size).toBe(1);
      expect(await settings.getOrCreateSetting(key, () => 'other')).toBe(values[0]);
    });

    it('users: unique email, lookups by email and ids', async () => {
      const { accounts } = ports;
      const user = await newUser(accounts, 'Ada');
      expect(await accounts.createUser({ ...user, id: randomUUID() })).toBeNull();
      expect((await accounts.findUserByEmail(user.email))?.id).toBe(user.id);
      expect(await accounts.findUserByEmail('nobody@example.com')).toBeNull();
      const other = await newUser(accounts);
      const found = await accounts.findUsersByIds([user.id, other.id, randomUUID()]);
      expect(found.map((u) => u.id).sort()).toEqual([user.id, other.id].sort());
      expect(await accounts.findUsersByIds([])).toEqual([]);
      expect(found[0]!.createdAt).toBeInstanceOf(Date);
    });

    it('[RT1] refresh tokens: rotate, grace, reuse revokes the family, expiry', async () => {
      const { accounts } = ports;
      const user = await newUser(accounts);
      const t0 = new Date();
      await accounts.insertRefreshToken({
        id: randomUUID(),
        userId: user.id,
        familyId: randomUUID(),
        tokenHash: 'h1' + user.id,
        expiresAt: new Date(t0.getTime() + 60_000),
      });
      const succ = { id: randomUUID(), tokenHash: 'h2' + user.id, expiresAt: new Date(t0.getTime() + 60_000) };
      expect(await accounts.rotateRefreshToken('h1' + user.id, succ, t0, 10_000)).toMatchObject({
        status: 'rotated',
        userId: user.id,
      });
      expect(
        await accounts.rotateRefreshToken(
          'h1' + user.id,
          { ...succ, id: randomUUID() },
          new Date(t0.getTime() + 5000),
          10_000,
        ),
      ).toMatchObject({ status: 'grace' });
      expect(
        await accounts.rotateRefreshToken(
          'h1' + user.id,
          { ...succ, id: randomUUID() },
          new Date(t0.getTime() + 11_000),
          10_000,
        ),
      ).toEqual({ status: 'reused' });
      // The successor died with its family.
      expect(
        (
          await accounts.rotateRefreshToken(
            'h2' + user.id,
            { id: randomUUID(), tokenHash: 'h3' + user.id, expiresAt: succ.expiresAt },
            new Date(t0.getTime() + 12_000),
            10_000,
          )
        ).status,
      ).toBe('invalid');
      await accounts.insertRefreshToken({
        id: randomUUID(),
        userId: user.id,
        familyId: randomUUID(),
        tokenHash: 'old' + user.id,
        expiresAt: new Date(t0.getTime() - 1),
      });
      expect(
        (
          await accounts.rotateRefreshToken(
            'old' + user.id,
            { id: randomUUID(), tokenHash: 'x' + user.id, expiresAt: succ.expiresAt },
            t0,
            10_000,
          )
        ).status,
      ).toBe('invalid');
      expect(await accounts.revokeRefreshFamily('unknown', t0)).toBeNull();
    });

    it('API tokens: insert, list, use, revoke', async () => {
      const { accounts } = ports;
      const user = await newUser(accounts);
      const row = await accounts.insertApiToken({
        id: randomUUID(),
        userId: user.id,
        name: 'ci',
        tokenHash: 'api' + user.id,
        scope: null,
      });
      expect(row.lastUsedAt).toBeNull();
      expect(await accounts.findApiToken('api' + user.id)).toMatchObject({ id: row.id, userId: user.id, scope: null });
      await accounts.touchApiToken(row.id, new Date(), '192.0.2.7');
      expect((await accounts.findApiToken('api' + user.id))!.lastUsedIp).toBe('192.0.2.7');
      expect((await accounts.listApiTokens(user.id))[0]!.lastUsedAt).toBeInstanceOf(Date);
      // SC1: a scope is stored and read back as given.
      const scope = {
        dashboards: [randomUUID()],
        actions: ['READ', 'PUSH'] as TokenAction[],
        expiresAt: new Date(Date.now() + 3_600_000),
        allowFrom: ['10.0.0.0/8', '2001:db8::/32'],
      };
      const scoped = await accounts.insertApiToken({
        id: randomUUID(),
        userId: user.id,
        name: 's',
        tokenHash: 'sc' + user.id,
        scope,
      });
      expect(scoped.scope).toEqual(scope);
      expect((await accounts.findApiToken('sc' + user.id))!.scope).toEqual(scope);
      expect(await accounts.revokeApiToken(randomUUID(), row.id, new Date())).toBe(false);
      expect(await accounts.revokeApiToken(user.id, row.id, new Date())).toBe(true);
      expect(await accounts.findApiToken('api' + user.id)).toBeNull();
      expect((await accounts.listApiTokens(user.id)).map((t) => t.id)).toEqual([scoped.id]);
    });

    it('dashboards and collaborators: roles, listing, soft delete', async () => {
      const { accounts, dashboards, log } = ports;
      const owner = await newUser(accounts);
      const member = await newUser(accounts);
      const d = await newDashboard(dashboards, owner.id);
      expect(d.version).toBe(0);
      expect(await dashboards.getRole(d.id, owner.id)).toBe('OWNER');
      expect(await dashboards.getRole(d.id, member.id)).toBeNull();
      expect(await dashboards.findDashboardForUser(d.id, member.id)).toBeNull();
      expect(await dashboards.findDashboardForUser(d.id, owner.id)).toMatchObject({
        id: d.id,
        role: 'OWNER',
        version: 0,
      });
      expect((await dashboards.addCollaborator(d.id, member.id, 'VIEWER', new Date()))?.role).toBe('VIEWER');
      expect(await dashboards.addCollaborator(d.id, member.id, 'EDITOR', new Date())).toBeNull();
      expect((await dashboards.updateCollaboratorRole(d.id, member.id, 'EDITOR'))?.role).toBe('EDITOR');
      expect((await dashboards.listCollaborators(d.id)).map((c) => c.role)).toEqual(['OWNER', 'EDITOR']);
      expect((await dashboards.listDashboardsForUser(member.id)).map((x) => [x.id, x.role])).toEqual([
        [d.id, 'EDITOR'],
      ]);
      expect(await dashboards.removeCollaborator(d.id, member.id)).toBe(true);
      expect(await dashboards.removeCollaborator(d.id, member.id)).toBe(false);
      expect(await dashboards.softDeleteDashboard(d.id, new Date())).toBe(true);
      expect(await dashboards.softDeleteDashboard(d.id, new Date())).toBe(false);
      expect(await dashboards.getDashboard(d.id)).toBeNull();
      expect(await dashboards.findDashboardForUser(d.id, owner.id)).toBeNull();
      expect(await dashboards.getRole(d.id, owner.id)).toBeNull();
      expect(await dashboards.listDashboardsForUser(owner.id)).toEqual([]);
      // Nor can it be locked for a commit.
      expect(await log.withDashboardLocks([{ dashboardId: d.id }], async (txs) => txs.size)).toBe(0);
    });

    registerOperationLogContract(ports);
    registerSeriesStoreContract(ports, options);

    it('checkpoints and the audit log', async () => {
      const { accounts, dashboards, checkpoints, audit } = ports;
      const user = await newUser(accounts);
      const d = await newDashboard(dashboards, user.id);
      const cp = await checkpoints.insertCheckpoint({
        id: randomUUID(),
        dashboardId: d.id,
        name: 'v0',
        version: 0,
        createdBy: user.id,
        createdAt: new Date(),
      });
      expect(await checkpoints.getCheckpoint(cp.id)).toEqual(cp);
      expect(await checkpoints.listCheckpoints(d.id)).toEqual([cp]);
      await audit.insertAudit({
        at: new Date(),
        dashboardId: d.id,
        userId: user.id,
        action: 'a1',
        details: { x: [1] },
        ip: '::1',
      });
      await audit.insertAudit({
        at: new Date(),
        dashboardId: d.id,
        userId: null,
        action: 'a2',
        details: null,
        ip: null,
      });
      const entries = await audit.listAudit(d.id, 10);
      expect(entries.map((e) => e.action)).toEqual(['a2', 'a1']);
      expect(entries[1]).toMatchObject({ userId: user.id, details: { x: [1] }, ip: '::1' });
      expect(await audit.listAudit(d.id, 1)).toHaveLength(1);
    });
  });
}
