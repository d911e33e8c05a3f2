/**
 * RATE_LIMIT_POINTS (rule LD1): points a user may push per minute, over every transport,
 * counted on this instance (a sliding minute of per-request entries). A request beyond the
 * budget is refused whole with RATE_LIMITED and `retryAfter`: the seconds until enough of the
 * minute has passed for it to fit.
 */
import { DomainError } from '../errors.js';

const WINDOW_MS = 60_000;

export interface PointBudget {
  /** Spends `points` of the user's minute, or throws RATE_LIMITED spending nothing. */
  take(userId: string, points: number): void;
  /** Returns points spent by a request that then stored nothing. */
  giveBack(userId: string, points: number): void;
}

export function createPointBudget(perMinute: number, now: () => number): PointBudget {
  const spent = new Map<string, Array<{ at: number; points: number }>>();
  let calls = 0;

  const live = (userId: string, at: number) => {
    const entries = (spent.get(userId) ?? []).filter((e) => e.at > at - WINDOW_MS);
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
      let used = entries.reduce((sum, e) => sum + e.points, 0);
      if (used + points > perMinute) {
        let retryAt = at + WINDOW_MS;
        if (points <= perMinute) {
          for (const entry of entries) {
            used -= entry.points;
            if (used + points <= perMinute) {
              retryAt = entry.at + WINDOW_MS;
              break;
            }
          }
        }
        const retryAfter = Math.max(1, Math.ceil((retryAt - at) / 1000));
        throw new DomainError(
          'RATE_LIMITED',
          `Too many points: the limit is ${perMinute} a minute. Retry after ${retryAfter} seconds.`,
          { retryAfter },
        );
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
