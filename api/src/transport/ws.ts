/**
 * graphql-ws on `ws`, on the HTTP server's /graphql path. Every operation runs through
 * Yoga's envelop (`yoga.getEnveloped`), so the same plugins (masking, limits) apply as
 * over HTTP. Auth comes from `connection_init { authToken }` (rule AU1): a missing or bad
 * token closes with 4401, and an access token closes the socket with 4401 when it expires.
 */
import type { IncomingMessage, Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Context as WsContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { GraphQLError, getOperationAST, type ExecutionArgs } from 'graphql';
import type { Logger } from '../logger.js';
import type { Viewer } from '../services/auth-service.js';
import type { Services } from '../services/services.js';
import { DomainError } from '../errors.js';
import { CloseCode } from './close-codes.js';
import { disconnectReason } from '../metrics.js';
import { clientIp } from './http.js';
import type { FrameSink } from './shared-execution.js';

export interface Connection {
  id: string;
  viewer: Viewer | null;
  ip: string | null;
  expiryTimer?: NodeJS.Timeout;
  /** Live subscription ids on this socket (capped per socket). */
  subscriptions: Set<string>;
  /** Counted in socketsPerUser (released on close). */
  counted: boolean;
  /** The TCP socket is corked until the end of this tick (frames batched into one write). */
  corked?: boolean;
}

export interface WsTransport {
  wss: WebSocketServer;
  /** Closes every socket with `code` (1001 on shutdown) and stops accepting. */
  close(code?: number, reason?: string): Promise<void>;
  connectionCount(): number;
}

type Extra = { socket: WebSocket; request: IncomingMessage };

export function attachWebSocket(deps: {
  server: Server;
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
  services: Services;
  logger: Logger;
  /** Called once per closed socket with a bounded reason label (dash_ws_disconnects_total). */
  onDisconnect?: (reason: string) => void;
}): WsTransport {
  const { services, logger, yoga } = deps;
  const config = services.config;
  const connections = new WeakMap<object, Connection>();
  const wss = new WebSocketServer({
    server: deps.server,
    path: yoga.graphqlEndpoint,
    maxPayload: config.maxMessageBytes,
    // Only the graphql-transport-ws subprotocol is spoken.
    handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false),
  });

  // API tokens never expire, so a revocation must reach the sockets they opened, on every
  // instance: userId -> { sockets by apiTokenId, the bus subscription }.
  const apiSockets = new Map<
    string,
    { byToken: Map<string, Set<WebSocket>>; unsubscribe: Promise<() => Promise<void>> }
  >();

  function watchApiToken(userId: string, tokenId: string, socket: WebSocket) {
    let entry = apiSockets.get(userId);
    if (!entry) {
      const byToken = new Map<string, Set<WebSocket>>();
      const unsubscribe = services.bus.subscribe(`user:${userId}`, (message) => {
        if (message.type !== 'api-token-revoked') return;
        for (const s of byToken.get(message.tokenId) ?? []) s.close(CloseCode.Unauthorized, 'API token revoked');
      });
      // A revocation published before the subscription was confirmed would be missed.
      unsubscribe.then(
        () => void recheckApiTokens(userId),
        (error) => logger.warn({ err: error }, 'user topic subscribe failed'),
      );
      entry = { byToken, unsubscribe };
      apiSockets.set(userId, entry);
    }
    let sockets = entry.byToken.get(tokenId);
    if (!sockets) entry.byToken.set(tokenId, (sockets = new Set()));
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) entry.byToken.delete(tokenId);
      if (entry.byToken.size === 0) {
        apiSockets.delete(userId);
        entry.unsubscribe.then((stop) => stop()).catch(() => {});
      }
    });
  }

  const socketsByUser = new Map<string, number>(); // userId -> open sockets on this instance
  const subscribeTimes = new Map<string, number[]>(); // userId -> recent subscription starts (ms)
  const tooMany = (message: string) => [
    new GraphQLError(message, { extensions: { code: 'RATE_LIMITED', retryAfter: 60 } }),
  ];

  /** At most MAX_SUBSCRIPTIONS_PER_SOCKET * 4 new subscriptions a minute per user. */
  function allowSubscriptionStart(userId: string): boolean {
    const now = Date.now();
    const recent = (subscribeTimes.get(userId) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= config.rateLimits.subscriptionsPerSocket * 4) return false;
    recent.push(now);
    subscribeTimes.set(userId, recent);
    return true;
  }

  /** Closes sockets whose API token is no longer live (after a bus gap, SUB2). */
  async function recheckApiTokens(userId: string) {
    const entry = apiSockets.get(userId);
    if (!entry) return;
    try {
      const live = new Set((await services.store.listApiTokens(userId)).map((t) => t.id));
      for (const [tokenId, sockets] of entry.byToken) {
        if (live.has(tokenId)) continue;
        for (const s of sockets) s.close(CloseCode.Unauthorized, 'API token revoked');
      }
    } catch (error) {
      logger.warn({ err: error }, 'API token re-check failed');
    }
  }
  const stopRecheckOnReconnect = services.bus.onReconnect(() => {
    for (const userId of apiSockets.keys()) void recheckApiTokens(userId);
  });

  const connectionOf = (ctx: WsContext<Record<string, unknown> | undefined, Extra>) => {
    let conn = connections.get(ctx);
    if (!conn) {
      conn = {
        id: randomUUID(),
        viewer: null,
        ip: clientIp(ctx.extra.request, config.trustProxy),
        subscriptions: new Set(),
        counted: false,
      };
      connections.set(ctx, conn);
    }
    return conn;
  };

  useServer<Record<string, unknown> | undefined, Extra>(
    {
      connectionInitWaitTimeout: config.connectionInitTimeout * 1000,
      execute: (args) => (args.rootValue as { execute(a: ExecutionArgs): unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe(a: ExecutionArgs): unknown }).subscribe(args) as never,
      onConnect: async (ctx) => {
        const conn = connectionOf(ctx);
        const token = ctx.connectionParams?.authToken;
        if (typeof token !== 'string' || token === '') {
          ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized: connection_init needs an authToken');
          return false;
        }
        try {
          conn.viewer = await services.auth.authenticate(token);
        } catch (error) {
          const reason = error instanceof DomainError ? error.message : 'Unauthorized';
          ctx.extra.socket.close(CloseCode.Unauthorized, `Unauthorized: ${reason}`.slice(0, 120));
          return false;
        }
        // The socket may have closed while we authenticated: count and watch nothing then.
        if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
        const open = socketsByUser.get(conn.viewer.userId) ?? 0;
        if (open >= config.rateLimits.socketsPerUser) {
          ctx.extra.socket.close(CloseCode.TooManyRequests, 'Too many connections for this user');
          return false;
        }
        socketsByUser.set(conn.viewer.userId, open + 1);
        conn.counted = true;
        if (conn.viewer.apiTokenId) watchApiToken(conn.viewer.userId, conn.viewer.apiTokenId, ctx.extra.socket);
        const expiresAt = conn.viewer.expiresAt;
        if (expiresAt && ctx.extra.socket.readyState === ctx.extra.socket.OPEN) {
          // AU1: close at expiry, not at the next message. setTimeout caps at ~24.8 days.
          const ms = Math.min(Math.max(0, expiresAt.getTime() - Date.now()), 2 ** 31 - 1);
          conn.expiryTimer = setTimeout(() => ctx.extra.socket.close(CloseCode.Unauthorized, 'Token expired'), ms);
          conn.expiryTimer.unref();
        }
        logger.debug({ connectionId: conn.id, userId: conn.viewer.userId }, 'socket connected');
        return true;
      },
      onClose: (ctx, code) => {
        deps.onDisconnect?.(disconnectReason(code));
        const conn = connections.get(ctx);
        if (conn?.expiryTimer) clearTimeout(conn.expiryTimer);
        if (conn?.counted && conn.viewer) {
          const left = (socketsByUser.get(conn.viewer.userId) ?? 1) - 1;
          if (left > 0) socketsByUser.set(conn.viewer.userId, left);
          else {
            socketsByUser.delete(conn.viewer.userId);
            subscribeTimes.delete(conn.viewer.userId);
          }
        }
        logger.debug({ connectionId: conn?.id, code }, 'socket closed');
      },
      onComplete: (ctx, id) => {
        connections.get(ctx)?.subscriptions.delete(id);
      },
      onSubscribe: async (ctx, id, payload) => {
        const conn = connectionOf(ctx);
        const socket = ctx.extra.socket;
        const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
        // Subscription events are written here, serialised once for all subscribers of the
        // same shape (shared-execution.ts). A consumer too slow to drain its socket is closed
        // with 1013 rather than buffered without bound: it reconnects and resumes from its
        // last version.
        const frames: FrameSink = {
          send(json) {
            if (socket.readyState !== socket.OPEN || !(id in ctx.subscriptions)) return false;
            if (socket.bufferedAmount > config.wsMaxBufferedBytes) {
              socket.close(CloseCode.TryAgainLater, 'Slow consumer: reconnect and resume from your last version');
              return false;
            }
            // Frames sent in one tick leave in one write: a burst of ops (a group commit)
            // costs one syscall per socket, not one per frame.
            if (!conn.corked) {
              const tcp = ctx.extra.request.socket;
              conn.corked = true;
              tcp.cork();
              process.nextTick(() => {
                conn.corked = false;
                tcp.uncork();
              });
            }
            socket.send(`${prefix}${json}}`);
            return true;
          },
        };
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          viewer: conn.viewer,
          ip: conn.ip,
          requestId: conn.id,
          frames,
        });
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          // One bad operation fails alone; the socket and its other subscriptions live on.
          return [new GraphQLError((error as Error).message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length > 0) return errors;
        // Caps count subscriptions only: queries and mutations over the socket end at once.
        if (getOperationAST(document, payload.operationName)?.operation === 'subscription') {
          if (conn.subscriptions.size >= config.rateLimits.subscriptionsPerSocket) {
            return tooMany(`At most ${config.rateLimits.subscriptionsPerSocket} subscriptions per connection`);
          }
          if (conn.viewer && !allowSubscriptionStart(conn.viewer.userId)) {
            return tooMany('Too many new subscriptions: retry after 60 seconds');
          }
          conn.subscriptions.add(id);
        }
        return args;
      },
    },
    wss,
    0, // keep-alive is ours (below): one timer for all sockets, not one per socket
  );

  // Keep-alive: a socket that has not answered the previous ping is dead (PR1: its
  // subscriptions end, so its clients leave the room).
  const alive = new WeakSet<WebSocket>();
  wss.on('connection', (socket) => {
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
  });
  const keepAlive = setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, config.keepAliveMs);
  keepAlive.unref();

  return {
    wss,
    connectionCount: () => wss.clients.size,
    async close(code = CloseCode.GoingAway, reason = 'Server shutting down') {
      clearInterval(keepAlive);
      stopRecheckOnReconnect();
      for (const socket of wss.clients) socket.close(code, reason);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
