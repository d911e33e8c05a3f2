/**
 * The PresenceStore contract (CONVENTIONS.md 3): every adapter passes these tests (rule PR1).
 *
 *   registerPresenceStoreContract('memory', async () => { ... return { store, store2, cleanup } });
 *
 * The factory runs before every test. `store2` shares the backend with `store`: another
 * instance for Redis (its own connection), the same object for memory. Every test uses fresh
 * dashboard ids, so tests may share a backend; a sweep may still meet entries other tests
 * left behind, so sweep results are filtered to the test's own dashboards.
 */
import { randomUUID } from 'node:crypto';
import type { PresenceEntry, PresenceStore } from '../../src/ports/presence-store.js';

export interface PresenceStoreFixture {
  store: PresenceStore;
  /** A second instance on the same backend (may be `store` itself). */
  store2: PresenceStore;
  /** Closes everything the factory opened (closing a store twice must be harmless). */
  cleanup(): Promise<void>;
}

/** A fixed clock: the stores take `now` as an argument. */
const T0 = 1_700_000_000_000;
const TTL = 30_000;

export function registerPresenceStoreContract(name: string, factory: () => Promise<PresenceStoreFixture>): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let fixture: PresenceStoreFixture;
    let store: PresenceStore;
    let store2: PresenceStore;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      store2 = fixture.store2;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    function entry(overrides: Partial<PresenceEntry> = {}): PresenceEntry {
      return {
        dashboardId: randomUUID(),
        clientId: `client-${randomUUID().slice(0, 8)}`,
        userId: 'user-1',
        sessionId: randomUUID(),
        cursor: null,
        selection: null,
        version: 3,
        status: 'ACTIVE',
        lastSeen: T0,
        expiresAt: T0 + TTL,
        ...overrides,
      };
    }

    const keyOf = (e: PresenceEntry) => ({ dashboardId: e.dashboardId, clientId: e.clientId, sessionId: e.sessionId });

    it('[PR1] upsert then list returns the entry', async () => {
      const a = entry({ cursor: { x: 1.5, y: 2 } });
      await store.upsert(a);
      expect(await store.list(a.dashboardId, T0)).toEqual([a]);
      // Another instance sees it too.
      expect(await store2.list(a.dashboardId, T0)).toEqual([a]);
    });

    it('list of a dashboard nobody is on is empty', async () => {
      expect(await store.list(randomUUID(), T0)).toEqual([]);
    });

    it('lists every client of a dashboard, ordered by clientId', async () => {
      const dashboardId = randomUUID();
      const c = entry({ dashboardId, clientId: 'c' });
      const a = entry({ dashboardId, clientId: 'a' });
      const b = entry({ dashboardId, clientId: 'b', userId: 'user-2' });
      await store.upsert(c);
      await store2.upsert(a);
      await store.upsert(b);
      expect(await store.list(dashboardId, T0)).toEqual([a, b, c]);
    });

    it('hands out copies: changing an entry written or read changes nothing stored', async () => {
      const a = entry({ cursor: { x: 1, y: 1 }, selection: [{ widgetId: 'w', anchor: 0, head: 1 }] });
      const expected = structuredClone(a);
      await store.upsert(a);
      (a.cursor as { x: number }).x = 99;
      a.status = 'IDLE';
      const [read] = await store.list(a.dashboardId, T0);
      expect(read).toEqual(expected);
      (read!.selection as unknown[]).push('extra');
      read!.version = 42;
      expect(await store.list(a.dashboardId, T0)).toEqual([expected]);
    });

    it('[PR1][PR3] a resubscription replaces the entry; a remove with the old sessionId keeps the new one', async () => {
      const old = entry();
      const replacement = entry({
        dashboardId: old.dashboardId,
        clientId: old.clientId,
        sessionId: randomUUID(),
        cursor: { x: 4, y: 5 },
        lastSeen: T0 + 10,
        expiresAt: T0 + 10 + TTL,
      });
      await store.upsert(old);
      await store2.upsert(replacement);
      expect(await store.list(old.dashboardId, T0)).toEqual([replacement]);

      expect(await store.remove(old.dashboardId, old.clientId, old.sessionId)).toBeNull();
      expect(await store2.list(old.dashboardId, T0)).toEqual([replacement]);

      expect(await store.remove(old.dashboardId, old.clientId, replacement.sessionId)).toEqual(replacement);
      expect(await store.list(old.dashboardId, T0)).toEqual([]);
    });

    it('[PR1] remove with the right sessionId returns the entry once', async () => {
      const a = entry();
      const b = entry({ dashboardId: a.dashboardId });
      await store.upsert(a);
      await store.upsert(b);
      expect(await store.remove(a.dashboardId, a.clientId, a.sessionId)).toEqual(a);
      expect(await store.remove(a.dashboardId, a.clientId, a.sessionId)).toBeNull();
      expect(await store2.remove(a.dashboardId, a.clientId, a.sessionId)).toBeNull();
      expect(await store.list(a.dashboardId, T0)).toEqual([b]);
    });

    it('[PR1] of concurrent removes on two instances, exactly one gets the entry', async () => {
      const dashboardId = randomUUID();
      const entries = Array.from({ length: 10 }, (_, i) => entry({ dashboardId, clientId: `c${i}` }));
      await Promise.all(entries.map((e) => store.upsert(e)));
      const results = await Promise.all(
        entries.flatMap((e) => [
          store.remove(dashboardId, e.clientId, e.sessionId),
          store2.remove(dashboardId, e.clientId, e.sessionId),
        ]),
      );
      const removed = results.filter((r): r is PresenceEntry => r !== null);
      expect(removed.map((r) => r.clientId).sort()).toEqual(entries.map((e) => e.clientId).sort());
      expect(await store.list(dashboardId, T0)).toEqual([]);
    });

    it('remove of an entry that never existed returns null', async () => {
      expect(await store.remove(randomUUID(), 'nobody', randomUUID())).toBeNull();
    });

    it('[PR1] list leaves out entries expired at now (expiresAt <= now)', async () => {
      const dashboardId = randomUUID();
      const live = entry({ dashboardId, clientId: 'live', expiresAt: T0 + 1 });
      const expired = entry({ dashboardId, clientId: 'expired', expiresAt: T0 - 1 });
      const boundary = entry({ dashboardId, clientId: 'boundary', expiresAt: T0 });
      await Promise.all([live, expired, boundary].map((e) => store.upsert(e)));
      expect(await store.list(dashboardId, T0)).toEqual([live]);
      expect(await store2.list(dashboardId, T0 - 1)).toEqual([boundary, live]);
      expect(await store.list(dashboardId, T0 + 1)).toEqual([]);
    });

    it('[PR1] refresh extends only entries whose sessionId matches', async () => {
      const dashboardId = randomUUID();
      const mine = entry({ dashboardId, clientId: 'mine' });
      const replaced = entry({ dashboardId, clientId: 'replaced' });
      const untouched = entry({ dashboardId, clientId: 'untouched' });
      await Promise.all([mine, replaced, untouched].map((e) => store.upsert(e)));

      const later = T0 + 3 * TTL;
      await store2.refresh([keyOf(mine), { ...keyOf(replaced), sessionId: randomUUID() }], later);

      // Only `mine` is still there once the others expired.
      expect(await store.list(dashboardId, T0 + TTL)).toEqual([{ ...mine, expiresAt: later }]);
      // Nothing else about the entries changed.
      expect(await store.list(dashboardId, T0)).toEqual([{ ...mine, expiresAt: later }, replaced, untouched]);
    });

    it('[PR1] refresh does not bring back a removed entry, nor create one', async () => {
      const a = entry();
      await store.upsert(a);
      await store.remove(a.dashboardId, a.clientId, a.sessionId);
      await store2.refresh([keyOf(a), keyOf(entry())], T0 + 3 * TTL);
      expect(await store.list(a.dashboardId, T0)).toEqual([]);
      expect(await store.sweep(T0 + 10 * TTL)).not.toContainEqual(
        expect.objectContaining({ dashboardId: a.dashboardId }),
      );
    });

    it('refresh never moves an expiry earlier; an empty refresh is a no-op', async () => {
      const a = entry({ expiresAt: T0 + 2 * TTL });
      await store.upsert(a);
      await store.refresh([keyOf(a)], T0 + TTL);
      await store.refresh([], T0 + TTL);
      expect(await store.list(a.dashboardId, T0)).toEqual([a]);
      const swept = await store.sweep(T0 + TTL);
      expect(swept.filter((e) => e.dashboardId === a.dashboardId)).toEqual([]);
    });

    it('[PR1][PR4] a refreshed entry is not swept at its old expiry', async () => {
      const a = entry();
      await store.upsert(a);
      await store.refresh([keyOf(a)], T0 + 2 * TTL);
      const swept = await store2.sweep(T0 + TTL);
      expect(swept.filter((e) => e.dashboardId === a.dashboardId)).toEqual([]);
      expect(await store.list(a.dashboardId, T0 + TTL)).toEqual([{ ...a, expiresAt: T0 + 2 * TTL }]);
    });

    it('[PR1][PR4] sweep removes and returns expired entries only, once', async () => {
      const dashboardId = randomUUID();
      const live = entry({ dashboardId, clientId: 'live', expiresAt: T0 + 1 });
      const expired = entry({ dashboardId, clientId: 'expired', expiresAt: T0 - 5 });
      const boundary = entry({ dashboardId, clientId: 'boundary', expiresAt: T0 });
      await Promise.all([live, expired, boundary].map((e) => store.upsert(e)));

      const swept = (await store.sweep(T0)).filter((e) => e.dashboardId === dashboardId);
      expect(swept.sort((x, y) => x.clientId.localeCompare(y.clientId))).toEqual([boundary, expired]);
      expect((await store2.sweep(T0)).filter((e) => e.dashboardId === dashboardId)).toEqual([]);
      // Swept entries are gone, not merely hidden: even an earlier `now` does not list them.
      expect(await store.list(dashboardId, T0 - 10)).toEqual([live]);
      // And a remove now finds nothing (the sweeper announces the leave, nobody else).
      expect(await store.remove(dashboardId, expired.clientId, expired.sessionId)).toBeNull();
    });

    it('[PR1][PR4] concurrent sweeps on two instances return each expired entry exactly once', async () => {
      const dashboards: string[] = [randomUUID(), randomUUID()];
      const entries = Array.from({ length: 20 }, (_, i) =>
        entry({ dashboardId: dashboards[i % 2], clientId: `c${i}`, expiresAt: T0 - i }),
      );
      const live = entry({ dashboardId: dashboards[0], clientId: 'live', expiresAt: T0 + TTL });
      await Promise.all([...entries, live].map((e) => store.upsert(e)));

      const [first, second] = await Promise.all([store.sweep(T0), store2.sweep(T0)]);
      const ours = [...first, ...second].filter((e) => dashboards.includes(e.dashboardId));
      const ids = ours.map((e) => `${e.dashboardId}|${e.clientId}`);
      expect(ids).toHaveLength(20);
      expect(new Set(ids).size).toBe(20);
      expect(ours).toEqual(expect.arrayContaining(entries));
      expect(await store.list(dashboards[0]!, T0 - 100)).toEqual([live]);
      expect(await store.list(dashboards[1]!, T0 - 100)).toEqual([]);
    });

    it('[PR1] an upsert after expiry (a resubscription) saves the entry from the sweep', async () => {
      const old = entry({ expiresAt: T0 - 1 });
      await store.upsert(old);
      const fresh = { ...old, sessionId: randomUUID(), expiresAt: T0 + TTL };
      await store2.upsert(fresh);
      expect((await store.sweep(T0)).filter((e) => e.dashboardId === old.dashboardId)).toEqual([]);
      expect(await store.list(old.dashboardId, T0)).toEqual([fresh]);
    });

    it('keeps the entries of two dashboards apart', async () => {
      const a = entry({ clientId: 'same' });
      const b = entry({ clientId: 'same', sessionId: a.sessionId, userId: 'user-2', expiresAt: T0 - 1 });
      await store.upsert(a);
      await store.upsert(b);
      expect(await store.list(a.dashboardId, T0)).toEqual([a]);
      expect(await store.list(b.dashboardId, T0 - 2)).toEqual([b]);

      expect(await store.remove(a.dashboardId, 'same', a.sessionId)).toEqual(a);
      expect(await store.list(b.dashboardId, T0 - 2)).toEqual([b]);

      await store.upsert(a);
      const swept = await store.sweep(T0);
      expect(swept.filter((e) => e.dashboardId === a.dashboardId || e.dashboardId === b.dashboardId)).toEqual([b]);
      expect(await store.list(a.dashboardId, T0)).toEqual([a]);
    });

    it('values round-trip: cursor objects, selection arrays, null, unicode, floats; also after a refresh', async () => {
      const dashboardId = randomUUID();
      const values: Array<Pick<PresenceEntry, 'cursor' | 'selection'>> = [
        { cursor: { x: 0.1 + 0.2, y: -1234.5678901234567 }, selection: null },
        { cursor: { widgetId: 'w-ü 🙂 "q" \\ |', offset: 7 }, selection: { widgetId: 'w', anchor: 1, head: 5 } },
        { cursor: null, selection: [] },
        { cursor: { x: 1e21, y: 5e-324 }, selection: [{ widgetId: 'a', anchor: 0, head: 0 }, [1, [2, []]], {}] },
        { cursor: { nested: { empty: {}, list: [null, true, false, 'x'] } }, selection: 'text' },
      ];
      const entries = values.map((v, i) =>
        entry({
          dashboardId,
          clientId: `c${i}|pipe`,
          userId: 'ユーザー',
          status: i % 2 ? 'IDLE' : 'ACTIVE',
          version: i,
          lastSeen: T0 + 0.5,
          ...v,
        }),
      );
      await Promise.all(entries.map((e) => store.upsert(e)));
      expect(await store2.list(dashboardId, T0)).toEqual(entries);

      const later = T0 + TTL + 0.25;
      await store.refresh(entries.map(keyOf), later);
      const refreshed = entries.map((e) => ({ ...e, expiresAt: later }));
      expect(await store2.list(dashboardId, T0)).toEqual(refreshed);

      expect(await store.remove(dashboardId, entries[2]!.clientId, entries[2]!.sessionId)).toEqual(refreshed[2]);
      const swept = (await store.sweep(later)).filter((e) => e.dashboardId === dashboardId);
      expect(swept.sort((x, y) => x.version - y.version)).toEqual(refreshed.filter((_, i) => i !== 2));
    });

    it('refuses a dashboardId containing "|" and a non-finite expiresAt', async () => {
      await expect(store.upsert(entry({ dashboardId: `${randomUUID()}|x` }))).rejects.toThrow(/\|/);
      const a = entry({ expiresAt: Number.POSITIVE_INFINITY });
      await expect(store.upsert(a)).rejects.toThrow(/expiresAt/);
      expect(await store.list(a.dashboardId, T0)).toEqual([]);
    });
  });
}
