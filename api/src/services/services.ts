/** The services resolvers call, built once per app in app.ts. */
import type { Config } from '../config.js';
import type { Clock } from '../ports/clock.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Store } from '../ports/store.js';
import type { PresenceStore } from '../ports/presence-store.js';
import type { AuthService } from './auth-service.js';
import type { CollabEngine } from './collab-engine.js';
import type { DashboardService } from './dashboard-service.js';
import type { Hub } from './hub.js';
import type { PresenceService } from './presence-service.js';
import type { SeriesService } from './series-service.js';
import type { SeriesFeed } from './series-live.js';
import type { DatasourceService } from './datasource-service.js';
import type { QueryFeed } from './query-live.js';
import type { SharedLimits } from '../ports/shared-limits.js';

export interface Services {
  config: Config;
  clock: Clock;
  store: Store;
  bus: EventBus;
  auth: AuthService;
  dashboards: DashboardService;
  engine: CollabEngine;
  hub: Hub;
  presence: PresenceService;
  presenceStore: PresenceStore;
  series: SeriesService;
  /** Live series streams (LD3). */
  seriesFeed: SeriesFeed;
  /** Pulled data sources (LD5): range queries, and live queries evaluated once for all watchers. */
  datasources: DatasourceService;
  queryFeed: QueryFeed;
  /** Rate limits, points and socket caps: in Redis for every instance when it is configured. */
  limits: SharedLimits;
}

export type { Actor } from './actor.js';
