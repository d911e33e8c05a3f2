/**
 * The services every feature builds on (services/services.ts): storage, bus, auth,
 * dashboards, the hub, the collab engine and presence, with their metrics wired in.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { ErrorLog } from '../error-log.js';
import type { Metrics } from '../metrics.js';
import type { Clock } from '../ports/clock.js';
import { createPresenceService } from '../services/presence-service.js';
import { createAuthService } from '../services/auth-service.js';
import { createDashboardService } from '../services/dashboard-service.js';
import { createCollabEngine } from '../services/collab-engine.js';
import { createHub } from '../services/hub.js';
import { createDashboardRooms } from '../services/dashboard-room.js';
import { createSeriesFeed } from '../services/series-live.js';
import { createSeriesService } from '../services/series-service.js';
import { createDatasourceService } from '../services/datasource-service.js';
import { createQueryFeed } from '../services/query-live.js';
import { createPrometheusSource } from '../adapters/prometheus-source.js';
import type { Services } from '../services/services.js';
import type { Adapters } from './adapters.js';
import type { Opened } from './feature.js';

export interface CoreServiceDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  logError: ErrorLog;
  metrics: Metrics;
  adapters: Adapters;
}

/**
 * Builds the services; `opened` is told how to close each thing as soon as it is open, so
 * a failed start can close what it opened.
 */
export async function buildCoreServices(deps: CoreServiceDeps, opened: Opened): Promise<Services> {
  const { config, clock, logger, logError, metrics, adapters } = deps;
  const store = await adapters.openStore(opened, {
    onRead: (target, reason) => metrics.dbReads.inc({ target, reason }),
  });
  const bus = await adapters.openBus(opened);
  // JWT_SECRET unset: the first instance generates one; every instance on this database agrees.
  const secret =
    config.jwtSecret ?? (await store.getOrCreateSetting('jwt_secret', () => randomBytes(48).toString('base64url')));
  const onPublishError = (error: unknown) => logger.warn({ err: error }, 'publish failed (catch-up covers it)');
  const auth = createAuthService({
    store,
    clock,
    secret,
    accessTokenTtl: config.accessTokenTtl,
    refreshTokenTtl: config.refreshTokenTtl,
    // SC1: a scoped token refused for its expiry or its address is in the audit log.
    onRefused: ({ userId, tokenId, reason, ip }) =>
      void dashboards
        .audit({ userId, ip }, 'apiTokenRefused', null, { tokenId, reason })
        .catch((error: unknown) => logger.warn({ err: error }, 'audit failed')),
  });
  const dashboards = createDashboardService({ store, bus, clock, onPublishError });
  const reportHub = (error: unknown, where: string) => logError(error, { where }, 'hub error');
  // One room per dashboard per instance, shared by dashboardEvents and seriesUpdates streams.
  const rooms = createDashboardRooms({ store, bus, recheckIntervalMs: config.recheckIntervalMs, report: reportHub });
  const hub = createHub({
    rooms,
    metrics: {
      catchUp: (seconds) => metrics.syncCatchupSeconds.observe(seconds),
      syncFailure: () => metrics.syncFailures.inc(),
      delivered: (seconds) => metrics.opDeliverySeconds.observe(seconds),
    },
    store,
    bus,
    recheckIntervalMs: config.recheckIntervalMs,
    onError: reportHub,
  });
  opened('hub', () => hub.stop());
  const engine = createCollabEngine({
    deliverLocally: (message) => hub.deliverLocally(message),
    metrics: {
      committed: (seconds) => {
        metrics.opsCommitted.inc();
        metrics.opCommitSeconds.observe(seconds);
      },
      conflicts: (n) => metrics.transformConflicts.inc(n),
    },
    store,
    bus,
    clock,
    dashboards,
    snapshotEvery: config.snapshotEvery,
    onPublishError,
  });
  const presenceStore = adapters.openPresenceStore(opened);
  const presence = createPresenceService({
    store,
    presence: presenceStore,
    bus,
    clock,
    dashboards,
    ttlMs: config.presenceTtl * 1000,
    idleAfterMs: config.idleAfter * 1000,
    metrics: { update: () => metrics.presenceUpdates.inc() },
    onError: (error, where) => logger.warn({ err: error, where }, 'presence error'),
  });
  opened('presence', () => presence.stop({ cleanup: true }));
  const limits = adapters.openLimits(opened, {
    now: () => clock.now().getTime(),
    onFallback: (limit) => metrics.limitFallbacks.inc({ limit }),
  });
  const series = createSeriesService({
    store,
    clock,
    config,
    budget: limits.points,
    onWritten: (dashboardId, outcome) => {
      metrics.pointsIngested.inc(outcome.accepted);
      // LD3: live streams here at once, on other instances through the bus (a hint: SUB2).
      const message = { type: 'points', dashboardId, position: outcome.position } as const;
      hub.deliverLocally(message);
      bus.publish(`dashboard:${dashboardId}`, message).catch(onPublishError);
    },
  });
  const seriesFeed = createSeriesFeed({
    store,
    rooms,
    bus,
    batchMs: config.series.batchMs,
    recheckIntervalMs: config.recheckIntervalMs,
    report: (error, where) => logError(error, { where }, 'series feed error'),
    onBatch: () => metrics.seriesBatches.inc(),
  });
  opened('series feed', () => seriesFeed.stop());
  const datasources = createDatasourceService({
    datasources: config.datasources,
    createClient: createPrometheusSource,
    now: () => clock.now().getTime(),
    onQuery: (datasource, outcome) => metrics.datasourceQueries.inc({ datasource, outcome }),
  });
  const queryFeed = createQueryFeed({
    datasources,
    urlOf: (name) => config.datasources[name]?.url ?? '',
    leases: adapters.openLeases(opened, store),
    bus,
    rooms,
    store,
    instanceId: randomBytes(9).toString('base64url'),
    now: () => clock.now().getTime(),
    report: (error, where) => logError(error, { where }, 'query feed error'),
    onBatch: () => metrics.seriesBatches.inc(),
  });
  opened('query feed', () => queryFeed.stop());
  return {
    config,
    clock,
    store,
    bus,
    auth,
    dashboards,
    engine,
    hub,
    presence,
    presenceStore,
    series,
    seriesFeed,
    datasources,
    queryFeed,
    limits,
  };
}
