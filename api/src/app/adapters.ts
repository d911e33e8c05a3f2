/**
 * Which adapter serves each port (CONVENTIONS.md 2): the one injected (tests wrap them; the
 * caller closes it), else the one the config names, opened and later closed here: PGlite or
 * PostgreSQL store, memory or Redis bus, memory or Redis presence store, database or Redis
 * leases.
 */
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { ErrorLog } from '../error-log.js';
import { openStore } from '../adapters/create-store.js';
import type { OnRead } from '../adapters/sql/replica-reads.js';
import { createMemoryEventBus } from '../adapters/memory-event-bus.js';
import { createRedisEventBus } from '../adapters/redis-event-bus.js';
import { createMemoryPresenceStore } from '../adapters/memory-presence-store.js';
import { createRedisPresenceStore } from '../adapters/redis-presence-store.js';
import { createRedisLeaseStore } from '../adapters/redis-lease-store.js';
import { createMemoryLimits } from '../adapters/memory-limits.js';
import { PruningRateLimitStore } from '../transport/guards.js';
import { createPointBudget } from '../services/point-budget.js';
import { createRedisLimits } from '../adapters/redis-limits.js';
import type { LimitKind, SharedLimits } from '../ports/shared-limits.js';
import type { LeaseStore } from '../ports/lease-store.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Store } from '../ports/store.js';
import type { PresenceStore } from '../ports/presence-store.js';
import type { Opened } from './feature.js';

export interface AdapterDeps {
  config: Config;
  store?: Store;
  bus?: EventBus;
  presenceStore?: PresenceStore;
  leases?: LeaseStore;
}

/** Each open* registers with `opened` what it opened itself (not an injected adapter). */
export interface Adapters {
  /** The backends the config names, for the log (an injected adapter stands in for one). */
  readonly names: { storage: 'postgres' | 'pglite'; bus: 'redis' | 'memory' };
  /** `onRead`: each read routed to a read replica or back to the primary (DATABASE_REPLICA_URLS). */
  openStore(opened: Opened, hooks?: { onRead?: OnRead }): Promise<Store>;
  openBus(opened: Opened): Promise<EventBus>;
  openPresenceStore(opened: Opened): PresenceStore;
  /** Leases (LD5): in Redis when it is configured, else in the database. */
  openLeases(opened: Opened, store: Store): LeaseStore;
  /**
   * Rate limits, points and socket caps (issue #17): counted in Redis for every instance when
   * it is configured (each call counted here while Redis does not answer), else here.
   */
  openLimits(opened: Opened, hooks: { now: () => number; onFallback: (limit: LimitKind) => void }): SharedLimits;
  /** For stop(): closes the leases, the presence store, the bus and the store, the ones opened here only. */
  closeOwned(opened: { store: Store; bus: EventBus; presenceStore: PresenceStore }): Promise<void>;
}

export function chooseAdapters(deps: AdapterDeps, logger: Logger, logError: ErrorLog): Adapters {
  const { config } = deps;
  let ownedLeases: { close(): Promise<void> } | null = null;
  let ownedLimits: SharedLimits | null = null;
  return {
    names: { storage: config.databaseUrl ? 'postgres' : 'pglite', bus: config.redisUrl ? 'redis' : 'memory' },

    async openStore(opened, hooks) {
      if (deps.store) return deps.store;
      const store = await openStore({
        databaseUrl: config.databaseUrl,
        replicaUrls: config.databaseReplicaUrls,
        dataDir: config.dataDir,
        onRead: hooks?.onRead,
        onReplicaDown: (replica, error) =>
          logger.warn({ err: error, replica }, 'read replica out of rotation (reads go to the primary)'),
      });
      opened('store', () => store.close());
      return store;
    },

    async openBus(opened) {
      if (deps.bus) return deps.bus;
      const bus = config.redisUrl
        ? await createRedisEventBus({ url: config.redisUrl, logger })
        : createMemoryEventBus({ onError: (error) => logError(error, {}, 'event handler failed') });
      opened('bus', () => bus.close());
      return bus;
    },

    openPresenceStore(opened) {
      if (deps.presenceStore) return deps.presenceStore;
      const presenceStore = config.redisUrl
        ? createRedisPresenceStore({
            url: config.redisUrl,
            onError: (error) => logger.warn({ err: error }, 'presence store error'),
          })
        : createMemoryPresenceStore();
      opened('presence store', () => presenceStore.close());
      return presenceStore;
    },

    openLeases(opened, store) {
      if (deps.leases) return deps.leases;
      if (!config.redisUrl) return store;
      const leases = createRedisLeaseStore({
        url: config.redisUrl,
        onError: (error) => logger.warn({ err: error }, 'lease store error'),
      });
      opened('lease store', () => leases.close());
      ownedLeases = leases;
      return leases;
    },

    openLimits(opened, hooks) {
      const { rateLimits } = config;
      // Counted on this instance: everything without Redis, each call Redis misses with it.
      const local = {
        rateLimitStore: new PruningRateLimitStore(60_000),
        points: createPointBudget(rateLimits.pointsPerMinute, hooks.now),
      };
      if (!config.redisUrl) return createMemoryLimits(local);
      const limits = createRedisLimits({
        url: config.redisUrl,
        prefix: config.limitsKeyPrefix,
        pointsPerMinute: rateLimits.pointsPerMinute,
        now: hooks.now,
        local,
        // No field's max is larger: keeping more timestamps would change no decision.
        rateKeep: Math.max(
          rateLimits.mutationsPerMinute,
          rateLimits.submitsPerMinute,
          rateLimits.presencePerMinute,
          rateLimits.authPerIpPerMinute,
        ),
        logger,
        onFallback: hooks.onFallback,
      });
      opened('limits', () => limits.close());
      ownedLimits = limits;
      return limits;
    },

    async closeOwned({ store, bus, presenceStore }) {
      await ownedLimits?.close();
      await ownedLeases?.close();
      if (!deps.presenceStore) await presenceStore.close();
      if (!deps.bus) await bus.close();
      if (!deps.store) await store.close();
    },
  };
}
