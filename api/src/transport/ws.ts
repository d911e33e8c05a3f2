/**
 * graphql-ws on `ws`, on the HTTP server's /graphql path: the host adapter, as graphql-ws's
 * src/use/ws.ts is to its src/server.ts. It owns the WebSocketServer (upgrade, only the
 * graphql-transport-ws subprotocol, MAX_MESSAGE_BYTES: 1009), each socket's lifecycle (PR1:
 * every subscription ends with its socket), the keep-alive ping (PR1: a socket that misses a
 * pong is terminated, so its clients leave presence) and shutdown (1001). The rest, each
 * file naming its rules:
 * - ws-auth.ts: connection_init auth and token expiry (AU1: 4401, 1013 on a database
 *   failure), API-token revocation, the per-user socket and subscription-start caps (4429);
 * - ws-operations.ts: the graphql-ws server, and the regular path for queries and mutations;
 * - ws-lean.ts: the lean subscription path (SUB1, 4409 on a duplicate id);
 * - ws-frames.ts: frames coalesced per socket, backpressure (slow consumer: 1013);
 * - ws-connection.ts: what they share about a socket.
 * Every close for an error takes its code from `closeCodeFor` (close-codes.ts).
 */
import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { GraphQLError } from 'graphql';
import { CloseCode } from '@collab-dashboards/core';
import type { Logger } from '../logger.js';
import { createErrorLog, type ErrorLog } from '../error-log.js';
import type { Services } from '../services/services.js';
import type { SharedExecution } from './shared-execution.js';
import { closeFor, createSocketGate } from './ws-auth.js';
import { createConnections, type SocketContext, type Yoga } from './ws-connection.js';
import { createLeanSubscriptions } from './ws-lean.js';
import { createOperationServer } from './ws-operations.js';

export type { Connection } from './ws-connection.js';

export interface WsTransport {
  wss: WebSocketServer;
  /** Closes every socket with `code` (1001 on shutdown) and stops accepting. */
  close(code?: number, reason?: string): Promise<void>;
  connectionCount(): number;
}

export function attachWebSocket(deps: {
  server: Server;
  yoga: Yoga;
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
  const connections = createConnections(config.trustProxy);
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

  const gate = createSocketGate({ services, logger, logError });
  const server = createOperationServer({ yoga, config, logger, connections, gate, onDisconnect: deps.onDisconnect });
  const lean = createLeanSubscriptions({
    yoga,
    config,
    shared: deps.shared,
    maskError: deps.maskError,
    gate,
    logError,
  });

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.once('error', (error) => {
      logger.warn({ err: error }, 'WebSocket error');
      closeFor(socket, error);
    });
    let ctx: SocketContext | undefined;
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
            ctx ??= connections.contextOf(socket);
            const conn = ctx && connections.get(ctx);
            if (ctx?.acknowledged && conn && lean.take(ctx, conn, text)) return;
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
      gate.stop();
      for (const socket of wss.clients) socket.close(code, reason);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
