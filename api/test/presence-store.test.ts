/**
 * PresenceStore adapters (rule PR1): the shared contract on the memory store and on Redis,
 * plus the Redis key layout and its behaviour during an outage.
 *
 * Redis: REDIS_URL when set; otherwise a private redis-server on a free port (started here,
 * stopped in afterAll), never the shared server on 6379. Without either, the Redis blocks are
 * not registered and a message says why. Every Redis test gets its own key prefix and sweeps
 * its entries away afterwards, so a shared Redis is left as it was found.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createMemoryPresenceStore } from '../src/adapters/memory-presence-store.js';
import { createRedisPresenceStore } from '../src/adapters/redis-presence-store.js';
import type { PresenceEntry, PresenceStore } from '../src/ports/presence-store.js';
import { registerPresenceStoreContract } from './contracts/presence-store-contract.js';
import { findRedisServerBinary, startRedisServer, type RedisServerHandle } from './helpers/redis-server.js';
import { waitFor } from './helpers/wait.js';
import { describeWhen, NEEDS_REDIS_BINARY } from './helpers/skip.js';

const T0 = 1_700_000_000_000;

function sampleEntry(overrides: Partial<PresenceEntry> = {}): PresenceEntry {
  return {
    dashboardId: randomUUID(),
    clientId: 'client-1',
    userId: 'user-1',
    sessionId: randomUUID(),
    cursor: { x: 1, y: 2 },
    selection: [],
    version: 1,
    status: 'ACTIVE',
    lastSeen: T0,
    expiresAt: T0 + 30_000,
    ...overrides,
  };
}

registerPresenceStoreContract('memory', async () => {
  const store = createMemoryPresenceStore();
  return { store, store2: store, cleanup: () => store.close() };
});

describe('memory presence store', () => {
  it('rejects calls after close()', async () => {
    const store = createMemoryPresenceStore();
    await store.close();
    await store.close();
    await expect(store.list('d', T0)).rejects.toThrow(/closed/);
    await expect(store.upsert(sampleEntry())).rejects.toThrow(/closed/);
  });
});

// ---- Redis -------------------------------------------------------------------------------

const externalRedisUrl = process.env.REDIS_URL;
const redisServerBinary = findRedisServerBinary();

/** A prefix per test file run, so a shared Redis (REDIS_URL) sees no cross-talk. */
const runPrefix = `test-${process.pid}-${randomUUID().slice(0, 8)}:`;
let prefixCounter = 0;
/** A fresh prefix per test: sweeps of one test never meet another test's entries. */
const nextPrefix = () => `${runPrefix}${++prefixCounter}:`;

/** Removes every entry under the store's prefix (the hashes and the expiry set vanish when empty). */
async function sweepAll(store: PresenceStore): Promise<void> {
  await store.sweep(Number.MAX_VALUE).catch(() => {});
}

describeWhen(Boolean(externalRedisUrl || redisServerBinary), 'needs REDIS_URL or a redis-server binary on PATH')(
  'redis presence store',
  () => {
    let server: RedisServerHandle | null = null;
    let url = externalRedisUrl ?? '';

    beforeAll(async () => {
      if (!externalRedisUrl) {
        server = await startRedisServer();
        url = server.url;
      }
    });
    afterAll(async () => {
      await server?.stop();
    });

    registerPresenceStoreContract('redis', async () => {
      const prefix = nextPrefix();
      const store = createRedisPresenceStore({ url, prefix });
      const store2 = createRedisPresenceStore({ url, prefix });
      return {
        store,
        store2,
        async cleanup() {
          await sweepAll(store);
          await Promise.all([store.close(), store2.close()]);
        },
      };
    });

    it('[PR1] uses the documented layout: a hash per dashboard and one expiry sorted set', async () => {
      const prefix = nextPrefix();
      const store = createRedisPresenceStore({ url, prefix });
      const raw = new Redis(url);
      try {
        const entry = sampleEntry({ clientId: 'a|b' });
        await store.upsert(entry);
        const stored = await raw.hget(`${prefix}presence:${entry.dashboardId}`, 'a|b');
        expect(JSON.parse(stored!)).toEqual(entry);
        expect(stored!.startsWith(`{"expiresAt":${entry.expiresAt},`)).toBe(true);
        expect(await raw.zscore(`${prefix}presence:expiry`, `${entry.dashboardId}|a|b`)).toBe(String(entry.expiresAt));

        await store.refresh([entry], T0 + 60_000);
        expect(await raw.zscore(`${prefix}presence:expiry`, `${entry.dashboardId}|a|b`)).toBe(String(T0 + 60_000));

        await store.remove(entry.dashboardId, entry.clientId, entry.sessionId);
        expect(await raw.exists(`${prefix}presence:${entry.dashboardId}`, `${prefix}presence:expiry`)).toBe(0);
      } finally {
        await sweepAll(store);
        await store.close();
        raw.disconnect();
      }
    });

    it('sweep takes more entries than one round reads (500)', async () => {
      const prefix = nextPrefix();
      const store = createRedisPresenceStore({ url, prefix });
      const store2 = createRedisPresenceStore({ url, prefix });
      try {
        const dashboardId = randomUUID();
        const entries = Array.from({ length: 1203 }, (_, i) =>
          sampleEntry({ dashboardId, clientId: `c${i}`, expiresAt: T0 - i }),
        );
        await Promise.all(entries.map((e) => store.upsert(e)));
        const [first, second] = await Promise.all([store.sweep(T0), store2.sweep(T0)]);
        const ids = [...first, ...second].map((e) => e.clientId);
        expect(ids).toHaveLength(1203);
        expect(new Set(ids).size).toBe(1203);
        expect(await store.list(dashboardId, 0)).toEqual([]);
      } finally {
        await sweepAll(store);
        await Promise.all([store.close(), store2.close()]);
      }
    });

    it('close() twice is harmless and later calls reject', async () => {
      const store = createRedisPresenceStore({ url, prefix: nextPrefix() });
      await store.list('d', T0); // connected
      await Promise.all([store.close(), store.close()]);
      await store.close();
      await expect(store.list('d', T0)).rejects.toThrow(/closed/);
    });

    it('close() right after creation (still connecting) resolves', async () => {
      const store = createRedisPresenceStore({ url, prefix: nextPrefix() });
      await store.close();
    });
  },
);

describeWhen(Boolean(redisServerBinary), NEEDS_REDIS_BINARY)(
  'redis presence store: outage (private redis-server)',
  () => {
    let server: RedisServerHandle;

    beforeEach(async () => {
      server = await startRedisServer();
    });
    afterEach(async () => {
      await server.stop();
    });

    it('calls fail fast while Redis is down, work again after it is back; close() does not hang', async () => {
      const errors: unknown[] = [];
      const store = createRedisPresenceStore({ url: server.url, prefix: nextPrefix(), onError: (e) => errors.push(e) });
      try {
        const entry = sampleEntry();
        await store.upsert(entry);

        await server.kill();
        for (const call of [
          () => store.list(entry.dashboardId, T0),
          () => store.upsert(entry),
          () => store.remove(entry.dashboardId, entry.clientId, entry.sessionId),
          () => store.refresh([entry], T0 + 60_000),
          () => store.sweep(T0 + 60_000),
        ]) {
          const started = Date.now();
          await expect(call()).rejects.toThrow();
          expect(Date.now() - started).toBeLessThan(1500);
        }
        expect(errors.length).toBeGreaterThan(0); // reported, not thrown as unhandled 'error' events

        await server.restart(); // a fresh server: the entry is gone with the old one
        await waitFor(
          async () => {
            await store.upsert(entry);
            return true;
          },
          { timeout: 10_000, interval: 50, description: 'an upsert after the restart' },
        );
        expect(await store.list(entry.dashboardId, T0)).toEqual([entry]);

        await server.kill();
        const started = Date.now();
        await store.close();
        expect(Date.now() - started).toBeLessThan(1500);
      } finally {
        await store.close();
      }
    });

    it('close() while Redis was never reachable resolves promptly', async () => {
      await server.kill();
      const store = createRedisPresenceStore({ url: server.url, prefix: nextPrefix(), onError: () => {} });
      await expect(store.list('d', T0)).rejects.toThrow();
      const started = Date.now();
      await store.close();
      expect(Date.now() - started).toBeLessThan(1500);
    });
  },
);
