/**
 * RATE_LIMIT_POINTS (rule LD1), the rule wherever the minute is counted (on one instance,
 * services/point-budget.ts, or in Redis for all, adapters/redis-limits.ts): a sliding minute
 * of per-request entries; a request that does not fit is refused whole with RATE_LIMITED and
 * `retryAfter`, the seconds until enough of the minute has passed for it to fit. Pure.
 */
import { DomainError } from '../errors.js';

export const POINT_WINDOW_MS = 60_000;

/**
 * When a request of `points` fits again in a minute holding `entries` (oldest first, all
 * live at `at`, `used` points in all): once enough of the oldest have left it, or a whole
 * minute from now for a request larger than the budget.
 */
export function pointsRetryAt(
  entries: ReadonlyArray<{ at: number; points: number }>,
  used: number,
  points: number,
  perMinute: number,
  at: number,
): number {
  if (points > perMinute) return at + POINT_WINDOW_MS;
  for (const entry of entries) {
    used -= entry.points;
    if (used + points <= perMinute) return entry.at + POINT_WINDOW_MS;
  }
  return at + POINT_WINDOW_MS;
}

/** The RATE_LIMITED error of a request refused at `at` that fits again at `retryAt`. */
export function pointsRefused(perMinute: number, retryAt: number, at: number): DomainError {
  const retryAfter = Math.max(1, Math.ceil((retryAt - at) / 1000));
  return new DomainError(
    'RATE_LIMITED',
    `Too many points: the limit is ${perMinute} a minute. Retry after ${retryAfter} seconds.`,
    { retryAfter },
  );
}
