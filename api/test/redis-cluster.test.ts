/**
 * Issue #17 on a real Redis Cluster, started here (api/test/helpers/redis-cluster.ts: three
 * masters, each with a replica where a failover is tested), never the shared Redis:
 * - the EventBus contract on sharded pub/sub, and what sharding promises: a dashboard's
 *   channel is subscribed only by the instances that watch it, on the one shard that owns it;
 * - a failover (a master killed) and a moved slot: subscriptions come back by themselves and
 *   the receivers are told to re-check the database (SUB2);
 * - three app instances sharing the cluster: every acked op reaches every subscriber in
 *   order, with no gap, across a master killed in the middle of the edits.
 * The convergence fuzz on the cluster is in convergence.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRedisEventBus } from '../src/adapters/redis-event-bus.js';
import { shardedChannel } from '../src/adapters/redis-sharded-event-bus.js';
import type { EventBus } from '../src/ports/event-bus.js';
import { registerEventBusContract } from './contracts/event-bus-contract.js';
import { HAS_REDIS_CLUSTER, startRedisCluster, type RedisClusterHandle } from './helpers/redis-cluster.js';
import { createBackend, createDashboard, signUp, startApp, subscribeEvents, SUBMIT } from './helpers/harness.js';
import { describeWhen, NEEDS_REDIS_BINARY } from './helpers/skip.js';
import { deferred, waitFor, withTimeout } from './helpers/wait.js';

const describeCluster = describeWhen(HAS_REDIS_CLUSTER, NEEDS_REDIS_BINARY);
const prefix = `test-${randomUUID().slice(0, 8)}:`;

describeCluster('[SO1] sharded event bus on a 3-master cluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  registerEventBusContract('redis cluster (sharded pub/sub)', async () => {
    const handlerErrors: unknown[] = [];
    const options = {
      url: cluster.url,
      prefix,
      onError: (error: unknown, context: { kind: string }) => {
        if (context.kind === 'handler') handlerErrors.push(error);
      },
    };
    const bus = createRedisEventBus(options);
    const bus2 = createRedisEventBus(options);
    return { bus, bus2, handlerErrors, cleanup: () => Promise.all([bus.close(), bus2.close()]).then(() => {}) };
  });

  it('hash-tags each dashboard channel with its presence keys and spreads dashboards over the shards', async () => {
    expect(shardedChannel('dash:', 'dashboard:42')).toBe('dash:{d:42}:events');
    expect(shardedChannel('dash:', 'user:7')).toBe('dash:{user:7}');
    const owners = new Set<number>();
    for (let i = 0; i < 30; i++) owners.add(await cluster.masterOf(`{d:board-${i}}`));
    expect(owners.size).toBe(3);
  });

  it('[SO1] a channel is subscribed once per watching instance, on its own shard only, and dropped when nobody watches', async () => {
    const buses = [0, 1, 2].map(() => createRedisEventBus({ url: cluster.url, prefix, onError: () => {} }));
    try {
      const topic = `dashboard:${randomUUID()}` as const;
      const channel = shardedChannel(prefix, topic);
      const owner = await cluster.masterOf(channel);
      const others = cluster.nodes.map((n) => n.port).filter((p) => p !== owner);
      const subscribers = async (port: number) =>
        Number(((await cluster.command(port, 'PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]);

      // Two handlers on instance 0, one on instance 1, none on instance 2.
      const got: unknown[][] = [[], [], []];
      const stop0a = await buses[0]!.subscribe(topic, (m) => got[0]!.push(m));
      const stop0b = await buses[0]!.subscribe(topic, () => {});
      const stop1 = await buses[1]!.subscribe(topic, (m) => got[1]!.push(m));
      expect(await subscribers(owner)).toBe(2);
      for (const port of others) expect(await subscribers(port)).toBe(0);

      await buses[2]!.publish(topic, { type: 'changed', dashboardId: 'x' });
      await waitFor(() => got[0]!.length === 1 && got[1]!.length === 1);
      expect(got[2]).toEqual([]);

      await stop0a();
      expect(await subscribers(owner)).toBe(2); // instance 0 still has a handler
      await stop0b();
      await stop1();
      await waitFor(async () => (await subscribers(owner)) === 0, { description: 'SUNSUBSCRIBE reached the shard' });
    } finally {
      await Promise.all(buses.map((b) => b.close()));
    }
  });

  it('SPUBLISH reaches the shard only: a plain SUBSCRIBE to the same name hears nothing', async () => {
    const bus = createRedisEventBus({ url: cluster.url, prefix, onError: () => {} });
    const topic = `dashboard:${randomUUID()}` as const;
    const channel = shardedChannel(prefix, topic);
    const plain = cluster.nodes.map((n) => new Redis({ port: n.port, host: '127.0.0.1' }));
    const heard: string[] = [];
    try {
      for (const client of plain) {
        client.on('message', (c: string) => heard.push(c));
        await client.subscribe(channel);
      }
      const received = deferred<unknown>();
      await bus.subscribe(topic, (m) => received.resolve(m));
      await bus.publish(topic, { type: 'changed', dashboardId: 'y' });
      await received.promise;
      // A broadcast PUBLISH sent after the SPUBLISH reaches the plain subscribers; the SPUBLISH
      // before it never did.
      const marker = deferred();
      plain[0]!.on('message', (c: string) => c === `${channel}:marker` && marker.resolve());
      await plain[0]!.subscribe(`${channel}:marker`);
      await cluster.command(cluster.nodes[1]!.port, 'PUBLISH', `${channel}:marker`, 'm');
      await marker.promise;
      expect(heard.filter((c) => c === channel)).toEqual([]);
    } finally {
      await bus.close();
      for (const client of plain) client.disconnect();
    }
  });
});

describeCluster('[SO1][SUB2] failover and moved slots (3 masters, each with a replica)', () => {
  let cluster: RedisClusterHandle;
  const stopLater: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of stopLater) await stop();
  });
  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Publishes on `from` until `received` has grown past `before` (the bus may drop some: a hint). */
  async function publishUntilHeard(from: EventBus, topic: `dashboard:${string}`, received: unknown[], before: number) {
    for (let i = 0; received.length <= before; i++) {
      if (i > 200) throw new Error('nothing arrived after 200 publishes');
      await from.publish(topic, { type: 'changed', dashboardId: `n${i}` }).catch(() => {});
      await waitFor(() => received.length > before, { timeout: 100 }).catch(() => {});
    }
  }

  it('[SO1][SUB2] after the owning master is killed, a replica takes over, the subscription comes back and receivers are told to re-check', async () => {
    const sender = createRedisEventBus({ url: cluster.url, prefix, onError: () => {} });
    const receiver = createRedisEventBus({ url: cluster.url, prefix, onError: () => {} });
    try {
      const topic = `dashboard:${randomUUID()}` as const;
      const received: unknown[] = [];
      await receiver.subscribe(topic, (m) => received.push(m));
      const reconnected = deferred();
      receiver.onReconnect(() => reconnected.resolve());
      await sender.publish(topic, { type: 'changed', dashboardId: 'before' });
      await waitFor(() => received.length === 1);

      await cluster.killMasterOf(shardedChannel(prefix, topic));
      await cluster.waitForFailover();
      await withTimeout(reconnected.promise, 15_000, 'onReconnect after the failover');
      expect(receiver.isUp()).toBe(true);
      await publishUntilHeard(sender, topic, received, 1);
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  });

  it('after a channel’s slot moves to another master, messages arrive again', async () => {
    const sender = createRedisEventBus({ url: cluster.url, prefix, onError: () => {} });
    const receiver = createRedisEventBus({ url: cluster.url, prefix, onError: () => {} });
    try {
      const topic = `dashboard:${randomUUID()}` as const;
      const channel = shardedChannel(prefix, topic);
      const received: unknown[] = [];
      await receiver.subscribe(topic, (m) => received.push(m));
      await sender.publish(topic, { type: 'changed', dashboardId: 'before' });
      await waitFor(() => received.length === 1);
      const [, to] = await cluster.moveSlotOf(channel);
      expect(await cluster.masterOf(channel)).toBe(to);
      await publishUntilHeard(sender, topic, received, 1);
      // The new owner holds the subscription.
      await waitFor(
        async () =>
          Number(((await cluster.command(to, 'PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]) === 1,
        { description: 'subscribed on the new owner' },
      );
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  });

  it('[SO1][OP4] three app instances on the cluster: every acked op reaches every subscriber in order, across a master killed mid-edit', async () => {
    // A cluster of its own: the shard killed must still have its replica (an earlier test may
    // have used up the one of this dashboard's shard).
    const cluster = await startRedisCluster({ replicas: 1 });
    stopLater.push(() => cluster.stop());
    const backend = await createBackend({ redisUrl: cluster.url });
    const apps = [];
    for (let i = 0; i < 3; i++) apps.push(await startApp(backend, { config: { recheckIntervalMs: 1000 } }));
    const [a, b, c] = apps as [(typeof apps)[0], (typeof apps)[0], (typeof apps)[0]];
    const owner = await signUp(a, 'Owner');
    const id = await createDashboard(a, owner.token, 'cluster');
    const logs = [a, b, c].map((app, i) =>
      subscribeEvents(app.wsClient(owner.token), { d: id, c: `watch-${i}-${id}` }),
    );
    for (const log of logs) await log.until((events) => events.some((e) => e.__typename === 'SyncCompleted'));

    const clientId = `writer-${id}`;
    const acked: number[] = [];
    const TOTAL = 40;
    for (let seq = 1; seq <= TOTAL; seq++) {
      if (seq === 15) {
        // Kill the shard that carries this dashboard's events, mid-edit.
        await cluster.killMasterOf(shardedChannel('dash:', `dashboard:${id}`));
      }
      const writer = [a, b, c][seq % 3]!;
      const op = ['title', { r: true, i: `t${seq}` }];
      const result = await writer.gql(SUBMIT, { d: id, c: clientId, s: seq, b: acked.length, op }, owner.token);
      expect(result.errors).toBeUndefined();
      acked.push(result.data.submitOperation.version);
    }
    expect(acked).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    for (const log of logs) {
      const ops = await log.until(
        (events) => events.filter((e) => e.__typename === 'OperationApplied').length >= TOTAL,
        30_000,
      );
      const versions = ops.filter((e) => e.__typename === 'OperationApplied').map((e) => e.version);
      expect(versions).toEqual(acked);
      expect(log.errors).toEqual([]);
    }
    const head = await c.ok(`query($d: ID!) { dashboard(id: $d) { version document } }`, { d: id }, owner.token);
    expect(head.dashboard.version).toBe(TOTAL);
    expect(head.dashboard.document.title).toBe(`t${TOTAL}`);
    await cluster.waitForFailover();
    for (const log of logs) log.dispose();
  });
});
