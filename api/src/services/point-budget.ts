/**
 * RATE_LIMIT_POINTS (rule LD1, domain/point-budget.ts) counted on this instance: what a
 * deployment without Redis uses, and what the Redis count falls back to while Redis does not
 * answer (adapters/redis-limits.ts).
 */
import { POINT_WINDOW_MS, pointsRefused, pointsRetryAt } from '../domain/point-budget.js';
import type { PointBudget } from '../ports/shared-limits.js';

export type { PointBudget };

/** The budget counted on this instance alone (synchronous: it never waits). */
export interface LocalPointBudget extends PointBudget {
  take(userId: string, points: number): void;
  giveBack(userId: string, points: number): void;
}

export function createPointBudget(perMinute: number, now: () => number): LocalPointBudget {
  const spent = new Map<string, Array<{ at: number; points: number }>>(); // userId -> this minute's pushes
  let calls = 0;

  const live = (userId: string, at: number) => {
    const entries = (spent.get(userId) ?? []).filter((e) => e.at > at - POINT_WINDOW_MS);
    if (entries.length) spent.set(userId, entries);
    else spent.delete(userId);
    return entries;
  };

  return {
    take(userId, points) {
      const at = now();
      // Forget users idle for a minute, now and then, so the map does not grow forever.
      if (++calls % 1000 === 0) for (const id of [...spent.keys()]) live(id, at);
      const entries = live(userId, at);
      const used = entries.reduce((sum, e) => sum + e.points, 0);
      if (used + points > perMinute) {
        throw pointsRefused(perMinute, pointsRetryAt(entries, used, points, perMinute, at), at);
      }
      if (points > 0) spent.set(userId, [...entries, { at, points }]);
    },
    giveBack(userId, points) {
      const entries = spent.get(userId) ?? [];
      for (let i = entries.length - 1; i >= 0; i--) {
        if (entries[i]!.points !== points) continue;
        entries.splice(i, 1);
        return;
      }
    },
  };
}
