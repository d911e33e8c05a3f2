/**
 * The Redis LeaseStore (rule LD5) on one Redis and on a Redis Cluster (SO1): acquire, renewal
 * by the holder, refusal to another, release, expiry, and a clean close. The leases end to
 * end (an instance stopping, another taking over) are in datasources.test.ts.
 *
 * One Redis: a private redis-server on a free port; a cluster: a private 3-master cluster
 * (api/test/helpers/redis-cluster.ts). Both started here and stopped in afterAll, never the
 * shared server.
 */
import { randomUUID } from 'node:crypto';
import { closeRedisClient, createRedisClient, type RedisClient } from '../src/adapters/redis-client.js';
import { createRedisLeaseStore } from '../src/adapters/redis-lease-store.js';
import { HAS_REDIS_CLUSTER, startRedisCluster, type RedisClusterHandle } from './helpers/redis-cluster.js';
import { startRedisServer, type RedisServerHandle } from './helpers/redis-server.js';
import { describeWhen, NEEDS_REDIS_BINARY } from './helpers/skip.js';
import { waitFor } from './helpers/wait.js';

const HOUR = 3_600_000;

/** The lease tests for one backend; `url()` is read once it started (in beforeAll). */
function registerLeaseTests(url: () => string, masterOf: ((key: string) => Promise<number>) | null): void {
  let raw: RedisClient;
  beforeAll(() => {
    raw = createRedisClient(url(), { node: { maxRetriesPerRequest: 1 } });
  });
  afterAll(async () => {
    await closeRedisClient(raw);
  });

  /** Lease names whose keys live on three different masters (on one server: any three). */
  async function spreadNames(prefix: string): Promise<string[]> {
    if (!masterOf) return ['a', 'b', 'c'].map((n) => `${n}-${randomUUID()}`);
    const byMaster = new Map<number, string>();
    while (byMaster.size < 3) {
      const name = randomUUID();
      const master = await masterOf(`${prefix}lease:${name}`);
      if (!byMaster.has(master)) byMaster.set(master, name);
    }
    return [...byMaster.values()];
  }

  it('[LD5] the holder acquires and renews, another is refused until the holder releases', async () => {
    const prefix = `test-${randomUUID().slice(0, 8)}:`;
    const one = createRedisLeaseStore({ url: url(), prefix });
    const two = createRedisLeaseStore({ url: url(), prefix });
    try {
      for (const name of await spreadNames(prefix)) {
        expect(await one.acquireLease(name, 'instance-1', HOUR)).toBe(true);
        expect(await raw.get(`${prefix}lease:${name}`)).toBe('instance-1');
        expect(await two.acquireLease(name, 'instance-2', HOUR)).toBe(false);

        // A renewal: the holder acquires again and pushes the expiry.
        await raw.pexpire(`${prefix}lease:${name}`, 60_000);
        expect(await one.acquireLease(name, 'instance-1', HOUR)).toBe(true);
        expect(await raw.pttl(`${prefix}lease:${name}`)).toBeGreaterThan(60_000);

        // Releasing someone else's lease does nothing; the holder's release frees it.
        await two.releaseLease(name, 'instance-2');
        expect(await two.acquireLease(name, 'instance-2', HOUR)).toBe(false);
        await one.releaseLease(name, 'instance-1');
        expect(await raw.exists(`${prefix}lease:${name}`)).toBe(0);
        expect(await two.acquireLease(name, 'instance-2', HOUR)).toBe(true);
        expect(await one.acquireLease(name, 'instance-1', HOUR)).toBe(false);
        await two.releaseLease(name, 'instance-2');
      }
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('[LD5] a lease its holder stops renewing is taken by another once it expired', async () => {
    const prefix = `test-${randomUUID().slice(0, 8)}:`;
    const one = createRedisLeaseStore({ url: url(), prefix });
    const two = createRedisLeaseStore({ url: url(), prefix });
    try {
      const name = randomUUID();
      expect(await one.acquireLease(name, 'instance-1', 200)).toBe(true);
      expect(await two.acquireLease(name, 'instance-2', HOUR)).toBe(false);
      // Redis's clock decides: poll until it let the key expire.
      await waitFor(() => two.acquireLease(name, 'instance-2', HOUR), {
        timeout: 5000,
        interval: 50,
        description: 'the expired lease taken by another',
      });
      expect(await one.acquireLease(name, 'instance-1', HOUR)).toBe(false);
      await two.releaseLease(name, 'instance-2');
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('close() is prompt, twice is harmless, and later calls reject', async () => {
    const store = createRedisLeaseStore({ url: url(), prefix: `test-${randomUUID().slice(0, 8)}:` });
    expect(await store.acquireLease(randomUUID(), 'instance-1', 1000)).toBe(true); // connected
    const started = Date.now();
    await Promise.all([store.close(), store.close()]);
    expect(Date.now() - started).toBeLessThan(1500);
    await expect(store.acquireLease(randomUUID(), 'instance-1', 1000)).rejects.toThrow(/closed/);
  });

  it('close() right after creation (still connecting) resolves promptly', async () => {
    const store = createRedisLeaseStore({ url: url(), prefix: `test-${randomUUID().slice(0, 8)}:` });
    const started = Date.now();
    await store.close();
    expect(Date.now() - started).toBeLessThan(1500);
  });
}

describeWhen(HAS_REDIS_CLUSTER, NEEDS_REDIS_BINARY)('redis lease store (private redis-server)', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  registerLeaseTests(() => server.url, null);
});

describeWhen(HAS_REDIS_CLUSTER, NEEDS_REDIS_BINARY)('redis lease store (private 3-master cluster)', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  registerLeaseTests(
    () => cluster.url,
    (key) => cluster.masterOf(key),
  );
});
