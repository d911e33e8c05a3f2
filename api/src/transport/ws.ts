/**
 * graphql-ws on `ws`, on the HTTP server's /graphql path. Every operation runs through
 * Yoga's envelop (`yoga.getEnveloped`), so the same plugins (masking, limits) apply as
 * over HTTP. Auth comes from `connection_init { authToken }` (rule AU1): a missing or bad
 * token closes with 4401, and an access token closes the socket with 4401 when it expires
 * (by the injected clock). A database failure while authenticating closes with 1013, which
 * clients retry. Every close for an error takes its code from `closeCodeFor`.
 */
import type { IncomingMessage, Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { makeServer, validateMessage, type Context as WsContext } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { createSourceEventStream, GraphQLError, getOperationAST, type DocumentNode, type ExecutionArgs } from 'graphql';
import type { Logger } from '../logger.js';
import { createErrorLog, type ErrorLog } from '../error-log.js';
import type { Viewer } from '../services/auth-service.js';
import type { Services } from '../services/services.js';
import { DomainError, unauthenticated } from '../errors.js';
import { CloseCode, closeCodeFor } from './close-codes.js';
import { disconnectReason } from '../metrics.js';
import { clientIp } from './http.js';
import type { SharedExecution } from './shared-execution.js';

export interface Connection {
  id: string;
  viewer: Viewer | null;
  ip: string | null;
  expiryTimer?: NodeJS.Timeout;
  /** Live subscriptions on this socket by id (capped per socket). */
  subscriptions: Map<string, { cancel(): void }>;
  /** Counted in socketsPerUser (released on close). */
  counted: boolean;
  /** The TCP socket is corked until the loop's next turn (frames batched into one write). */
  corked?: boolean;
}

export interface WsTransport {
  wss: WebSocketServer;
  /** Closes every socket with `code` (1001 on shutdown) and stops accepting. */
  close(code?: number, reason?: string): Promise<void>;
  connectionCount(): number;
}

type Extra = { socket: WebSocket; request: IncomingMessage };

/**
 * Whose socket budget (MAX_SOCKETS_PER_USER) a socket spends: its user's, but an embed
 * link's sockets (wall screens showing it) have one of their own per dashboard, so a busy
 * embed never locks its maker out of the editor.
 */
function socketBudget(viewer: Viewer): string {
  return viewer.via === 'embed' ? `embed:${viewer.userId}:${viewer.embedDashboardId}` : viewer.userId;
}

/** Closes `socket` with the close code and reason `error` maps to (close-codes.ts). */
function closeFor(socket: WebSocket, error: unknown) {
  const { code, reason } = closeCodeFor(error);
  socket.close(code, reason);
}

export function attachWebSocket(deps: {
  server: Server;
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
  services: Services;
  logger: Logger;
  /** Logs a failure at the level its kind calls for (error-log.ts); defaults to one on `logger`. */
  logError?: ErrorLog;
  /** Subscription events executed and serialised once per shape (shared-execution.ts). */
  shared: SharedExecution;
  /** The server's error masking (the same as Yoga's). */
  maskError(error: unknown): GraphQLError;
  /** Called once per closed socket with a bounded reason label (dash_ws_disconnects_total). */
  onDisconnect?: (reason: string) => void;
}): WsTransport {
  const { services, logger, yoga } = deps;
  const logError = deps.logError ?? createErrorLog(logger);
  const config = services.config;
  const connections = new WeakMap<object, Connection>();
  /** socket -> its graphql-ws context, once connection_init arrived. */
  const contexts = new WeakMap<WebSocket, WsContext<Record<string, unknown> | undefined, Extra>>();
  const wss = new WebSocketServer({
    server: deps.server,
    path: yoga.graphqlEndpoint,
    maxPayload: config.maxMessageBytes,
    // Only the graphql-transport-ws subprotocol is spoken.
    handleProtocols: (protocols) => (protocols.has('graphql-transport-ws') ? 'graphql-transport-ws' : false),
  });
  // `ws` re-emits the HTTP server's errors (a port in use) here; without a listener they would
  // be thrown out of the server's emit before the caller of listen() hears of them.
  wss.on('error', () => {});

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
        for (const s of byToken.get(message.tokenId) ?? []) closeFor(s, unauthenticated('API token revoked'));
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

  const socketsByUser = new Map<string, number>(); // socketBudget -> open sockets on this instance
  const subscribeTimes = new Map<string, number[]>(); // socketBudget -> recent subscription starts (ms)
  const tooMany = (message: string) => [
    new GraphQLError(message, { extensions: { code: 'RATE_LIMITED', retryAfter: 60 } }),
  ];

  /** At most MAX_SUBSCRIPTIONS_PER_SOCKET * 4 new subscriptions a minute per socket budget. */
  function allowSubscriptionStart(budget: string): boolean {
    const now = Date.now();
    const recent = (subscribeTimes.get(budget) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= config.rateLimits.subscriptionsPerSocket * 4) return false;
    recent.push(now);
    subscribeTimes.set(budget, recent);
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
        for (const s of sockets) closeFor(s, unauthenticated('API token revoked'));
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
        subscriptions: new Map(),
        counted: false,
      };
      connections.set(ctx, conn);
    }
    return conn;
  };

  const initialContext = (conn: Connection, request: IncomingMessage, params: unknown) => ({
    req: request,
    params,
    viewer: conn.viewer,
    ip: conn.ip,
    requestId: conn.id,
  });

  const server = makeServer<Record<string, unknown> | undefined, Extra>({
    connectionInitWaitTimeout: config.connectionInitTimeout * 1000,
    execute: (args) => (args.rootValue as { execute(a: ExecutionArgs): unknown }).execute(args) as never,
    subscribe: (args) => (args.rootValue as { subscribe(a: ExecutionArgs): unknown }).subscribe(args) as never,
    onConnect: async (ctx) => {
      const conn = connectionOf(ctx);
      contexts.set(ctx.extra.socket, ctx);
      const token = ctx.connectionParams?.authToken;
      if (typeof token !== 'string' || token === '') {
        closeFor(ctx.extra.socket, unauthenticated('connection_init needs an authToken'));
        return false;
      }
      try {
        conn.viewer = await services.auth.authenticate(token);
      } catch (error) {
        // A bad token is final (4401); a database failure is retryable (1013), as over HTTP.
        logError(error, { connectionId: conn.id }, 'connection_init refused');
        closeFor(ctx.extra.socket, error);
        return false;
      }
      // The socket may have closed while we authenticated: count and watch nothing then.
      if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
      const budget = socketBudget(conn.viewer);
      const open = socketsByUser.get(budget) ?? 0;
      if (open >= config.rateLimits.socketsPerUser) {
        closeFor(ctx.extra.socket, new DomainError('RATE_LIMITED', 'Too many connections for this user'));
        return false;
      }
      socketsByUser.set(budget, open + 1);
      conn.counted = true;
      if (conn.viewer.apiTokenId) watchApiToken(conn.viewer.userId, conn.viewer.apiTokenId, ctx.extra.socket);
      const expiresAt = conn.viewer.expiresAt;
      if (expiresAt && ctx.extra.socket.readyState === ctx.extra.socket.OPEN) {
        // AU1: close at expiry, not at the next message. setTimeout caps at ~24.8 days.
        // Measured with the clock the token was minted and verified with.
        const ms = Math.min(Math.max(0, expiresAt.getTime() - services.clock.now().getTime()), 2 ** 31 - 1);
        conn.expiryTimer = setTimeout(() => closeFor(ctx.extra.socket, unauthenticated('Token expired')), ms);
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
        const budget = socketBudget(conn.viewer);
        const left = (socketsByUser.get(budget) ?? 1) - 1;
        if (left > 0) socketsByUser.set(budget, left);
        else {
          socketsByUser.delete(budget);
          subscribeTimes.delete(budget);
        }
      }
      logger.debug({ connectionId: conn?.id, code }, 'socket closed');
    },
    // Queries and mutations (subscriptions take the lean path below).
    onSubscribe: async (ctx, _id, payload) => {
      const conn = connectionOf(ctx);
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped(
        initialContext(conn, ctx.extra.request, payload),
      );
      let document;
      try {
        document = parse(payload.query);
      } catch (error) {
        // One bad operation fails alone; the socket and its other subscriptions live on.
        return [parseFailed(error)];
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
      return args;
    },
  });

  const parseFailed = (error: unknown) =>
    new GraphQLError((error as Error).message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });

  /** (query, operationName) -> is it a subscription? Bounded; parsed by Yoga (limits apply). */
  const kinds = new Map<string, boolean>();
  function isSubscription(
    conn: Connection,
    request: IncomingMessage,
    payload: { query: string; operationName?: unknown },
  ) {
    const key = `${typeof payload.operationName === 'string' ? payload.operationName : ''}\u0000${payload.query}`;
    let kind = kinds.get(key);
    if (kind === undefined) {
      let document: DocumentNode;
      try {
        document = yoga.getEnveloped(initialContext(conn, request, payload)).parse(payload.query);
      } catch {
        return false; // graphql-ws reports the parse error
      }
      const name = typeof payload.operationName === 'string' ? payload.operationName : undefined;
      kind = getOperationAST(document, name)?.operation === 'subscription';
      if (kinds.size >= 1000) kinds.clear();
      if (key.length <= 16_384) kinds.set(key, kind);
    }
    return kind;
  }

  /**
   * A subscription, without graphql-ws's per-operation machinery: parsed and validated by
   * Yoga (cached, the guard rules apply), its source stream from the subscribe resolver,
   * then each event's frame, executed and serialised once per shape, written straight to
   * the socket. What stays per subscriber is the hub's subscriber and the operation's
   * context. Protocol as graphql-ws: next*, then complete (or error); a client's complete
   * cancels it.
   */
  async function subscribeLean(
    ctx: WsContext<Record<string, unknown> | undefined, Extra>,
    conn: Connection,
    id: string,
    payload: { query: string; operationName?: unknown; variables?: unknown },
  ) {
    const { socket, request } = ctx.extra;
    let source: AsyncGenerator<unknown> | null = null;
    let cancelled = false;
    const subscription = {
      cancel() {
        cancelled = true;
        release();
        void source?.return(undefined);
      },
    };
    /** Forgets this subscription, not a newer one that reuses its id after a complete. */
    const release = () => {
      if (conn.subscriptions.get(id) === subscription) conn.subscriptions.delete(id);
    };
    const frame = (type: 'next' | 'error' | 'complete', payloadJson?: string) => {
      if (socket.readyState !== socket.OPEN || conn.subscriptions.get(id) !== subscription) return false;
      const head = `{"id":${JSON.stringify(id)},"type":"${type}"`;
      socket.send(payloadJson === undefined ? `${head}}` : `${head},"payload":${payloadJson}}`);
      return true;
    };
    const fail = (errors: readonly GraphQLError[]) => {
      frame('error', JSON.stringify(errors.map((e) => e.toJSON())));
      release();
    };
    const full = conn.subscriptions.size >= config.rateLimits.subscriptionsPerSocket;
    conn.subscriptions.set(id, subscription); // from here on a duplicate id is refused
    if (full) return fail(tooMany(`At most ${config.rateLimits.subscriptionsPerSocket} subscriptions per connection`));
    if (conn.viewer && !allowSubscriptionStart(socketBudget(conn.viewer))) {
      return fail(tooMany('Too many new subscriptions: retry after 60 seconds'));
    }
    try {
      const { schema, contextFactory, parse, validate } = yoga.getEnveloped(initialContext(conn, request, payload));
      let document;
      try {
        document = parse(payload.query);
      } catch (error) {
        return fail([parseFailed(error)]);
      }
      const errors = validate(schema, document);
      if (errors.length > 0) return fail(errors);
      const args: ExecutionArgs = {
        schema,
        document,
        operationName: typeof payload.operationName === 'string' ? payload.operationName : undefined,
        variableValues: (payload.variables ?? undefined) as ExecutionArgs['variableValues'],
        contextValue: await contextFactory(),
      };
      if (cancelled) return;
      const result = await createSourceEventStream(args);
      if (!(Symbol.asyncIterator in Object(result))) {
        // The subscribe resolver refused (NOT_FOUND, FORBIDDEN...): one result, then complete.
        const { errors: refused = [] } = result as { errors?: readonly GraphQLError[] };
        frame('next', JSON.stringify({ errors: refused.map((e) => deps.maskError(e).toJSON()) }));
        frame('complete');
        return release();
      }
      source = result as AsyncGenerator<unknown>;
      if (cancelled) return void source.return(undefined);
      // Written straight to the socket. Frames are coalesced until the event loop's next
      // turn (setImmediate: after the I/O callbacks of this turn), so a group commit, or the
      // cursor moves of many requests read in one turn, cost one syscall per socket, not one
      // per frame.
      await deps.shared.stream(source, args, (json) => {
        if (conn.corked) return frame('next', json);
        // What earlier turns queued and the peer has not read yet (this turn's own burst,
        // e.g. a catch-up page, does not count): wait for it to drain, a while.
        if (socket.bufferedAmount > config.wsMaxBufferedBytes) {
          return drained(request.socket).then((ok) => {
            if (ok) return send(json);
            cutSlowConsumer(socket, conn);
            return false;
          });
        }
        return send(json);
      });
      frame('complete');
      release();
    } catch (error) {
      fail([deps.maskError(error)]);
    }

    function send(json: string) {
      if (!conn.corked) {
        const tcp = request.socket;
        conn.corked = true;
        tcp.cork();
        setImmediate(() => {
          conn.corked = false;
          tcp.uncork();
        });
      }
      return frame('next', json);
    }
  }

  /** Resolves true once `tcp` has written out its queue, false after half a ping interval. */
  function drained(tcp: import('node:net').Socket): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        tcp.off('drain', onDrain);
        tcp.off('close', onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => done(false), config.keepAliveMs / 2);
      tcp.once('drain', onDrain);
      tcp.once('close', onClose);
    });
  }

  /**
   * A peer that does not drain its socket is closed with 1013 (retryable: it reconnects and
   * resumes from its last version) rather than buffered without bound. Its subscriptions end
   * at once (presence leaves), and the socket is cut if the close handshake does not finish.
   */
  function cutSlowConsumer(socket: WebSocket, conn: Connection) {
    for (const subscription of [...conn.subscriptions.values()]) subscription.cancel();
    socket.close(CloseCode.TryAgainLater, 'Slow consumer: reconnect and resume from your last version');
    setTimeout(() => socket.terminate(), 1000).unref();
  }

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.once('error', (error) => {
      logger.warn({ err: error }, 'WebSocket error');
      closeFor(socket, error);
    });
    let ctx: WsContext<Record<string, unknown> | undefined, Extra> | undefined;
    const closed = server.opened(
      {
        protocol: socket.protocol,
        // A send to a socket that died meanwhile is not an error worth a log line.
        send: (data) =>
          new Promise<void>((resolve) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, () => resolve());
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) => {
          socket.on('message', (data) => {
            const text = String(data);
            ctx ??= contexts.get(socket);
            const conn = ctx && connections.get(ctx);
            if (ctx?.acknowledged && conn) {
              let message: { type?: unknown; id?: unknown; payload?: unknown } | null = null;
              try {
                message = validateMessage(JSON.parse(text));
              } catch {
                // graphql-ws answers malformed messages (4400)
              }
              if (message && typeof message.id === 'string' && message.id !== '') {
                const id = message.id;
                if (message.type === 'complete' && conn.subscriptions.has(id)) {
                  conn.subscriptions.get(id)!.cancel();
                  return;
                }
                const payload = message.payload as { query?: unknown } | null;
                if (message.type === 'subscribe' && payload && typeof payload.query === 'string') {
                  if (conn.subscriptions.has(id) || id in ctx.subscriptions) {
                    socket.close(CloseCode.DuplicateOperationId, `Subscriber for ${id} already exists`);
                    return;
                  }
                  const operation = payload as { query: string; operationName?: unknown; variables?: unknown };
                  if (isSubscription(conn, request, operation)) {
                    subscribeLean(ctx, conn, id, operation).catch((error) =>
                      logError(error, { connectionId: conn.id }, 'subscription failed'),
                    );
                    return;
                  }
                }
              }
            }
            handle(text).catch((error) => {
              logError(error, { connectionId: conn?.id }, 'WebSocket message handling failed');
              closeFor(socket, error);
            });
          });
        },
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      const conn = ctx && connections.get(ctx);
      // PR1: every subscription ends with its socket (its clients leave presence).
      if (conn) for (const subscription of [...conn.subscriptions.values()]) subscription.cancel();
      void closed(code, String(reason));
    });
  });

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
