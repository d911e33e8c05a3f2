/**
 * The counters behind the rate limits (issue #17): the per-user and per-IP mutation limits
 * (@envelop/rate-limiter), RATE_LIMIT_POINTS (rule LD1) and MAX_SOCKETS_PER_USER.
 *
 * Two implementations: in memory, each instance counting alone (adapters/memory-limits.ts),
 * and in Redis when REDIS_URL is set, so N instances allow each budget once, not N times
 * (adapters/redis-limits.ts). The Redis one never fails a call because Redis is down or
 * slow: that call is counted on this instance instead.
 */
import type { Identity } from '@envelop/rate-limiter';

/**
 * @envelop/rate-limiter's Store: the call timestamps (ms) of one identity and field. The
 * library reads them, decides, and writes back the live ones plus this call's.
 */
export interface RateLimitStore {
  getForIdentity(identity: Identity): readonly number[] | Promise<readonly number[]>;
  setForIdentity(identity: Identity, timestamps: readonly number[], windowMs?: number): void | Promise<void>;
}

/** RATE_LIMIT_POINTS: points a user may push per sliding minute (LD1). */
export interface PointBudget {
  /**
   * Spends `points` of the user's minute, or throws RATE_LIMITED (with `retryAfter`, the
   * seconds until the request would fit) spending nothing.
   */
  take(userId: string, points: number): void | Promise<void>;
  /** Returns points spent by a request that then stored nothing. */
  giveBack(userId: string, points: number): void | Promise<void>;
}

/** Open sockets per socket budget (MAX_SOCKETS_PER_USER; ws-auth.ts socketBudget). */
export interface SocketCount {
  /** Counts `socketId` in `budget`, or returns false when `cap` sockets are open in it already. */
  admit(budget: string, socketId: string, cap: number): Promise<boolean>;
  /** The socket closed: its place in `budget` is free again, on every instance. */
  release(budget: string, socketId: string): void;
}

export interface SharedLimits {
  readonly rateLimitStore: RateLimitStore;
  readonly points: PointBudget;
  readonly sockets: SocketCount;
  /** Stops timers and closes connections (counts kept in Redis stay there). */
  close(): Promise<void>;
}

/** Which limit a call was for, as the fallback metric labels it. */
export type LimitKind = 'rate' | 'points' | 'sockets';
