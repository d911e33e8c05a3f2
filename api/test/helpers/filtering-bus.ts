/**
 * Wraps an EventBus so a test can lose messages on their way in, like a flaky pub/sub
 * (SUB2), and optionally take over the reconnect signal and the up/down state.
 */
import type { DashboardMessage, EventBus, Topic, TopicMessage } from '../../src/ports/event-bus.js';

export function filteringBus(
  inner: EventBus,
  options: {
    /** True drops the message before any handler sees it. */
    drop: (message: DashboardMessage) => boolean;
    onReconnect?: EventBus['onReconnect'];
    isUp?: () => boolean;
  },
): EventBus {
  return {
    publish: (topic, message) => inner.publish(topic, message),
    subscribe<T extends Topic>(topic: T, handler: (message: TopicMessage<T>) => void) {
      return inner.subscribe(topic, (message) => {
        if (!options.drop(message as DashboardMessage)) handler(message);
      });
    },
    onReconnect: options.onReconnect ?? ((cb) => inner.onReconnect(cb)),
    isUp: options.isUp ?? (() => inner.isUp()),
    close: () => inner.close(),
  };
}
