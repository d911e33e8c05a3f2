/**
 * The Redis EventBus: fan-out between instances over Redis pub/sub, through
 * graphql-redis-subscriptions' RedisPubSub on two ioredis clients (a subscribed connection
 * cannot publish).
 *
 * - One channel per topic: `<prefix><topic>`, e.g. `dash:dashboard:42`. The prefix lets
 *   several deployments share one Redis.
 * - JSON on the wire. A delivery is one deep-frozen object shared by this instance's handlers
 *   of that topic (parsed once, frozen so no handler can change what another sees); the memory
 *   bus behaves the same.
 * - Redis is a hint (rule SUB2). `publish()` never waits for an outage to end: it rejects
 *   within about `publishTimeoutMs` (1 s by default) when Redis is unreachable, and the
 *   message is dropped, never queued for later. Callers log and move on; receivers catch up
 *   from the database after `onReconnect`.
 * - `subscribe()` resolves only after Redis confirmed the SUBSCRIBE. During an outage it
 *   waits for the reconnect (the command is queued). A caller that gives up meanwhile should
 *   keep the promise and call the unsubscribe function it eventually yields.
 * - `isUp()` is the subscriber connection's state. After that connection is lost and comes
 *   back, ioredis re-sends SUBSCRIBE for every channel (`autoResubscribe`); `isUp()` turns
 *   true again and the `onReconnect` callbacks run only once Redis has confirmed those, so a
 *   receiver that re-checks the database from a callback cannot miss a later message.
 *
 * Nothing connects until `createRedisEventBus()` is called.
 */
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis, type RedisOptions } from 'ioredis';
import type { EventBus, Topic, TopicMessage } from '../ports/event-bus.js';
import { closeRedisClient, isClusterUrl, within } from './redis-client.js';
import { parseBusMessage } from './bus-message.js';
import { createShardedEventBus } from './redis-sharded-event-bus.js';
import type { RedisEventBusOptions } from './redis-bus-options.js';

export type { EventBusLogger, RedisEventBusErrorKind, RedisEventBusOptions } from './redis-bus-options.js';

/** Reconnect forever, backing off 100 ms, 200 ms, ... up to 2 s between attempts. */
export function redisRetryDelay(attempt: number): number {
  return Math.min(attempt * 100, 2000);
}

const INVALID_MESSAGE = Symbol('invalid message');
const DISCONNECT_TIMEOUT_MS = 100;

export function createRedisEventBus(options: RedisEventBusOptions): EventBus {
  if (isClusterUrl(options.url)) return createShardedEventBus(options);
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

  const common: RedisOptions = {
    retryStrategy: redisRetryDelay,
    // disconnect() gives a socket this long to close before destroying it (closeRedisClient
    // waits that out).
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
  };
  // The publisher never queues: while it is not connected a publish fails at once (or after
  // waiting at most publishTimeoutMs for a connection attempt already under way), an
  // unanswered one times out (commandTimeout), and nothing in flight when the connection
  // drops is re-sent later (a stale hint is worse than none).
  const publisher = new Redis(options.url, {
    ...common,
    connectionName: 'dash:bus:pub',
    enableOfflineQueue: false,
    commandTimeout: publishTimeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
  });
  // The subscriber queues SUBSCRIBE/UNSUBSCRIBE while disconnected and re-subscribes every
  // channel after a reconnect; its requests never give up (maxRetriesPerRequest: null).
  const subscriber = new Redis(options.url, {
    ...common,
    connectionName: 'dash:bus:sub',
    maxRetriesPerRequest: null,
    autoResubscribe: true,
  });

  const pubsub = new RedisPubSub({
    publisher,
    subscriber,
    // publish() hands over the JSON it made when called (a snapshot of the message then).
    serializer: (json: string) => json,
    // Parse once per message; a message that is not JSON is reported and dropped (by default
    // RedisPubSub would hand the raw string to the handlers).
    deserializer: (source, { channel }) => {
      try {
        return parseBusMessage(source.toString());
      } catch (error) {
        report(error, { kind: 'message', topic: channel.slice(prefix.length) });
        return INVALID_MESSAGE;
      }
    },
  });

  let closed = false;
  let closing: Promise<void> | null = null;
  /** Rejecters of subscribe() calls still waiting for Redis; close() fails them. */
  const pendingSubscribes = new Set<(reason: Error) => void>();

  // ---- connection state -------------------------------------------------------------
  let up = false;
  let everReady = false;
  let readyGeneration = 0; // counts 'ready' events, to ignore a stale PING reply
  const reconnectCallbacks = new Set<() => void>();

  const lastErrorMessage = { publisher: '', subscriber: '' };
  for (const [name, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    client.on('error', (error: Error) => {
      if (closed) return;
      // ioredis emits an error for every failed reconnect attempt: report each distinct one once.
      if (error.message === lastErrorMessage[name]) return;
      lastErrorMessage[name] = error.message;
      report(error, { kind: 'connection', client: name });
    });
    client.on('ready', () => {
      lastErrorMessage[name] = '';
    });
  }

  subscriber.on('close', () => {
    if (closed) return;
    if (up) logger?.warn({ client: 'subscriber' }, 'redis event bus: connection lost');
    up = false;
  });
  subscriber.on('end', () => {
    up = false;
  });
  subscriber.on('ready', () => {
    if (closed) return;
    const generation = ++readyGeneration;
    if (!everReady) {
      everReady = true;
      up = true;
      return;
    }
    // ioredis emits 'ready' (on the next tick) after writing the SUBSCRIBE commands of
    // autoResubscribe. Replies come in order, so once this PING is answered every channel
    // is subscribed again and messages published from now on will arrive.
    subscriber.ping().then(
      () => {
        if (closed || generation !== readyGeneration || subscriber.status !== 'ready') return;
        up = true;
        logger?.info({ client: 'subscriber' }, 'redis event bus: reconnected');
        for (const callback of [...reconnectCallbacks]) {
          try {
            callback();
          } catch (error) {
            report(error, { kind: 'handler' });
          }
        }
      },
      () => {
        // The connection dropped again before the reply; the next 'ready' tries again.
      },
    );
  });

  // Resolves when a connection attempt already under way succeeds (shared by all waiting
  // publishes, so an outage does not pile up listeners).
  let publisherReady: { promise: Promise<void>; resolve: () => void } | null = null;
  publisher.on('ready', () => {
    publisherReady?.resolve();
    publisherReady = null;
  });
  function whenPublisherReady(): Promise<void> {
    if (!publisherReady) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      publisherReady = { promise, resolve };
    }
    return publisherReady.promise;
  }

  const channelOf = (topic: Topic) => prefix + topic;

  return {
    async publish<T extends Topic>(topic: T, message: TopicMessage<T>): Promise<void> {
      if (closed) throw new Error('event bus is closed');
      // Serialise now: a publisher changing the object after this call changes nothing.
      const json = JSON.stringify(message);
      const status = publisher.status;
      if (status !== 'ready') {
        // Only wait when a connection attempt is in progress (startup, or a reconnect attempt
        // right now); while Redis is known to be down, fail at once.
        if (status !== 'connecting' && status !== 'connect') {
          throw new Error(`redis event bus: not connected (publisher ${status})`);
        }
        await within(
          whenPublisherReady(),
          publishTimeoutMs,
          `redis event bus: not connected within ${publishTimeoutMs} ms`,
        );
        if (closed) throw new Error('event bus is closed');
      }
      await pubsub.publish(channelOf(topic), json);
    },

    async subscribe<T extends Topic>(
      topic: T,
      handler: (message: TopicMessage<T>) => void,
    ): Promise<() => Promise<void>> {
      if (closed) throw new Error('event bus is closed');
      let active = true;
      const listener = (message: unknown) => {
        if (!active || message === INVALID_MESSAGE) return;
        try {
          handler(message as TopicMessage<T>);
        } catch (error) {
          report(error, { kind: 'handler', topic });
        }
      };
      // RedisPubSub resolves after Redis answered the SUBSCRIBE (or at once when this
      // instance already subscribed that channel). Ref-counting per channel is its job.
      let subId: number;
      try {
        subId = await new Promise<number>((resolve, reject) => {
          pendingSubscribes.add(reject);
          pubsub
            .subscribe(channelOf(topic), listener)
            .then(resolve, reject)
            .finally(() => pendingSubscribes.delete(reject));
        });
      } catch (error) {
        active = false;
        throw error;
      }
      if (closed) {
        active = false;
        return async () => {};
      }
      return async () => {
        if (!active) return;
        active = false;
        // After close() the connection is gone; RedisPubSub would send to a dead client.
        if (closed) return;
        // Sends UNSUBSCRIBE when this was the channel's last handler (not awaited by RedisPubSub).
        pubsub.unsubscribe(subId);
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

  async function closeClients(): Promise<void> {
    closed = true;
    up = false;
    reconnectCallbacks.clear();
    for (const reject of pendingSubscribes) reject(new Error('event bus is closed'));
    pendingSubscribes.clear();
    // QUIT on each client that is connected (answered after its pending replies: all that
    // pubsub.close() does, here with a deadline), else drop the socket and stop reconnecting;
    // resolves once nothing of either is left running.
    await Promise.all([publisher, subscriber].map((client) => closeRedisClient(client)));
  }
}
