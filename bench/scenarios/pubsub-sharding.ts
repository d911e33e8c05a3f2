/**
 * (issue #17) What a Redis Cluster with sharded pub/sub buys. Three "instances" (the app's own
 * EventBus adapters, each subscribed to the 100 dashboards it holds rooms for; 300 in all)
 * and one publisher sending the same messages, spread evenly over the 300 dashboards, in
 * three set-ups in one run:
 * - single: today's one redis-server, classic PUBLISH/SUBSCRIBE (the baseline);
 * - sharded: a 3-master cluster, the app's sharded bus (SPUBLISH/SSUBSCRIBE);
 * - classic on a cluster: the same cluster with plain PUBLISH/SUBSCRIBE (raw ioredis), to show
 *   the broadcast a cluster does for it (every node relays every message over the cluster bus).
 * Figures: messages received per instance (each should get only its own dashboards' third, in
 * every set-up: channels are per dashboard), Redis CPU per node and per message, and cluster-bus
 * relays. Private servers on free ports (never the shared Redis); bounded by message count.
 */
import { Cluster, Redis } from 'ioredis';
import { createRedisEventBus } from '../../api/src/adapters/redis-event-bus.js';
import type { EventBus } from '../../api/src/ports/event-bus.js';
import { startRedisServer } from '../../api/test/helpers/redis-server.js';
import { startRedisCluster, HAS_REDIS_CLUSTER } from '../../api/test/helpers/redis-cluster.js';
import { round } from '../lib.js';
import { ratioOf, withoutFigure, type BenchContext } from '../harness.js';

const DASHBOARDS = 300;
const INSTANCES = 3;

interface NodeStats {
  cpu: number;
  commands: number;
  relays: number;
}

async function nodeStats(port: number): Promise<NodeStats> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  try {
    const info = await redis.info();
    const num = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    let relays = 0;
    if (/cluster_enabled:1/.test(info)) {
      const cluster = String(await redis.call('CLUSTER', 'INFO'));
      relays = Number(/cluster_stats_messages_publish_sent:(\d+)/.exec(cluster)?.[1] ?? 0);
    }
    return { cpu: num('used_cpu_sys') + num('used_cpu_user'), commands: num('total_commands_processed'), relays };
  } finally {
    redis.disconnect();
  }
}

interface RunResult {
  perInstance: number[];
  nodes: Array<{ port: number; cpuS: number; commands: number; relays: number }>;
}

/** Subscribes, publishes `messages` over all dashboards, waits for every delivery. */
async function run(
  ports: number[],
  messages: number,
  open: () => {
    subscribe(topic: string, onMessage: () => void): Promise<void>;
    publish(topic: string): Promise<void>;
    close(): Promise<void>;
  },
): Promise<RunResult> {
  const instances = Array.from({ length: INSTANCES }, () => open());
  const publisher = open();
  const perInstance = new Array<number>(INSTANCES).fill(0);
  let delivered = 0;
  let allIn!: () => void;
  const done = new Promise<void>((resolve) => (allIn = resolve));
  try {
    for (let d = 0; d < DASHBOARDS; d++) {
      const i = d % INSTANCES;
      await instances[i]!.subscribe(`dashboard:bench-${d}`, () => {
        perInstance[i]!++;
        if (++delivered === messages) allIn();
      });
    }
    const before = await Promise.all(ports.map(nodeStats));
    const batch: Promise<void>[] = [];
    for (let m = 0; m < messages; m++) {
      batch.push(publisher.publish(`dashboard:bench-${m % DASHBOARDS}`));
      if (batch.length === 200) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
    await done;
    const after = await Promise.all(ports.map(nodeStats));
    return {
      perInstance,
      nodes: ports.map((port, k) => ({
        port,
        cpuS: after[k]!.cpu - before[k]!.cpu,
        // Minus the INFO/CLUSTER INFO calls of the measurement itself.
        commands: after[k]!.commands - before[k]!.commands - 2,
        relays: after[k]!.relays - before[k]!.relays,
      })),
    };
  } finally {
    await Promise.all([...instances, publisher].map((x) => x.close()));
  }
}

const message = (topic: string) => ({ type: 'changed' as const, dashboardId: topic.slice('dashboard:'.length) });

function viaBus(url: string) {
  return () => {
    const bus: EventBus = createRedisEventBus({ url, prefix: 'bench:', onError: () => {} });
    return {
      subscribe: async (topic: string, onMessage: () => void) => {
        await bus.subscribe(topic as `dashboard:${string}`, onMessage);
      },
      publish: (topic: string) => bus.publish(topic as `dashboard:${string}`, message(topic)),
      close: () => bus.close(),
    };
  };
}

/** Plain PUBLISH/SUBSCRIBE through an ioredis Cluster: what a non-sharded bus would do on a cluster. */
function classicOnCluster(ports: number[]) {
  return () => {
    const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
    const pub = new Cluster(nodes);
    const sub = new Cluster(nodes);
    const handlers = new Map<string, () => void>();
    sub.on('message', (channel: string) => handlers.get(channel)?.());
    return {
      subscribe: async (topic: string, onMessage: () => void) => {
        handlers.set(`bench:${topic}`, onMessage);
        await sub.subscribe(`bench:${topic}`);
      },
      publish: async (topic: string) => {
        await pub.publish(`bench:${topic}`, JSON.stringify(message(topic)));
      },
      close: async () => {
        pub.disconnect();
        sub.disconnect();
      },
    };
  };
}

export async function pubsubSharding(ctx: BenchContext) {
  const { quick, emit } = ctx;
  const metric = 'Redis CPU per message on the busiest node, sharded cluster vs one Redis';
  const target = 'each instance receives only its dashboards (~1/3); each shard does ~1/3 of one Redis';
  if (!HAS_REDIS_CLUSTER) {
    emit(withoutFigure('pubsub-sharding', metric, 'µs/message', target, { skipped: 'needs redis-server on PATH' }));
    return;
  }
  const messages = quick ? 3_000 : 60_000;
  const single = await startRedisServer();
  const cluster = await startRedisCluster();
  try {
    const clusterPorts = cluster.nodes.map((n) => n.port);
    const one = await run([single.port], messages, viaBus(single.url));
    const sharded = await run(clusterPorts, messages, viaBus(cluster.url));
    const classic = await run(clusterPorts, messages, classicOnCluster(clusterPorts));

    const perMessageUs = (r: RunResult) => Math.max(...r.nodes.map((n) => (n.cpuS * 1e6) / messages));
    const share = (r: RunResult) => r.perInstance.map((n) => Math.round((n / messages) * 1000) / 1000);
    const singleUs = round(perMessageUs(one));
    const shardedUs = round(perMessageUs(sharded));
    const classicUs = round(perMessageUs(classic));
    const ratio = ratioOf(shardedUs, singleUs);
    emit({
      scenario: 'pubsub-sharding',
      metric,
      value: shardedUs,
      unit: 'µs/message',
      baseline: { name: 'one redis-server, classic PUBLISH/SUBSCRIBE (today)', value: singleUs },
      ratio,
      target,
      meets: ratio === null ? null : ratio <= 0.5 && share(sharded).every((s) => s <= 0.34),
      messages,
      dashboards: DASHBOARDS,
      instances: INSTANCES,
      receivedShareSingle: share(one),
      receivedShareSharded: share(sharded),
      receivedShareClassicOnCluster: share(classic),
      nodesSingle: one.nodes,
      nodesSharded: sharded.nodes,
      nodesClassicOnCluster: classic.nodes,
      classicOnClusterBusiestNodeUs: classicUs,
      classicOnClusterVsSharded: ratioOf(classicUs, shardedUs),
      clusterBusRelaysSharded: sharded.nodes.reduce((s, n) => s + n.relays, 0),
      clusterBusRelaysClassic: classic.nodes.reduce((s, n) => s + n.relays, 0),
    });
  } finally {
    await cluster.stop();
    await single.stop();
  }
}
