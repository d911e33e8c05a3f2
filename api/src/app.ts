/**
 * buildApp(deps) -> { start(port), stop() }. Picks the adapters from the config (PGlite or
 * PostgreSQL, memory or Redis bus); does no I/O until start().
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createErrorLog } from './error-log.js';
import { openStore } from './adapters/create-store.js';
import { createMemoryEventBus } from './adapters/memory-event-bus.js';
import { createRedisEventBus } from './adapters/redis-event-bus.js';
import { systemClock, type Clock } from './ports/clock.js';
import type { EventBus } from './ports/event-bus.js';
import type { Store } from './ports/store.js';
import type { PresenceStore } from './ports/presence-store.js';
import { createMemoryPresenceStore } from './adapters/memory-presence-store.js';
import { createRedisPresenceStore } from './adapters/redis-presence-store.js';
import { createPresenceService } from './services/presence-service.js';
import { createAuthService } from './services/auth-service.js';
import { createDashboardService } from './services/dashboard-service.js';
import { createCollabEngine } from './services/collab-engine.js';
import { createHub } from './services/hub.js';
import type { Services } from './services/services.js';
import { getSchema } from './schema/index.js';
import { createLoaders, type GraphQLContext } from './schema/context.js';
import { toGraphQLError } from './schema/errors.js';
import { DomainError } from './errors.js';
import { attachWebSocket, type WsTransport } from './transport/ws.js';
import { createMetrics } from './metrics.js';
import { handleRest } from './transport/rest.js';
import { startTracing, traced } from './tracing.js';
import { guardPlugins } from './transport/guards.js';
import { createSharedExecution, type SharedExecution } from './transport/shared-execution.js';
import { eventAudience } from './schema/events.js';
import { clientIp, sendJson, serveStatic } from './transport/http.js';
import { renderGraphiQL, serveGraphiQLAsset } from './transport/graphiql.js';
import { embedGuardPlugin } from './transport/embed-guard.js';
import { handleEmbedConfig, viewerHeaders } from './transport/embed-http.js';

export interface AppDeps {
  config: Config;
  clock?: Clock;
  logger?: Logger;
  /** Injected adapters win over the config (tests wrap them, e.g. a lossy bus). */
  store?: Store;
  bus?: EventBus;
  presenceStore?: PresenceStore;
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

/** A span per GraphQL execution; resolvers' spans (commit, publish) nest under it. */
const tracingPlugin: Plugin = {
  onExecute({ args, executeFn, setExecuteFn }) {
    const name = args.operationName ?? 'anonymous';
    setExecuteFn((a) => traced('graphql.execute', { 'graphql.operation.name': name }, async () => executeFn(a)));
  },
};

/** One debug line per GraphQL execution, with the request or connection id (never variables). */
const loggingPlugin = (logger: Logger): Plugin => ({
  onExecute({ args }) {
    const started = performance.now();
    const ctx = args.contextValue as Partial<GraphQLContext>;
    return {
      onExecuteDone({ result }) {
        const errors = 'errors' in result && Array.isArray(result.errors) ? result.errors.length : 0;
        logger.debug(
          {
            requestId: ctx.requestId,
            userId: ctx.viewer?.userId,
            operation: args.operationName ?? 'anonymous',
            ms: Math.round(performance.now() - started),
            errors,
          },
          'graphql execute',
        );
      },
    };
  },
});

const SIMPLE_CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'];

/**
 * Checks before Yoga reads a body: too large is PAYLOAD_TOO_LARGE; a POST a browser could
 * send cross-site without a preflight (a "simple" content type) needs a custom header, so
 * a forged form cannot run a mutation (CSRF prevention, as Apollo and Yoga do it).
 */
function refuseHttp(req: IncomingMessage, maxBytes: number) {
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > maxBytes) {
    return {
      status: 413,
      error: { message: `Request body is larger than ${maxBytes} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } },
    };
  }
  if (req.method === 'POST') {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const simple = type === '' || SIMPLE_CONTENT_TYPES.includes(type);
    if (simple && !req.headers['x-graphql-csrf'] && !req.headers['graphql-require-preflight']) {
      return {
        status: 400,
        error: {
          message:
            'Send Content-Type: application/json (or the header x-graphql-csrf) to prevent cross-site request forgery',
          extensions: { code: 'BAD_USER_INPUT' },
        },
      };
    }
  }
  return null;
}

export function buildApp(deps: AppDeps): App {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? createLogger(config.logLevel);
  const logError = createErrorLog(logger);
  let services: Services | undefined;
  let server: Server | undefined;
  let ws: WsTransport | undefined;
  let ownsStore = false;
  let ownsBus = false;
  let ownsPresence = false;
  let shuttingDown = false;
  let stopTracing: (() => Promise<void>) | null = null;
  const metrics = createMetrics(() =>
    services && ws
      ? {
          wsConnections: () => ws!.connectionCount(),
          subscriptions: () => services!.hub.subscriberCount(),
          presentClients: () => services!.presence.localCount(),
          redisUp: () => services!.bus.isUp(),
        }
      : undefined,
  );

  async function openBus(): Promise<EventBus> {
    if (deps.bus) return deps.bus;
    ownsBus = true;
    if (config.redisUrl) return createRedisEventBus({ url: config.redisUrl, logger });
    return createMemoryEventBus({ onError: (error) => logError(error, {}, 'event handler failed') });
  }

  /**
   * Builds the services; `opened` is told how to close each thing as soon as it is open, so
   * a failed start can close what it opened.
   */
  async function buildServices(opened: (name: string, close: () => Promise<unknown>) => void): Promise<Services> {
    ownsStore = !deps.store;
    const store = deps.store ?? (await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
    if (ownsStore) opened('store', () => store.close());
    const bus = await openBus();
    if (ownsBus) opened('bus', () => bus.close());
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
    });
    const dashboards = createDashboardService({ store, bus, clock, onPublishError });
    const hub = createHub({
      metrics: {
        catchUp: (seconds) => metrics.syncCatchupSeconds.observe(seconds),
        syncFailure: () => metrics.syncFailures.inc(),
        delivered: (seconds) => metrics.opDeliverySeconds.observe(seconds),
      },
      store,
      bus,
      recheckIntervalMs: config.recheckIntervalMs,
      onError: (error, where) => logError(error, { where }, 'hub error'),
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
    ownsPresence = !deps.presenceStore;
    const presenceStore =
      deps.presenceStore ??
      (config.redisUrl
        ? createRedisPresenceStore({
            url: config.redisUrl,
            onError: (error) => logger.warn({ err: error }, 'presence store error'),
          })
        : createMemoryPresenceStore());
    if (ownsPresence) opened('presence store', () => presenceStore.close());
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
    return { config, clock, store, bus, auth, dashboards, engine, hub, presence, presenceStore };
  }

  /**
   * Every error a client receives passes here once: masked, counted, and logged at the level
   * its kind calls for (error-log.ts: expected codes at info or warn without a stack,
   * unexpected ones at error with it).
   */
  const maskError = (error: unknown) => {
    const masked = toGraphQLError(error, () => {});
    metrics.rejected.inc({ code: String(masked.extensions.code ?? 'INTERNAL_SERVER_ERROR') });
    logError(error);
    return masked;
  };

  /**
   * Yoga's own lines go to our logger, except its error-level ones: Yoga logs an error when
   * its masked form differs from it (graphql-yoga 5: server.ts and error.ts), that is exactly
   * the errors maskError has just logged once at their proper level.
   */
  const forward =
    (level: 'debug' | 'info' | 'warn') =>
    (...args: unknown[]) =>
      (logger[level] as (...a: unknown[]) => void)(...args);
  const yogaLogger = { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: () => {} };

  function buildYoga(s: Services, shared: SharedExecution) {
    return createYoga<Record<string, unknown>, GraphQLContext>({
      schema: getSchema(),
      graphqlEndpoint: '/graphql',
      landingPage: false,
      maxRequestBodySize: config.maxMessageBytes,
      logging: yogaLogger,
      graphiql: config.graphiql ? { title: 'Dashboards API', subscriptionsProtocol: 'WS' } : false,
      // GraphiQL's script and styles come from this server, not a CDN: it works offline.
      renderGraphiQL,
      maskedErrors: { maskError },
      plugins: [
        shared.plugin,
        embedGuardPlugin(),
        tracingPlugin,
        loggingPlugin(logger),
        ...guardPlugins(config, Object.keys(getSchema().getMutationType()?.getFields() ?? {})),
      ],
      cors: config.corsOrigins ? { origin: config.corsOrigins, credentials: false } : undefined,
      context: async (initial): Promise<GraphQLContext> => {
        const fromSocket = initial as Partial<GraphQLContext>;
        if (fromSocket.requestId) {
          return {
            ...(initial as object),
            viewer: fromSocket.viewer ?? null,
            services: s,
            ip: fromSocket.ip ?? null,
            requestId: fromSocket.requestId,
            loaders: createLoaders(s, { shared: true }),
          } as GraphQLContext;
        }
        const request = (initial as { request: Request }).request;
        const header = request.headers.get('authorization');
        const node = (initial as { req?: import('node:http').IncomingMessage }).req;
        let viewer = null;
        if (header) {
          const match = /^Bearer\s+(\S+)$/i.exec(header);
          if (!match) throw new DomainError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"');
          viewer = await s.auth.authenticate(match[1]!);
        }
        return {
          viewer,
          services: s,
          ip: node ? clientIp(node, config.trustProxy) : null,
          requestId: request.headers.get('x-request-id') ?? randomUUID(),
          loaders: createLoaders(s),
        };
      },
    });
  }

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
      const opened = (name: string, close: () => Promise<unknown>) => closers.push({ name, close });
      try {
        return await listen(port, host, opened);
      } catch (error) {
        for (const { name, close } of closers.reverse()) {
          await close().catch((closeError) => logger.warn({ err: closeError, step: name }, 'close after failed start'));
        }
        services = undefined;
        server = undefined;
        ws = undefined;
        stopTracing = null;
        throw error;
      }
    },

    async stop() {
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
        await services.presence.stop({ cleanup: true });
        await services.hub.stop();
        if (ownsPresence) await services.presenceStore.close();
        if (ownsBus) await services.bus.close();
        if (ownsStore) await services.store.close();
      }
      await stopTracing?.();
    },
  };

  /** start(): tracing, storage, bus, services, HTTP and WebSocket, then listen. */
  async function listen(
    port: number,
    host: string,
    opened: (name: string, close: () => Promise<unknown>) => void,
  ): Promise<{ port: number; url: string }> {
    const tracing = (stopTracing = await startTracing(config.otelEndpoint));
    if (tracing) opened('tracing', tracing);
    const s = (services = await buildServices(opened));
    const shared = createSharedExecution({
      audience: eventAudience,
      viewer: (ctx) => (ctx as Partial<GraphQLContext>).viewer?.userId ?? '',
      maskError,
    });
    const yoga = buildYoga(s, shared) as unknown as YogaServerInstance<
      Record<string, unknown>,
      Record<string, unknown>
    >;
    const httpServer = (server = createServer((req, res) =>
      traced('http.request', { 'http.method': req.method ?? '', 'http.target': (req.url ?? '/').split('?')[0]! }, () =>
        handle(req, res),
      ),
    ));
    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      try {
        if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
        if (path === '/metrics') {
          const body = await metrics.registry.metrics();
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          return res.end(body);
        }
        if (path === '/readyz') {
          if (shuttingDown) return sendJson(res, 503, { status: 'shutting down' });
          try {
            await s.store.ping();
            return sendJson(res, 200, { status: 'ready', database: 'up', bus: s.bus.isUp() ? 'up' : 'down' });
          } catch {
            return sendJson(res, 503, { status: 'unready', database: 'down' });
          }
        }
        if (handleEmbedConfig(req, res, config.embedOrigins)) return;
        if (await serveGraphiQLAsset(req, res, config.graphiql)) return;
        if (await handleRest(yoga, req, res, { maxBodyBytes: config.maxMessageBytes })) return;
        if (path === yoga.graphqlEndpoint || path?.startsWith(`${yoga.graphqlEndpoint}/`)) {
          const refused = refuseHttp(req, config.maxMessageBytes);
          if (refused) return sendJson(res, refused.status, { errors: [refused.error] });
          return yoga(req, res);
        }
        if (
          (req.method === 'GET' || req.method === 'HEAD') &&
          (await serveStatic(config.webDist, req, res, viewerHeaders(config.embedOrigins)))
        )
          return;
        if (path === '/') {
          res.writeHead(302, { location: yoga.graphqlEndpoint });
          return res.end();
        }
        sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'Not found' } });
      } catch (error) {
        logError(error, {}, 'http handler failed');
        if (!res.headersSent)
          sendJson(res, 500, { error: { code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error' } });
        else res.destroy();
      }
    };
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
    logger.info({ url, storage: s.store.kind, bus: config.redisUrl ? 'redis' : 'memory' }, 'listening');
    return { port: address.port, url };
  }
}
