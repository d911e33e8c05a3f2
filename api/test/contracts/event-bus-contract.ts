/**
 * The EventBus contract (CONVENTIONS.md 3): every adapter passes these tests.
 *
 *   registerEventBusContract('memory', async () => { ... return { bus, cleanup } });
 *
 * The factory runs before every test. `bus2` is a second bus on the same backend (another
 * instance, for Redis); adapters with a single instance may leave it out or return `bus`.
 * When the factory passes `handlerErrors`, the array its buses' onError fills, the suite
 * also checks that a throwing handler is reported there.
 *
 * Tests wait on events, never on fixed sleeps. To show that something was NOT delivered,
 * they publish a later marker from the same publisher and wait for it: one publisher's
 * messages reach one bus in publish order, so the earlier message would have come first.
 */
import { randomUUID } from 'node:crypto';
import type { DashboardMessage, EventBus, Topic, UserMessage } from '../../src/ports/event-bus.js';
import { deferred, waitFor } from '../helpers/wait.js';

export interface EventBusFixture {
  bus: EventBus;
  /** A second instance on the same backend; defaults to `bus`. */
  bus2?: EventBus;
  /** Errors the buses reported through their onError option, if the factory collects them. */
  handlerErrors?: unknown[];
  /** Closes everything the factory opened (closing a bus twice must be harmless). */
  cleanup(): Promise<void>;
}

/** How long any single wait in the suite may take. */
const WAIT = { timeout: 5000 };

export function registerEventBusContract(name: string, factory: () => Promise<EventBusFixture>): void {
  describe(`EventBus contract: ${name}`, () => {
    let fixture: EventBusFixture;
    let bus: EventBus;
    let bus2: EventBus;
    let run: string;

    beforeEach(async () => {
      fixture = await factory();
      bus = fixture.bus;
      bus2 = fixture.bus2 ?? fixture.bus;
      run = randomUUID().slice(0, 8); // fresh topics per test: nothing leaks between tests
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    const dashboard = (id: string): `dashboard:${string}` => `dashboard:${run}-${id}`;
    const user = (id: string): `user:${string}` => `user:${run}-${id}`;

    function changed(topic: `dashboard:${string}`): DashboardMessage {
      return { type: 'changed', dashboardId: topic.slice('dashboard:'.length) };
    }

    /** Subscribes a handler that records what it receives. */
    async function record<T extends Topic>(on: EventBus, topic: T) {
      const received: unknown[] = [];
      const unsubscribe = await on.subscribe(topic, (message) => {
        received.push(message);
      });
      return { received, unsubscribe };
    }

    it('delivers to the subscribers of a topic and not to those of other topics', async () => {
      const a = dashboard('a');
      const b = dashboard('b');
      const onA = await record(bus, a);
      const onB = await record(bus, b);
      const onUser = await record(bus, user('a'));

      await bus.publish(a, changed(a));
      await waitFor(() => onA.received.length === 1, WAIT);
      // The marker on b comes after the message on a: once it is in, a's message would be too.
      await bus.publish(b, changed(b));
      await waitFor(() => onB.received.length === 1, WAIT);

      expect(onA.received).toEqual([changed(a)]);
      expect(onB.received).toEqual([changed(b)]);
      expect(onUser.received).toEqual([]);
    });

    it('round-trips typed payloads unchanged (op, presence, user messages)', async () => {
      const topic = dashboard('typed');
      const userTopic = user('typed');
      const op: DashboardMessage = {
        type: 'op',
        dashboardId: topic.slice('dashboard:'.length),
        version: 42,
        op: ['widgets', 'w1', 'text', { es: [3, 'héllo 👋'] }],
        clientId: 'client-1',
        seq: 7,
        authorId: 'user-1',
        createdAt: '2024-05-01T12:00:00.000Z',
        committedAt: 1714564800123,
      };
      const absorbed: DashboardMessage = { ...op, version: 43, seq: 8, op: null }; // OP1a
      const presence: DashboardMessage = {
        type: 'presence',
        dashboardId: op.dashboardId,
        presence: {
          clientId: 'client-1',
          userId: 'user-1',
          cursor: { widgetId: 'w1', offset: 3 },
          selection: { widgetId: 'w1', anchor: 1, head: 4 },
          version: 42,
          status: 'ACTIVE',
          lastSeen: '2024-05-01T12:00:01.000Z',
        },
      };
      const revoked: DashboardMessage = {
        type: 'revoked',
        dashboardId: op.dashboardId,
        userId: null,
        reason: 'DASHBOARD_DELETED',
      };
      const logout: UserMessage = { type: 'logged-out', userId: 'user-1' };

      const onDashboard = await record(bus2, topic);
      const onUser = await record(bus2, userTopic);
      for (const message of [op, absorbed, presence, revoked]) await bus.publish(topic, message);
      await bus.publish(userTopic, logout);

      await waitFor(() => onDashboard.received.length === 4 && onUser.received.length === 1, WAIT);
      expect(onDashboard.received).toEqual([op, absorbed, presence, revoked]);
      expect(onUser.received).toEqual([logout]);
    });

    it('keeps the order of one publisher’s messages on a topic', async () => {
      const topic = dashboard('order');
      const { received } = await record(bus2, topic);
      const count = 200;
      // Not awaited one by one: the order of the calls is what must survive.
      const publishes: Promise<void>[] = [];
      for (let version = 1; version <= count; version++) {
        publishes.push(bus.publish(topic, { type: 'checkpoint', dashboardId: 'd', checkpointId: String(version) }));
      }
      await Promise.all(publishes);
      await waitFor(() => received.length === count, WAIT);
      expect(received.map((m) => Number((m as { checkpointId: string }).checkpointId))).toEqual(
        Array.from({ length: count }, (_, i) => i + 1),
      );
    });

    it('stops delivering to a handler once its unsubscribe resolved', async () => {
      const shared = dashboard('shared');
      const alone = dashboard('alone');
      const first = await record(bus2, shared);
      const second = await record(bus2, shared);
      const only = await record(bus2, alone); // the channel's last handler: UNSUBSCRIBE for Redis

      await first.unsubscribe();
      await only.unsubscribe();
      await first.unsubscribe(); // idempotent

      await bus.publish(alone, changed(alone));
      await bus.publish(shared, changed(shared)); // the marker
      await waitFor(() => second.received.length === 1, WAIT);
      expect(first.received).toEqual([]);
      expect(only.received).toEqual([]);

      // Subscribing again to a topic after its last handler left works.
      const again = await record(bus2, alone);
      await bus.publish(alone, changed(alone));
      await waitFor(() => again.received.length === 1, WAIT);
      expect(only.received).toEqual([]);
    });

    it('delivers to every handler of a topic, each subscription separately', async () => {
      const topic = dashboard('many');
      const calls: string[] = [];
      const handler = () => calls.push('shared-fn');
      const unsubscribeA = await bus2.subscribe(topic, handler);
      await bus2.subscribe(topic, handler); // the same function twice: two subscriptions
      const other = await record(bus2, topic);

      await bus.publish(topic, changed(topic));
      await waitFor(() => other.received.length === 1, WAIT);
      expect(calls).toEqual(['shared-fn', 'shared-fn']);

      await unsubscribeA(); // removes one of the two only
      await bus.publish(topic, changed(topic));
      await waitFor(() => other.received.length === 2, WAIT);
      expect(calls).toEqual(['shared-fn', 'shared-fn', 'shared-fn']);
    });

    it('delivers across instances in both directions (bus -> bus2, bus2 -> bus)', async () => {
      const topic = dashboard('cross');
      const onBus = await record(bus, topic);
      const onBus2 = await record(bus2, topic);
      // No wait between subscribe and publish: a resolved subscribe is live.
      await bus.publish(topic, { type: 'checkpoint', dashboardId: 'd', checkpointId: 'from-1' });
      await bus2.publish(topic, { type: 'checkpoint', dashboardId: 'd', checkpointId: 'from-2' });
      await waitFor(() => onBus.received.length === 2 && onBus2.received.length === 2, WAIT);
      for (const { received } of [onBus, onBus2]) {
        expect(received).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ checkpointId: 'from-1' }),
            expect.objectContaining({ checkpointId: 'from-2' }),
          ]),
        );
      }
    });

    it('keeps delivering to other handlers when one throws, and reports the error', async () => {
      const topic = dashboard('throws');
      const failure = new Error('handler failure (expected by the test)');
      await bus2.subscribe(topic, () => {
        throw failure;
      });
      const good = await record(bus2, topic);
      await bus.publish(topic, changed(topic));
      await bus.publish(topic, changed(topic));
      await waitFor(() => good.received.length === 2, WAIT);
      if (fixture.handlerErrors) {
        await waitFor(() => fixture.handlerErrors!.filter((e) => e === failure).length === 2, WAIT);
      }
    });

    it('never runs a handler from inside publish()', async () => {
      const topic = dashboard('reentry');
      let insidePublish = false;
      const ran = deferred<boolean>();
      await bus.subscribe(topic, () => ran.resolve(insidePublish));
      insidePublish = true;
      const published = bus.publish(topic, changed(topic));
      insidePublish = false;
      await published;
      expect(await ran.promise).toBe(false);
    });

    it('hands out copies: later changes by the publisher are not seen, deliveries are frozen', async () => {
      const topic = dashboard('copies');
      const message = { type: 'checkpoint' as const, dashboardId: 'd', checkpointId: 'before' };
      const delivered = deferred<unknown>();
      await bus2.subscribe(topic, (m) => delivered.resolve(m));
      const published = bus.publish(topic, message);
      message.checkpointId = 'after';
      await published;
      const received = await delivered.promise;
      expect(received).toEqual({ type: 'checkpoint', dashboardId: 'd', checkpointId: 'before' });
      expect(received).not.toBe(message);
      expect(Object.isFrozen(received)).toBe(true);
    });

    it('rejects a message JSON cannot carry', async () => {
      const topic = dashboard('bad');
      const bad = { type: 'changed', dashboardId: 'd', big: 1n } as unknown as DashboardMessage;
      await expect(bus.publish(topic, bad)).rejects.toThrow();
    });

    it('is up while open; onReconnect returns a remover', async () => {
      await waitFor(() => bus.isUp() && bus2.isUp(), WAIT);
      const remove = bus.onReconnect(() => {});
      expect(typeof remove).toBe('function');
      remove();
      remove(); // harmless twice
    });

    it('close() stops delivery, fails later calls, and is idempotent', async () => {
      const topic = dashboard('close');
      const onBus2 = await record(bus2, topic);
      const onBus = await record(bus, topic);
      await bus.close();
      expect(bus.isUp()).toBe(false);
      await expect(bus.publish(topic, changed(topic))).rejects.toThrow(/closed/);
      await expect(bus.subscribe(topic, () => {})).rejects.toThrow(/closed/);
      await onBus.unsubscribe(); // after close: harmless
      await bus.close();
      if (bus2 !== bus) {
        // The other instance is unaffected.
        await bus2.publish(topic, changed(topic));
        await waitFor(() => onBus2.received.length === 1, WAIT);
      }
      expect(onBus.received).toEqual([]);
    });
  });
}
