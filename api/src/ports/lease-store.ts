/**
 * Leases (rule LD5): which instance does a piece of shared work, such as evaluating one
 * upstream query for every watcher. A lease is held by one holder until it expires; the
 * holder renews it by acquiring it again, and anyone may take it once it has expired.
 *
 * Two implementations: on Redis when REDIS_URL is set (adapters/redis-lease-store.ts), else
 * in the database (adapters/sql/leases.ts), so embedded mode needs nothing more. Errors: a
 * lease store that cannot be reached throws; the caller treats that as "not acquired".
 */
export interface LeaseStore {
  /**
   * Takes `name` for `holder` for `ttlMs` when it is free, expired or already `holder`'s
   * (a renewal). Returns whether `holder` now holds it.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives `name` up if `holder` holds it (others may take it at once). */
  releaseLease(name: string, holder: string): Promise<void>;
}
