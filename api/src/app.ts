/**
 * buildApp(deps) -> { start(port), stop() }. Picks the adapters from the config (PGlite or
 * PostgreSQL, memory or Redis bus; app/adapters.ts), builds the core services, and composes
 * the features of features/index.ts (routes, plugins, metrics, start/stop; app/feature.ts).
 * Does no I/O until start().
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createErrorLog } from './error-log.js';
import { systemClock, type Clock } from './ports/clock.js';
import type { EventBus } from './ports/event-bus.js';
import type { Store } from './ports/store.js';
import type { LeaseStore } from './ports/lease-store.js';
import type { PresenceStore } from './ports/presence-store.js';
import type { Services } from './services/services.js';
import type { GraphQLContext } from './schema/context.js';
import { attachWebSocket, type WsTransport } from './transport/ws.js';
import { createMetrics } from './metrics.js';
import { startTracing } from './tracing.js';
import { createSharedExecution } from './transport/shared-execution.js';
import { eventAudience } from './schema/events.js';
import { chooseAdapters } from './app/adapters.js';
import { buildCoreServices } from './app/core-services.js';
import { startFeatures, type Opened, type RunningApp } from './app/feature.js';
import { createHttpServer } from './app/http-server.js';
import { createMaskError, createYogaServer } from './app/yoga.js';
import { appFeatures } from './features/index.js';

export interface AppDeps {
  config: Config;
  clock?: Clock;
  logger?: Logger;
  /** Injected adapters win over the config (tests wrap them, e.g. a lossy bus). */
  store?: Store;
  bus?: EventBus;
  presenceStore?: PresenceStore;
  leases?: LeaseStore;
}

export interface App {
  /**
   * Opens storage and the bus, then listens. Port 0 picks a free port. When a step fails,
   * what was opened so far is closed (in reverse order) and the error is rethrown.
   */
  start(port?: number, host?: string): Promise<{ port: number; url: string }>;
  /** Graceful: not ready, sockets closed with 1001, queued commits finished, all closed. */
  stop(): Promise<void>;
  /** Available after start(). */
  readonly services: Services;
  readonly server: Server;
}

export function buildApp(deps: AppDeps): App {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? createLogger(config.logLevel);
  const logError = createErrorLog(logger);
  const adapters = chooseAdapters(deps, logger, logError);
  let services: Services | undefined;
  let server: Server | undefined;
  let ws: WsTransport | undefined;
  let featureClosers: Array<() => Promise<unknown>> = [];
  let shuttingDown = false;
  let stopping: Promise<void> | null = null;
  let stopTracing: (() => Promise<void>) | null = null;
  const metrics = createMetrics(() =>
    services && ws
      ? {
          wsConnections: () => ws!.connectionCount(),
          subscriptions: () => services!.hub.subscriberCount(),
          presentClients: () => services!.presence.localCount(),
          redisUp: () => services!.bus.isUp(),
          storedSeries: () => services!.store.countSeries(null),
          seriesSubscriptions: () => services!.seriesFeed.subscriberCount() + services!.queryFeed.subscriberCount(),
        }
      : undefined,
  );
  const features = appFeatures({ config, logger, registry: metrics.registry });
  for (const feature of features) feature.metrics?.(metrics.registry);
  const maskError = createMaskError(metrics, logError);

  return {
    get services() {
      if (!services) throw new Error('App not started');
      return services;
    },
    get server() {
      if (!server) throw new Error('App not started');
      return server;
    },

    async start(port = config.port, host = config.host) {
      // What is open so far, in opening order: a failed start closes it in reverse and rethrows.
      const closers: Array<{ name: string; close: () => Promise<unknown> }> = [];
      const opened: Opened = (name, close) => closers.push({ name, close });
      try {
        return await listen(port, host, opened);
      } catch (error) {
        for (const { name, close } of closers.reverse()) {
          await close().catch((closeError) => logger.warn({ err: closeError, step: name }, 'close after failed start'));
        }
        services = undefined;
        server = undefined;
        ws = undefined;
        featureClosers = [];
        stopTracing = null;
        throw error;
      }
    },

    stop() {
      // Once, however often it is called (a test, then its harness; a signal, then another).
      stopping ??= shutDown();
      return stopping;
    },
  };

  /** Graceful: not ready, sockets closed with 1001, queued commits finished, all closed. */
  async function shutDown(): Promise<void> {
    shuttingDown = true; // /readyz answers 503 from now on
    if (server) {
      const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
      // Commits already queued finish and their acks go out on open connections (OP4)...
      await services?.engine.drain();
      // ...then sockets close with 1001 so clients reconnect to another instance.
      await ws?.close();
      server.closeIdleConnections();
      server.closeAllConnections();
      await closed;
    }
    if (services) {
      await services.engine.drain(); // what arrived before the sockets closed
      for (const close of [...featureClosers].reverse()) await close();
      await services.presence.stop({ cleanup: true });
      await services.hub.stop();
      await services.seriesFeed.stop();
      await services.queryFeed.stop(); // gives its leases up: another instance takes over at once
      await adapters.closeOwned(services);
    }
    await stopTracing?.();
  }

  /** start(): tracing, storage, bus, services, features, HTTP and WebSocket, then listen. */
  async function listen(port: number, host: string, opened: Opened): Promise<{ port: number; url: string }> {
    const tracing = (stopTracing = await startTracing(config.otelEndpoint));
    if (tracing) opened('tracing', tracing);
    const s = (services = await buildCoreServices({ config, clock, logger, logError, metrics, adapters }, opened));
    featureClosers = await startFeatures(features, s, opened);
    const shared = createSharedExecution({
      audience: eventAudience,
      viewer: (ctx) => (ctx as Partial<GraphQLContext>).viewer?.userId ?? '',
      maskError,
    });
    const yoga = createYogaServer({ config, logger, services: s, shared, maskError, features });
    const running: RunningApp = {
      services: s,
      yoga,
      get stopping() {
        return shuttingDown;
      },
    };
    const httpServer = (server = createHttpServer(features, running, logError));
    ws = attachWebSocket({
      server: httpServer,
      yoga,
      services: s,
      logger,
      shared,
      maskError,
      logError,
      onDisconnect: (reason) => metrics.wsDisconnects.inc({ reason }),
    });
    const transport = ws;
    opened('websocket', () => transport.close());
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, host, () => resolve());
    });
    const address = httpServer.address() as AddressInfo;
    const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    const url = `http://${shownHost}:${address.port}`;
    logger.info({ url, ...adapters.names }, 'listening');
    return { port: address.port, url };
  }
}
