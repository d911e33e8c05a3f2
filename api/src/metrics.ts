/**
 * Prometheus metrics with the fixed names of DESIGN.md section 8, on a registry per app (so
 * several instances can live in one test process). No per-user or per-dashboard labels.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CloseCode } from '@collab-dashboards/core';

export interface Metrics {
  registry: Registry;
  opsCommitted: Counter;
  opCommitSeconds: Histogram;
  opDeliverySeconds: Histogram;
  syncCatchupSeconds: Histogram;
  syncFailures: Counter;
  transformConflicts: Counter;
  wsDisconnects: Counter<'reason'>;
  rejected: Counter<'code'>;
  presenceUpdates: Counter;
  /** Live data (DESIGN.md section 10). */
  pointsIngested: Counter;
  ingestSeconds: Histogram;
  seriesBatches: Counter;
  /** Upstream requests to pulled data sources (LD5). */
  datasourceQueries: Counter<'datasource' | 'outcome'>;
  /** Limit checks counted on this instance because Redis did not answer (issue #17). */
  limitFallbacks: Counter<'limit'>;
  /** Reads a replica may answer, by who answered and why (issue #17, adapters/sql/replica-reads.ts). */
  dbReads: Counter<'target' | 'reason'>;
}

/** Live values read when Prometheus scrapes. */
export interface MetricSources {
  wsConnections(): number;
  subscriptions(): number;
  presentClients(): number;
  redisUp(): boolean;
  /** Series stored, over every dashboard (read from the database when scraped). */
  storedSeries(): Promise<number>;
  /** Live seriesUpdates streams on this instance. */
  seriesSubscriptions(): number;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(sources: () => MetricSources | undefined): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, read: (s: MetricSources) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const s = sources();
        if (s) this.set(read(s));
      },
    });
  gauge('dash_ws_connections', 'Open WebSocket connections on this instance.', (s) => s.wsConnections());
  gauge('dash_subscriptions', 'Live dashboardEvents subscriptions on this instance.', (s) => s.subscriptions());
  gauge('dash_present_clients', 'Clients present on dashboards through this instance.', (s) => s.presentClients());
  gauge('dash_redis_up', '1 when the event bus is connected (always 1 for the in-memory bus).', (s) =>
    s.redisUp() ? 1 : 0,
  );
  new Gauge({
    name: 'dash_series',
    help: 'Series stored, over every dashboard (LD1).',
    registers: [registry],
    async collect() {
      const s = sources();
      // A database that does not answer must not fail the scrape: the gauge keeps its value.
      if (!s) return;
      try {
        this.set(await s.storedSeries());
      } catch {
        // keeps the last value
      }
    },
  });
  gauge('dash_series_subscriptions', 'Live seriesUpdates and queryUpdates subscriptions on this instance.', (s) =>
    s.seriesSubscriptions(),
  );
  return {
    registry,
    opsCommitted: new Counter({
      name: 'dash_ops_committed_total',
      help: 'Operations committed.',
      registers: [registry],
    }),
    opCommitSeconds: new Histogram({
      name: 'dash_op_commit_seconds',
      help: 'From submission received to committed in the database, per operation.',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    opDeliverySeconds: new Histogram({
      name: 'dash_op_delivery_seconds',
      help: 'From commit to handed to a subscriber socket, per delivered operation.',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    syncCatchupSeconds: new Histogram({
      name: 'dash_sync_catchup_seconds',
      help: 'From subscribe to SyncCompleted.',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    syncFailures: new Counter({
      name: 'dash_sync_failures_total',
      help: 'Catch-ups that failed.',
      registers: [registry],
    }),
    transformConflicts: new Counter({
      name: 'dash_transform_conflicts_total',
      help: 'Conflicts resolved by the transform (e.g. an edit inside a removed widget).',
      registers: [registry],
    }),
    wsDisconnects: new Counter({
      name: 'dash_ws_disconnects_total',
      help: 'WebSocket connections closed, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'dash_rejected_total',
      help: 'Errors returned to clients, by code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    presenceUpdates: new Counter({
      name: 'dash_presence_updates_total',
      help: 'updatePresence calls accepted.',
      registers: [registry],
    }),
    pointsIngested: new Counter({
      name: 'dash_points_ingested_total',
      help: 'Points stored, over every transport (LD1).',
      registers: [registry],
    }),
    ingestSeconds: new Histogram({
      name: 'dash_ingest_seconds',
      help: 'From a push received to its points committed, per request.',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    seriesBatches: new Counter({
      name: 'dash_series_batches_total',
      help: 'SeriesBatch events handed to seriesUpdates and queryUpdates subscribers (LD3, LD5).',
      registers: [registry],
    }),
    datasourceQueries: new Counter({
      name: 'dash_datasource_queries_total',
      help: 'Requests to configured data sources (LD5), by outcome: ok, refused (the query), unavailable.',
      labelNames: ['datasource', 'outcome'],
      registers: [registry],
    }),
    limitFallbacks: new Counter({
      name: 'dash_limit_fallbacks_total',
      help: 'Rate limit, points and socket cap checks counted on this instance alone because Redis did not answer.',
      labelNames: ['limit'],
      registers: [registry],
    }),
    dbReads: new Counter({
      name: 'dash_db_reads_total',
      help: 'Reads a read replica may answer, by target (replica, primary) and reason: caught_up, topped_up (the primary added what the replica lacked), lagging, down, error.',
      labelNames: ['target', 'reason'],
      registers: [registry],
    }),
  };
}

/** A bounded label for a WebSocket close code: the protocol's, or the standard 1000 and 1006. */
export function disconnectReason(code: number | undefined): string {
  switch (code) {
    case 1000:
      return 'normal';
    case CloseCode.GoingAway:
      return 'going_away';
    case 1006:
      return 'abnormal';
    case CloseCode.MessageTooBig:
      return 'message_too_big';
    case CloseCode.InternalError:
      return 'internal_error';
    case CloseCode.TryAgainLater:
      return 'try_again_later';
    case CloseCode.BadMessage:
      return 'bad_message';
    case CloseCode.Unauthorized:
      return 'unauthorized';
    case CloseCode.Forbidden:
      return 'forbidden';
    case CloseCode.ConnectionInitTimeout:
      return 'init_timeout';
    case CloseCode.DuplicateOperationId:
      return 'duplicate_operation';
    case CloseCode.TooManyRequests:
      return 'too_many';
    default:
      return 'other';
  }
}
