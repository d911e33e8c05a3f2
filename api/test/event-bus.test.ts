import { jest } from '@jest/globals';
/**
 * EventBus adapters: the shared contract on the memory bus and on Redis, plus Redis fault
 * behaviour (SUB2: pub/sub is a hint; after a reconnect receivers re-check the database).
 *
 * Redis: REDIS_URL when set; otherwise a private redis-server on a free port (started here,
 * killed in afterAll), never the shared server on 6379. Without either, the Redis blocks are
 * not registered and a message says why (CI provides redis-server, so they run there).
 * Jest 30 fails a test on an unhandled rejection, which guards against ioredis command
 * promises nobody awaits (graphql-redis-subscriptions fires UNSUBSCRIBE without awaiting).
 */
import { randomUUID } from 'node:crypto';
import { createMemoryEventBus } from '../src/adapters/memory-event-bus.js';
import { createRedisEventBus } from '../src/adapters/redis-event-bus.js';
import type { DashboardMessage, EventBus } from '../src/ports/event-bus.js';
import { registerEventBusContract } from './contracts/event-bus-contract.js';
import { findRedisServerBinary, startRedisServer, type RedisServerHandle } from './helpers/redis-server.js';
import { deferred, waitFor, withTimeout } from './helpers/wait.js';
import { describeWhen, NEEDS_REDIS_BINARY } from './helpers/skip.js';

registerEventBusContract('memory', async () => {
  const handlerErrors: unknown[] = [];
  const bus = createMemoryEventBus({ onError: (error) => handlerErrors.push(error) });
  return { bus, handlerErrors, cleanup: () => bus.close() };
});

describe('memory event bus', () => {
  it('delivers to a handler that subscribed before the publish only', async () => {
    const bus = createMemoryEventBus();
    const early: unknown[] = [];
    const late: unknown[] = [];
    await bus.subscribe('dashboard:x', (m) => early.push(m));
    const published = bus.publish('dashboard:x', { type: 'changed', dashboardId: 'x' });
    await bus.subscribe('dashboard:x', (m) => late.push(m)); // after the publish call
    await published;
    await waitFor(() => early.length === 1);
    expect(late).toEqual([]);
    await bus.close();
  });

  it('defaults onError to console.error', async () => {
    const bus = createMemoryEventBus();
    const spy = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const after = deferred();
      await bus.subscribe('dashboard:y', () => {
        throw new Error('boom');
      });
      await bus.subscribe('dashboard:y', () => after.resolve());
      await bus.publish('dashboard:y', { type: 'changed', dashboardId: 'y' });
      await after.promise;
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
      await bus.close();
    }
  });
});

// ---- Redis -------------------------------------------------------------------------------

const externalRedisUrl = process.env.REDIS_URL;
const redisServerBinary = findRedisServerBinary();

/** A prefix per test file run, so a shared Redis (REDIS_URL) sees no cross-talk. */
const runPrefix = `test-${process.pid}-${randomUUID().slice(0, 8)}:`;

describeWhen(Boolean(externalRedisUrl || redisServerBinary), 'needs REDIS_URL or a redis-server binary on PATH')(
  'redis event bus',
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

    registerEventBusContract('redis', async () => {
      const handlerErrors: unknown[] = [];
      const options = {
        url,
        prefix: runPrefix,
        onError: (error: unknown, context: { kind: string }) => {
          if (context.kind === 'handler') handlerErrors.push(error);
        },
      };
      const bus = createRedisEventBus(options);
      const bus2 = createRedisEventBus(options);
      return {
        bus,
        bus2,
        handlerErrors,
        cleanup: async () => {
          await Promise.all([bus.close(), bus2.close()]);
        },
      };
    });

    it('publishes the message as it was when publish() was called, even before connecting', async () => {
      const receiver = createRedisEventBus({ url, prefix: runPrefix });
      const received = deferred<unknown>();
      await receiver.subscribe('dashboard:snap', (m) => received.resolve(m));
      const bus = createRedisEventBus({ url, prefix: runPrefix }); // its publisher is still connecting
      try {
        const message = { type: 'changed' as const, dashboardId: 'before' };
        const published = bus.publish('dashboard:snap', message);
        message.dashboardId = 'after';
        await published;
        expect(await received.promise).toEqual({ type: 'changed', dashboardId: 'before' });
      } finally {
        await Promise.all([bus.close(), receiver.close()]);
      }
    });

    it('uses one prefixed channel per topic', async () => {
      const bus = createRedisEventBus({ url, prefix: `${runPrefix}a:` });
      const other = createRedisEventBus({ url, prefix: `${runPrefix}b:` });
      try {
        const received: unknown[] = [];
        const leaked: unknown[] = [];
        await bus.subscribe('dashboard:p', (m) => received.push(m));
        await other.subscribe('dashboard:p', (m) => leaked.push(m));
        await bus.publish('dashboard:p', { type: 'changed', dashboardId: 'p' });
        await waitFor(() => received.length === 1);
        // Same topic, other prefix: another deployment, nothing crosses over. Redis had
        // handled that PUBLISH before this one, so a leaked copy would arrive before the marker.
        const marker = deferred();
        await other.subscribe('dashboard:m', () => marker.resolve());
        await other.publish('dashboard:m', { type: 'changed', dashboardId: 'm' });
        await marker.promise;
        expect(leaked).toEqual([]);
      } finally {
        await Promise.all([bus.close(), other.close()]);
      }
    });
  },
);

describeWhen(Boolean(redisServerBinary), NEEDS_REDIS_BINARY)('redis event bus: faults (private redis-server)', () => {
  let server: RedisServerHandle;
  const buses: EventBus[] = [];

  beforeEach(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
    await server.stop();
  });

  function open(): EventBus {
    const bus = createRedisEventBus({ url: server.url, prefix: runPrefix, onError: () => {} });
    buses.push(bus);
    return bus;
  }

  const changed = (id: string): DashboardMessage => ({ type: 'changed', dashboardId: id });

  /** Publishes until one publish succeeds (the publisher reconnects on its own schedule). */
  async function publishWhenConnected(bus: EventBus, message: DashboardMessage) {
    await waitFor(
      async () => {
        await bus.publish('dashboard:r', message);
        return true;
      },
      { timeout: 10_000, interval: 20, description: 'a publish to succeed' },
    );
  }

  it('[SUB2] after Redis restarts: isUp goes false then true, onReconnect fires once, delivery resumes', async () => {
    const bus = open();
    const publisher = open();
    let reconnects = 0;
    const reconnected = deferred();
    bus.onReconnect(() => {
      reconnects++;
      reconnected.resolve();
    });
    const received: DashboardMessage[] = [];
    await bus.subscribe('dashboard:r', (m) => received.push(m));
    await waitFor(() => bus.isUp(), { description: 'first connection' });
    expect(reconnects).toBe(0); // the first connect is not a reconnect

    await publisher.publish('dashboard:r', changed('before'));
    await waitFor(() => received.length === 1);

    await server.kill();
    await waitFor(() => !bus.isUp(), { description: 'isUp() false after SIGKILL' });

    // [SUB2] publish during the outage fails fast instead of hanging or queueing.
    const started = Date.now();
    await expect(publisher.publish('dashboard:r', changed('lost'))).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1500);

    // A subscribe made during the outage waits for Redis, then is live.
    const lateReceived: DashboardMessage[] = [];
    const lateSubscribe = bus.subscribe('dashboard:late', (m) => lateReceived.push(m));

    await server.restart();
    await withTimeout(reconnected.promise, 10_000, 'onReconnect');
    expect(bus.isUp()).toBe(true);
    expect(reconnects).toBe(1);

    // Resubscription is confirmed before onReconnect fires: a message published now arrives.
    await publishWhenConnected(publisher, changed('after'));
    await waitFor(() => received.some((m) => m.dashboardId === 'after'));
    expect(received.map((m) => m.dashboardId)).not.toContain('lost');

    await withTimeout(lateSubscribe, 5000, 'subscribe made during the outage');
    await publisher.publish('dashboard:late', changed('late'));
    await waitFor(() => lateReceived.length === 1);
    expect(reconnects).toBe(1);
  });

  it('close() during an outage returns promptly and fails a subscribe still waiting for Redis', async () => {
    const bus = open();
    await bus.subscribe('dashboard:r', () => {});
    await waitFor(() => bus.isUp());
    await server.kill();
    await waitFor(() => !bus.isUp());
    // Two subscribes queued while Redis is down; expectations attached before close().
    const pending = expect(bus.subscribe('dashboard:other', () => {})).rejects.toThrow(/closed/);
    const pending2 = expect(bus.subscribe('dashboard:third', () => {})).rejects.toThrow(/closed/);
    await withTimeout(bus.close(), 3000, 'close() during an outage');
    await pending;
    await pending2;
  });

  it('unsubscribing during an outage takes effect after the reconnect', async () => {
    const bus = open();
    const publisher = open();
    const gone: unknown[] = [];
    const kept: unknown[] = [];
    const unsubscribe = await bus.subscribe('dashboard:gone', (m) => gone.push(m));
    await bus.subscribe('dashboard:r', (m) => kept.push(m));
    const reconnected = deferred();
    bus.onReconnect(() => reconnected.resolve());
    await waitFor(() => bus.isUp());

    await server.kill();
    await waitFor(() => !bus.isUp());
    await unsubscribe();
    await server.restart();
    await withTimeout(reconnected.promise, 10_000, 'onReconnect');

    await publishWhenConnected(publisher, changed('marker-before'));
    await publisher.publish('dashboard:gone', changed('gone'));
    await publisher.publish('dashboard:r', changed('marker'));
    await waitFor(() => kept.some((m) => (m as DashboardMessage).dashboardId === 'marker'));
    expect(gone).toEqual([]);
  });

  it('publish while Redis was never reachable rejects within the publish timeout', async () => {
    await server.kill(); // nothing listens on this port now
    const bus = createRedisEventBus({ url: server.url, prefix: runPrefix, onError: () => {} });
    buses.push(bus);
    const started = Date.now();
    await expect(bus.publish('dashboard:r', changed('x'))).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1500);
    expect(bus.isUp()).toBe(false);
  });
});
