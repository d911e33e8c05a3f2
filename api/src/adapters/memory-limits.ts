/**
 * Shared limits counted on this instance alone (ports/shared-limits.ts): what a deployment
 * without REDIS_URL uses. The rate limiter's store (transport/guards.ts) and the point
 * budget (services/point-budget.ts) come from the layers that own them; the socket count is
 * here, and the Redis count keeps one too, of the sockets open on its instance.
 */
import type { PointBudget, RateLimitStore, SharedLimits, SocketCount } from '../ports/shared-limits.js';

/** Sockets open on this instance, by budget. */
export interface LocalSocketCount extends SocketCount {
  /** budget -> ids of the sockets open here */
  readonly open: ReadonlyMap<string, ReadonlySet<string>>;
  /** Counts `socketId` whatever the cap (one the shared count admitted). */
  add(budget: string, socketId: string): void;
}

export function createLocalSocketCount(): LocalSocketCount {
  const open = new Map<string, Set<string>>(); // budget -> ids of the sockets open here
  const add = (budget: string, socketId: string) => {
    let ids = open.get(budget);
    if (!ids) open.set(budget, (ids = new Set()));
    ids.add(socketId);
  };
  return {
    open,
    add,
    async admit(budget, socketId, cap) {
      if ((open.get(budget)?.size ?? 0) >= cap) return false;
      add(budget, socketId);
      return true;
    },
    release(budget, socketId) {
      const ids = open.get(budget);
      if (!ids) return;
      ids.delete(socketId);
      if (ids.size === 0) open.delete(budget);
    },
  };
}

/** Every limit counted on this instance: today's behaviour without REDIS_URL. */
export function createMemoryLimits(local: { rateLimitStore: RateLimitStore; points: PointBudget }): SharedLimits {
  return { ...local, sockets: createLocalSocketCount(), async close() {} };
}
