/**
 * PresenceStore adapters (rules PR1, PR4, SO1): the shared contract on the memory store, on
 * one Redis and on a Redis Cluster, plus the Redis key layout, sweeps racing upserts, and the
 * behaviour during an outage.
 *
 * One Redis: REDIS_URL when set; otherwise a private redis-server on a free port (started
 * here, stopped in afterAll), never the shared server on 6379. A cluster: a private 3-master
 * cluster (api/test/helpers/redis-cluster.ts), stopped in afterAll. Without a redis-server
 * binary those blocks are skipped visibly. Every Redis test gets its own key prefix and sweeps
 * its entries away afterwards, so a shared Redis is left as it was found.
 *
 * Races are driven, not hoped for: ioredis reports each command it writes and each reply it
 * gets on the `ioredis:command` diagnostics channel, before the code that sent it continues,
 * so a test can write "the other instance's" command at an exact step of a sweep.
 */
import { randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { createMemoryPresenceStore } from '../src/adapters/memory-presence-store.js';
import { closeRedisClient, createRedisClient, isClusterUrl, type RedisClient } from '../src/adapters/redis-client.js';
import { createRedisPresenceStore } from '../src/adapters/redis-presence-store.js';
import type { PresenceEntry, PresenceStore } from '../src/ports/presence-store.js';
import { registerPresenceStoreContract } from './contracts/presence-store-contract.js';
import { HAS_REDIS_CLUSTER, startRedisCluster, type RedisClusterHandle } from './helpers/redis-cluster.js';
import { findRedisServerBinary, startRedisServer, type RedisServerHandle } from './helpers/redis-server.js';
import { waitFor } from './helpers/wait.js';
import { describeWhen, NEEDS_REDIS_BINARY } from './helpers/skip.js';

const T0 = 1_700_000_000_000;
const TTL = 30_000;
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

/** The documented key layout (see the header of redis-presence-store.ts). */
const keysOf = (prefix: string, dashboardId: string) => ({
  hash: `${prefix}{d:${dashboardId}}:presence`,
  expiry: `${prefix}{d:${dashboardId}}:presence:expiry`,
  index: `${prefix}presence:expiry`,
});

/** Removes every entry under the store's prefix (the hashes and the expiry sets vanish when empty). */
async function sweepAll(store: PresenceStore): Promise<void> {
  await store.sweep(Number.MAX_VALUE).catch(() => {});
}

/** A plain client on the same Redis (a Cluster client for a cluster URL), for looking at keys. */
function rawClient(url: string): RedisClient {
  return createRedisClient(url, { node: { maxRetriesPerRequest: 1 } });
}

/** What ioredis publishes on `tracing:ioredis:command:*` (args as it shows them; scripts in full). */
interface TracedCommand {
  command: string;
  args: string[];
  result?: unknown;
}

/**
 * Calls `action` synchronously the first time a command matching `match` is written
 * (`start`) or answered (`asyncStart`, before its sender continues). Returns the unsubscribe.
 */
function onCommand(
  phase: 'start' | 'asyncStart',
  match: (command: TracedCommand) => boolean,
  action: (command: TracedCommand) => void,
): () => void {
  const channel = diagnostics.channel(`tracing:ioredis:command:${phase}`);
  let fired = false;
  const listener = (message: unknown) => {
    const command = message as TracedCommand;
    if (fired || !match(command)) return;
    fired = true;
    action(command);
  };
  channel.subscribe(listener);
  return () => channel.unsubscribe(listener);
}

/** A script (EVALSHA, or EVAL after NOSCRIPT) whose first key is `key`. */
const scriptOn = (key: string) => (c: TracedCommand) =>
  (c.command === 'evalsha' || c.command === 'eval') && c.args[2] === key;

/** The entry as the store writes it: its fields, `expiresAt` first. */
const stored = ({ expiresAt, ...rest }: PresenceEntry) => JSON.stringify({ expiresAt, ...rest });

/**
 * Everything every Redis backend must do; `url()` is read once the backend started (in
 * beforeAll). Cluster-only checks (slots) run when the URL names a cluster.
 */
function registerRedisPresenceSuite(name: string, url: () => string): void {
  registerPresenceStoreContract(name, async () => {
    const prefix = nextPrefix();
    const store = createRedisPresenceStore({ url: url(), prefix });
    const store2 = createRedisPresenceStore({ url: url(), prefix });
    return {
      store,
      store2,
      async cleanup() {
        await sweepAll(store);
        await Promise.all([store.close(), store2.close()]);
      },
    };
  });

  describe(`redis presence store: ${name}`, () => {
    let raw: RedisClient;
    beforeAll(() => {
      raw = rawClient(url());
    });
    afterAll(async () => {
      await closeRedisClient(raw);
    });

    it('[PR1][SO1] uses the documented layout: per dashboard a hash and an expiry set in one slot, and a global hint index', async () => {
      const prefix = nextPrefix();
      const store = createRedisPresenceStore({ url: url(), prefix });
      try {
        const entry = sampleEntry({ clientId: 'a|b' });
        const { hash, expiry, index } = keysOf(prefix, entry.dashboardId);
        const member = `${entry.dashboardId}|a|b`;
        await store.upsert(entry);
        const json = await raw.hget(hash, 'a|b');
        expect(JSON.parse(json!)).toEqual(entry);
        expect(json!.startsWith(`{"expiresAt":${entry.expiresAt},`)).toBe(true);
        expect(await raw.zscore(expiry, 'a|b')).toBe(String(entry.expiresAt));
        expect(await raw.zscore(index, member)).toBe(String(entry.expiresAt));
        if (isClusterUrl(url())) {
          const slot = (key: string) => raw.cluster('KEYSLOT', key);
          expect(await slot(expiry)).toBe(await slot(hash));
        }

        await store.refresh([entry], T0 + 60_000);
        expect(await raw.zscore(expiry, 'a|b')).toBe(String(T0 + 60_000));
        expect(await raw.zscore(index, member)).toBe(String(T0 + 60_000));

        await store.remove(entry.dashboardId, entry.clientId, entry.sessionId);
        expect(await raw.exists(hash, expiry)).toBe(0);
        expect(await raw.exists(index)).toBe(0);
      } finally {
        await sweepAll(store);
        await store.close();
      }
    });

    it('sweep takes more entries than one round reads (500)', async () => {
      const prefix = nextPrefix();
      const store = createRedisPresenceStore({ url: url(), prefix });
      const store2 = createRedisPresenceStore({ url: url(), prefix });
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
        expect(await raw.exists(keysOf(prefix, dashboardId).index)).toBe(0);
      } finally {
        await sweepAll(store);
        await Promise.all([store.close(), store2.close()]);
      }
    });

    it('[PR1][PR4] a crashed instance (closed without removing anything) is swept by another after expiry', async () => {
      const prefix = nextPrefix();
      const crashed = createRedisPresenceStore({ url: url(), prefix });
      const survivor = createRedisPresenceStore({ url: url(), prefix });
      try {
        const boards = [randomUUID(), randomUUID(), randomUUID()];
        const entries = Array.from({ length: 9 }, (_, i) =>
          sampleEntry({ dashboardId: boards[i % 3], clientId: `c${i}` }),
        );
        await Promise.all(entries.map((e) => crashed.upsert(e)));
        await crashed.close();

        expect(await survivor.sweep(T0 + TTL - 1)).toEqual([]);
        const listed = await Promise.all(entries.map((e) => survivor.list(e.dashboardId, T0)));
        expect(listed.flat()).toEqual(expect.arrayContaining(entries));

        const swept = await survivor.sweep(T0 + TTL);
        const byId = (a: PresenceEntry, b: PresenceEntry) => a.clientId.localeCompare(b.clientId);
        expect(swept.sort(byId)).toEqual([...entries].sort(byId));
        expect(await survivor.sweep(T0 + TTL)).toEqual([]);
      } finally {
        await sweepAll(survivor);
        await Promise.all([crashed.close(), survivor.close()]);
      }
    });

    it('[PR4] a sweep racing a resubscription takes the old entry and leaves the fresh hint', async () => {
      // The upsert writes its hint, then its entry. Here its hint lands right after the sweep
      // read the due hints (the old one among them), its entry only after the sweep: the sweep
      // takes the old entry, and must then keep the hint, now fresh.
      const prefix = nextPrefix();
      const store = createRedisPresenceStore({ url: url(), prefix });
      const store2 = createRedisPresenceStore({ url: url(), prefix });
      const stops: Array<() => void> = [];
      try {
        const old = sampleEntry({ expiresAt: T0 - 1 });
        const fresh = { ...old, sessionId: randomUUID(), cursor: { x: 9, y: 9 }, expiresAt: T0 + TTL };
        const { hash, expiry, index } = keysOf(prefix, old.dashboardId);
        const member = `${old.dashboardId}|${old.clientId}`;
        await store.upsert(old);
        expect(await raw.zscore(index, member)).toBe(String(old.expiresAt)); // connected to every key's node

        let hintWritten: Promise<unknown> | null = null;
        let hintDrop: unknown = 'not run';
        stops.push(
          onCommand(
            'asyncStart',
            (c) => c.command === 'zrangebyscore' && c.args[0] === index,
            () => (hintWritten = raw.zadd(index, String(fresh.expiresAt), member)),
          ),
          onCommand(
            'asyncStart',
            (c) => scriptOn(index)(c) && 'result' in c,
            (c) => (hintDrop = c.result),
          ),
        );
        const swept = await store.sweep(T0);
        expect(hintWritten).not.toBeNull();
        await hintWritten;
        expect(swept).toEqual([old]);
        expect(hintDrop).toBe(0); // the sweep saw the fresh hint and kept it

        await raw
          .multi()
          .hset(hash, fresh.clientId, stored(fresh))
          .zadd(expiry, fresh.expiresAt, fresh.clientId)
          .exec();
        expect(await raw.zscore(index, member)).toBe(String(fresh.expiresAt));
        expect(await store2.list(old.dashboardId, T0)).toEqual([fresh]);
        // The fresh entry is still found when it expires in turn.
        expect(await store2.sweep(T0 + TTL - 1)).toEqual([]);
        expect(await store2.sweep(T0 + TTL)).toEqual([fresh]);
      } finally {
        for (const stop of stops) stop();
        await sweepAll(store);
        await Promise.all([store.close(), store2.close()]);
      }
    });

    it('[PR4] a sweep meeting a live entry moves its hint up to the entry, never back past a fresher hint', async () => {
      const prefix = nextPrefix();
      const store = createRedisPresenceStore({ url: url(), prefix });
      const stops: Array<() => void> = [];
      try {
        const entry = sampleEntry({ expiresAt: T0 + 10_000 });
        const { hash, index } = keysOf(prefix, entry.dashboardId);
        const member = `${entry.dashboardId}|${entry.clientId}`;
        await store.upsert(entry);

        // A hint left early (as a refresh cut short between entry and hint leaves one).
        await raw.zadd(index, String(T0 - 5), member);
        expect(await store.sweep(T0)).toEqual([]);
        expect(await raw.zscore(index, member)).toBe(String(entry.expiresAt));

        // Again, and this time a later refresh's hint lands while the sweep looks at the entry.
        await raw.zadd(index, String(T0 - 5), member);
        let hintWritten: Promise<unknown> | null = null;
        stops.push(
          onCommand('start', scriptOn(hash), () => (hintWritten = raw.zadd(index, String(T0 + 20_000), member))),
        );
        expect(await store.sweep(T0)).toEqual([]);
        expect(hintWritten).not.toBeNull();
        await hintWritten;
        expect(await raw.zscore(index, member)).toBe(String(T0 + 20_000));
        expect(await store.list(entry.dashboardId, T0)).toEqual([entry]);
      } finally {
        for (const stop of stops) stop();
        await sweepAll(store);
        await store.close();
      }
    });

    it('a hint without an entry (an upsert cut short) is dropped by the sweep, which returns nothing', async () => {
      const prefix = nextPrefix();
      const store = createRedisPresenceStore({ url: url(), prefix });
      try {
        const dashboardId = randomUUID();
        const { index } = keysOf(prefix, dashboardId);
        await raw.zadd(index, String(T0 - 1), `${dashboardId}|ghost`, String(T0 - 2), 'no-pipe-member');
        expect(await store.sweep(T0)).toEqual([]);
        expect(await raw.exists(index)).toBe(0);
      } finally {
        await store.close();
      }
    });

    it('close() twice is harmless and later calls reject', async () => {
      const store = createRedisPresenceStore({ url: url(), prefix: nextPrefix() });
      await store.list('d', T0); // connected
      await Promise.all([store.close(), store.close()]);
      await store.close();
      await expect(store.list('d', T0)).rejects.toThrow(/closed/);
    });

    it('close() right after creation (still connecting) resolves promptly', async () => {
      const store = createRedisPresenceStore({ url: url(), prefix: nextPrefix() });
      const started = Date.now();
      await store.close();
      expect(Date.now() - started).toBeLessThan(1500);
    });
  });
}

describeWhen(Boolean(externalRedisUrl || redisServerBinary), 'needs REDIS_URL or a redis-server binary on PATH')(
  'redis presence store (one server)',
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

    registerRedisPresenceSuite('redis', () => url);
  },
);

describeWhen(HAS_REDIS_CLUSTER, NEEDS_REDIS_BINARY)('redis presence store (private 3-master cluster)', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  registerRedisPresenceSuite('redis cluster', () => cluster.url);

  it('[PR4][SO1] entries of dashboards on three different masters are all swept, each once', async () => {
    const prefix = nextPrefix();
    // Dashboards whose keys live on three different masters.
    const byMaster = new Map<number, string>();
    while (byMaster.size < 3) {
      const id = randomUUID();
      const master = await cluster.masterOf(keysOf(prefix, id).hash);
      if (!byMaster.has(master)) byMaster.set(master, id);
    }
    const dashboards = [...byMaster.values()];
    const store = createRedisPresenceStore({ url: cluster.url, prefix });
    const store2 = createRedisPresenceStore({ url: cluster.url, prefix });
    try {
      const expired = dashboards.flatMap((dashboardId, d) =>
        Array.from({ length: 4 }, (_, i) => sampleEntry({ dashboardId, clientId: `c${d}-${i}`, expiresAt: T0 - i })),
      );
      const live = dashboards.map((dashboardId) => sampleEntry({ dashboardId, clientId: 'live', expiresAt: T0 + 1 }));
      await Promise.all([...expired, ...live].map((e, i) => (i % 2 ? store : store2).upsert(e)));

      const [first, second] = await Promise.all([store.sweep(T0), store2.sweep(T0)]);
      const ids = [...first, ...second].map((e) => `${e.dashboardId}|${e.clientId}`);
      expect(ids).toHaveLength(expired.length);
      expect(new Set(ids).size).toBe(expired.length);
      expect([...first, ...second]).toEqual(expect.arrayContaining(expired));
      for (const [d, dashboardId] of dashboards.entries()) {
        expect(await store.list(dashboardId, T0 - 100)).toEqual([live[d]]);
      }
    } finally {
      await sweepAll(store);
      await Promise.all([store.close(), store2.close()]);
    }
  });
});

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

describeWhen(HAS_REDIS_CLUSTER, NEEDS_REDIS_BINARY)('redis presence store: outage (private cluster)', () => {
  let cluster: RedisClusterHandle | null = null;
  afterEach(async () => {
    await cluster?.stop();
    cluster = null;
  });

  /** Every call of the store on `entry`, each bounded in time whatever Redis does. */
  const callsOn = (store: PresenceStore, entry: PresenceEntry) => [
    () => store.upsert(entry),
    () => store.list(entry.dashboardId, T0),
    () => store.remove(entry.dashboardId, entry.clientId, entry.sessionId),
    () => store.refresh([entry], T0 + 60_000),
    () => store.sweep(T0 + 60_000),
  ];

  it('[SO1] a master killed: calls on its dashboard fail fast, work again after the failover; close() does not hang', async () => {
    cluster = await startRedisCluster({ replicas: 1 });
    const errors: unknown[] = [];
    const prefix = nextPrefix();
    const store = createRedisPresenceStore({ url: cluster.url, prefix, onError: (e) => errors.push(e) });
    try {
      const entry = sampleEntry();
      await store.upsert(entry);
      await cluster.killMasterOf(keysOf(prefix, entry.dashboardId).hash);

      const calls = callsOn(store, entry);
      const started = Date.now();
      await expect(calls[0]!()).rejects.toThrow(); // the failover takes a node timeout (1 s) at least
      expect(Date.now() - started).toBeLessThan(1500);
      for (const call of calls.slice(1)) {
        const started = Date.now();
        await call().catch(() => {}); // fails, or already runs on the promoted replica
        expect(Date.now() - started).toBeLessThan(1500);
      }
      expect(errors.length).toBeGreaterThan(0); // reported, not thrown as unhandled 'error' events

      await cluster.waitForFailover();
      await waitFor(
        async () => {
          await store.upsert(entry);
          return true;
        },
        { timeout: 10_000, interval: 50, description: 'an upsert after the failover' },
      );
      expect(await store.list(entry.dashboardId, T0)).toEqual([entry]);
      expect((await store.sweep(entry.expiresAt)).filter((e) => e.dashboardId === entry.dashboardId)).toEqual([entry]);

      const closing = Date.now();
      await store.close();
      expect(Date.now() - closing).toBeLessThan(1500);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('[SO1] every master down: calls fail fast; close() resolves promptly', async () => {
    cluster = await startRedisCluster();
    const prefix = nextPrefix();
    const store = createRedisPresenceStore({ url: cluster.url, prefix, onError: () => {} });
    try {
      const entry = sampleEntry();
      await store.upsert(entry);
      // One key per master, so that each is killed once.
      const keys = new Map<number, string>();
      while (keys.size < 3) {
        const key = keysOf(prefix, randomUUID()).hash;
        keys.set(await cluster.masterOf(key), key);
      }
      for (const key of keys.values()) await cluster.killMasterOf(key);

      for (const call of callsOn(store, entry)) {
        const started = Date.now();
        await expect(call()).rejects.toThrow();
        expect(Date.now() - started).toBeLessThan(1500);
      }
      const started = Date.now();
      await store.close();
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await store.close();
    }
  }, 60_000);
});
