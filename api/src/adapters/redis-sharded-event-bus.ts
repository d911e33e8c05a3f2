/**
 * The EventBus on a Redis Cluster (issue #17): sharded pub/sub (Redis 7 SPUBLISH / SSUBSCRIBE).
 *
 * Plain PUBLISH on a cluster is broadcast over the cluster bus to every node, and every
 * instance's subscriber connection hears every message of every dashboard. A sharded channel
 * lives on the one shard that owns its slot: a message goes to that shard only, and only
 * to the instances that subscribed to that channel (the ones with someone watching that
 * dashboard). The bus cost per instance then follows its own dashboards, not the deployment.
 *
 * - One channel per topic, hash-tagged so a dashboard's channel shares its slot with its
 *   presence keys: `<prefix>{d:<dashboardId>}:events`; other topics `<prefix>{<topic>}`.
 * - Subscriber: an ioredis Cluster with `shardedSubscribers`, which keeps one subscriber
 *   connection per master and moves channels when the topology changes. Handlers are
 *   ref-counted per channel here (one SSUBSCRIBE per channel per instance).
 * - Publisher: a second Cluster client; SPUBLISH is routed by the channel's slot and follows
 *   MOVED. `publish()` gives up after `publishTimeoutMs` and the message is dropped (SUB2:
 *   the bus is a hint), never queued for later.
 * - Failover, a moved slot or a lost subscriber connection can lose messages. Whenever the
 *   subscriber group rebuilt itself (`subscribersReady`), or a slot moved away under a
 *   channel (Redis sends SUNSUBSCRIBE), every channel is subscribed again and, once Redis
 *   confirmed that, the `onReconnect` callbacks run: receivers re-check the database (SUB2).
 */
import { Cluster } from 'ioredis';
import type { EventBus, Topic, TopicMessage } from '../ports/event-bus.js';
import { closeRedisClient, createRedisClient, within } from './redis-client.js';
import { parseBusMessage } from './bus-message.js';
import type { RedisEventBusOptions } from './redis-bus-options.js';

const RETRY = (attempt: number) => Math.min(attempt * 100, 2000);

/** The channel of a topic on a cluster (hash-tagged; see the header). */
export function shardedChannel(prefix: string, topic: Topic): string {
  return topic.startsWith('dashboard:')
    ? `${prefix}{d:${topic.slice('dashboard:'.length)}}:events`
    : `${prefix}{${topic}}`;
}

export function createShardedEventBus(options: RedisEventBusOptions): EventBus {
  const prefix = options.prefix ?? 'dash:';
  const publishTimeoutMs = options.publishTimeoutMs ?? 1000;
  const { logger } = options;
  const onError =
    options.onError ??
    ((error: unknown, context: object) => {
      if (logger) logger.error({ err: error, ...context }, 'redis event bus error');
      else console.error('redis event bus error', context, error);
    });
  const report: NonNullable<RedisEventBusOptions['onError']> = (error, context) => {
    try {
      onError(error, context);
    } catch {
      // a failing reporter must not break delivery
    }
  };

  const publisher = createRedisClient(options.url, {
    node: {
      connectionName: 'dash:bus:pub',
      retryStrategy: RETRY,
      enableOfflineQueue: false,
      commandTimeout: publishTimeoutMs,
      maxRetriesPerRequest: 0,
    },
  }) as Cluster;
  const subscriber = createRedisClient(options.url, {
    node: { connectionName: 'dash:bus:sub', retryStrategy: RETRY, maxRetriesPerRequest: null },
    // Notice a slot that moved without a MOVED reply to this client (a subscriber sends no
    // keyed commands after subscribing) within a second.
    cluster: { shardedSubscribers: true, slotsRefreshInterval: 1000 },
  }) as Cluster;

  let closed = false;
  let closing: Promise<void> | null = null;
  /** channel -> the handlers of this instance. */
  const handlers = new Map<string, Set<(message: unknown) => void>>();
  /** channel -> its SSUBSCRIBE (or the pending one), shared by concurrent subscribe() calls. */
  const subscribing = new Map<string, Promise<void>>();
  const reconnectCallbacks = new Set<() => void>();
  let up = false;
  let ready = false;
  let resubscribing: Promise<void> | null = null;
  // ioredis builds its shard subscribers after the first slot map arrives, and may replace one
  // then: an SSUBSCRIBE sent before that can be dropped with the connection it went to. Wait
  // for that first build (at most a few seconds; a cluster that is down fails the SSUBSCRIBE).
  let groupBuilt!: () => void;
  const firstBuild = new Promise<void>((resolve) => (groupBuilt = resolve));
  let resubscribeAgain = false;

  const lastErrorMessage = { publisher: '', subscriber: '' };
  for (const [name, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    const onClientError = (error: Error) => {
      if (closed || error.message === lastErrorMessage[name]) return;
      lastErrorMessage[name] = error.message;
      report(error, { kind: 'connection', client: name });
    };
    client.on('error', onClientError);
    client.on('node error', onClientError);
    client.on('ready', () => {
      lastErrorMessage[name] = '';
    });
  }

  subscriber.on('smessage', (channel: string, raw: string) => {
    const set = handlers.get(channel);
    if (!set || set.size === 0) return;
    let message: unknown;
    try {
      message = parseBusMessage(raw);
    } catch (error) {
      report(error, { kind: 'message', topic: channel });
      return;
    }
    for (const handler of [...set]) handler(message);
  });

  // A subscriber connection went away: messages may be lost until the group is rebuilt.
  const lost = () => {
    if (closed) return;
    if (up) logger?.warn({ client: 'subscriber' }, 'redis event bus: a shard subscriber was lost');
    up = false;
  };
  subscriber.on('-subscriber', lost);
  subscriber.on('-node', lost);
  subscriber.on('close', lost);
  // The group rebuilt itself (topology change, failover, lost connection): subscribe every
  // channel again and tell the receivers once Redis confirmed it.
  subscriber.on('subscribersReady', () => {
    groupBuilt();
    if (!closed && ready) void resubscribeAll();
  });
  subscriber.on('ready', () => {
    if (closed) return;
    if (!ready) {
      ready = true;
      up = true;
      return;
    }
    void resubscribeAll();
  });

  async function resubscribeAll(): Promise<void> {
    if (resubscribing) {
      resubscribeAgain = true;
      return resubscribing;
    }
    resubscribing = (async () => {
      do {
        resubscribeAgain = false;
        const channels = [...handlers.keys()];
        const results = await Promise.allSettled(channels.map((channel) => subscriber.ssubscribe(channel)));
        if (closed) return;
        if (results.some((r) => r.status === 'rejected')) {
          // Part of the cluster is still unreachable: the next subscribersReady tries again.
          continue;
        }
        const wasDown = !up;
        up = true;
        if (wasDown) logger?.info({ client: 'subscriber' }, 'redis event bus: reconnected');
        for (const callback of [...reconnectCallbacks]) {
          try {
            callback();
          } catch (error) {
            report(error, { kind: 'handler' });
          }
        }
      } while (resubscribeAgain && !closed);
    })().finally(() => {
      resubscribing = null;
    });
    return resubscribing;
  }

  let warm = false;
  let warmup: Promise<void> = Promise.resolve();

  async function publishNow(channel: string, json: string): Promise<void> {
    await within(
      (publisher as unknown as { spublish(c: string, m: string): Promise<number> }).spublish(channel, json),
      publishTimeoutMs,
      `redis event bus: SPUBLISH not answered within ${publishTimeoutMs} ms`,
    );
  }

  return {
    async publish<T extends Topic>(topic: T, message: TopicMessage<T>): Promise<void> {
      if (closed) throw new Error('event bus is closed');
      const json = JSON.stringify(message);
      if (publisher.status !== 'ready') {
        if (publisher.status !== 'connecting' && publisher.status !== 'connect' && publisher.status !== 'wait') {
          throw new Error(`redis event bus: not connected (publisher ${publisher.status})`);
        }
        await within(
          new Promise<void>((resolve) => publisher.once('ready', () => resolve())),
          publishTimeoutMs,
          `redis event bus: not connected within ${publishTimeoutMs} ms`,
        );
        if (closed) throw new Error('event bus is closed');
      }
      const channel = shardedChannel(prefix, topic);
      if (warm) return publishNow(channel, json);
      // Until one SPUBLISH went through, the node connection it goes to may still be opening and
      // ioredis retries a command that met it later than the ones behind it: one at a time until
      // then, so one publisher's messages keep their order from the first (after that they share
      // the node connection, which keeps the order of its commands).
      const turn = warmup.then(() => publishNow(channel, json));
      warmup = turn.then(
        () => {
          warm = true;
        },
        () => {},
      );
      return turn;
    },

    async subscribe<T extends Topic>(
      topic: T,
      handler: (message: TopicMessage<T>) => void,
    ): Promise<() => Promise<void>> {
      if (closed) throw new Error('event bus is closed');
      const channel = shardedChannel(prefix, topic);
      let active = true;
      const listener = (message: unknown) => {
        if (!active) return;
        try {
          handler(message as TopicMessage<T>);
        } catch (error) {
          report(error, { kind: 'handler', topic });
        }
      };
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
      }
      set.add(listener);
      let pending = subscribing.get(channel);
      if (!pending) {
        pending = within(firstBuild, 5000, 'shard subscribers not built').then(
          () => subscriber.ssubscribe(channel).then(() => undefined),
          () => subscriber.ssubscribe(channel).then(() => undefined),
        );
        subscribing.set(channel, pending);
        // A failed SSUBSCRIBE is forgotten, so the next subscribe() asks again.
        pending.catch(() => {
          if (subscribing.get(channel) === pending) subscribing.delete(channel);
        });
      }
      try {
        await pending;
      } catch (error) {
        active = false;
        removeListener(channel, listener);
        throw error;
      }
      if (closed) {
        active = false;
        return async () => {};
      }
      return async () => {
        if (!active) return;
        active = false;
        removeListener(channel, listener);
      };
    },

    onReconnect(callback: () => void): () => void {
      reconnectCallbacks.add(callback);
      return () => {
        reconnectCallbacks.delete(callback);
      };
    },

    isUp(): boolean {
      return up && !closed;
    },

    close(): Promise<void> {
      closing ??= closeClients();
      return closing;
    },
  };

  function removeListener(channel: string, listener: (message: unknown) => void) {
    const set = handlers.get(channel);
    if (!set) return;
    set.delete(listener);
    if (set.size > 0 || closed) return;
    handlers.delete(channel);
    subscribing.delete(channel);
    // The last handler of this instance left: stop receiving the channel.
    subscriber.sunsubscribe(channel).catch(() => {
      // Lost connection: the channel is gone with it (it is no longer in `handlers`, so no
      // resubscribe brings it back).
    });
  }

  async function closeClients(): Promise<void> {
    closed = true;
    up = false;
    reconnectCallbacks.clear();
    handlers.clear();
    subscribing.clear();
    await Promise.all([publisher, subscriber].map((client) => closeRedisClient(client)));
  }
}
