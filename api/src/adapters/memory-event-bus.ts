/**
 * The in-process EventBus: real, and all a single-process deployment needs (no Redis).
 *
 * Delivery semantics match the Redis bus, so code that works on a laptop works scaled out:
 * - Asynchronous: a publish is delivered from a microtask, never from inside `publish()`,
 *   so a publisher cannot re-enter a handler synchronously. Messages from one publisher are
 *   delivered in publish order (microtasks run FIFO), on one topic and across topics.
 * - Copies, not shared objects: the message is serialised to JSON when published (a later
 *   mutation by the publisher changes nothing) and every delivery is a deep-frozen object
 *   parsed from that JSON, shared by the handlers of that delivery (frozen, so one handler
 *   cannot change what another sees). JSON rather than structuredClone on purpose: it is
 *   exactly what crosses Redis, so a payload that does not survive JSON (a Date, a Map,
 *   `undefined` fields, a BigInt) fails or changes here too instead of only in production.
 * - Isolation: a handler that throws is reported to `onError`; the other handlers still run.
 * - Subscribers registered when `publish()` is called receive the message unless they
 *   unsubscribe before it is delivered.
 */
import type { EventBus, Topic, TopicMessage } from '../ports/event-bus.js';
import { parseBusMessage } from './bus-message.js';

export interface MemoryEventBusOptions {
  /** Called when a handler throws. Defaults to console.error. */
  onError?: (error: unknown, context: { topic: Topic }) => void;
}

interface Subscription {
  handler: (message: unknown) => void;
  active: boolean;
}

/** Creates an in-process bus. No timers or sockets: nothing to clean up but `close()`. */
export function createMemoryEventBus(options: MemoryEventBusOptions = {}): EventBus {
  const onError =
    options.onError ??
    ((error: unknown, context: { topic: Topic }) =>
      console.error(`memory event bus: a handler for ${context.topic} threw`, error));
  // topic -> live subscriptions (one entry per subscribe() call, so the same function
  // subscribed twice is called twice and each unsubscribe removes only its own entry)
  const topics = new Map<Topic, Set<Subscription>>();
  let closed = false;

  function deliver(topic: Topic, json: string, recipients: Subscription[]): void {
    if (closed) return;
    const message = parseBusMessage(json);
    for (const subscription of recipients) {
      if (!subscription.active) continue; // unsubscribed after the publish
      try {
        subscription.handler(message);
      } catch (error) {
        try {
          onError(error, { topic });
        } catch {
          // a failing error reporter must not stop delivery either
        }
      }
    }
  }

  return {
    async publish<T extends Topic>(topic: T, message: TopicMessage<T>): Promise<void> {
      if (closed) throw new Error('event bus is closed');
      const json = JSON.stringify(message); // throws (rejects) for what Redis could not carry either
      const subscriptions = topics.get(topic);
      if (!subscriptions || subscriptions.size === 0) return;
      const recipients = [...subscriptions];
      queueMicrotask(() => deliver(topic, json, recipients));
    },

    async subscribe<T extends Topic>(
      topic: T,
      handler: (message: TopicMessage<T>) => void,
    ): Promise<() => Promise<void>> {
      if (closed) throw new Error('event bus is closed');
      const subscription: Subscription = {
        handler: handler as (message: unknown) => void,
        active: true,
      };
      let subscriptions = topics.get(topic);
      if (!subscriptions) {
        subscriptions = new Set();
        topics.set(topic, subscriptions);
      }
      subscriptions.add(subscription);
      return async () => {
        if (!subscription.active) return;
        subscription.active = false;
        const current = topics.get(topic);
        if (!current) return;
        current.delete(subscription);
        if (current.size === 0) topics.delete(topic);
      };
    },

    onReconnect(): () => void {
      // An in-process bus never disconnects, so it never loses messages to a reconnect.
      return () => {};
    },

    isUp(): boolean {
      return !closed;
    },

    async close(): Promise<void> {
      closed = true;
      for (const subscriptions of topics.values()) {
        for (const subscription of subscriptions) subscription.active = false;
      }
      topics.clear();
    },
  };
}
