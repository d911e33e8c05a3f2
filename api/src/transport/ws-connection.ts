/**
 * What the WebSocket files share about one socket: its Connection (the viewer AU1 admitted,
 * its lean subscriptions, capped per socket, and whether its frames are being coalesced), the
 * graphql-ws context it belongs to, and the context every operation on it starts from, the
 * same as over HTTP.
 */
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Context as WsContext } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
import type { Viewer } from '../services/auth-service.js';
import { clientIp } from './http.js';

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

export type Extra = { socket: WebSocket; request: IncomingMessage };

/** The Yoga server whose envelop (parse, validate, plugins) every socket operation runs through. */
export type Yoga = YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;

/** A socket's graphql-ws context. */
export type SocketContext = WsContext<Record<string, unknown> | undefined, Extra>;

/** The Connection of each graphql-ws context, and the context of each socket. */
export function createConnections(trustProxy: boolean) {
  const connections = new WeakMap<object, Connection>();
  /** socket -> its graphql-ws context, once connection_init arrived. */
  const contexts = new WeakMap<WebSocket, SocketContext>();
  return {
    /** The Connection of `ctx`, made on first use. */
    of(ctx: SocketContext): Connection {
      let conn = connections.get(ctx);
      if (!conn) {
        conn = {
          id: randomUUID(),
          viewer: null,
          ip: clientIp(ctx.extra.request, trustProxy),
          subscriptions: new Map(),
          counted: false,
        };
        connections.set(ctx, conn);
      }
      return conn;
    },
    /** The Connection of `ctx`, if one was made. */
    get: (ctx: SocketContext) => connections.get(ctx),
    /** Records `ctx` as the context of its socket (at connection_init). */
    bind: (ctx: SocketContext) => void contexts.set(ctx.extra.socket, ctx),
    contextOf: (socket: WebSocket) => contexts.get(socket),
  };
}

export type Connections = ReturnType<typeof createConnections>;

/** The initial context of an operation on `conn`'s socket (Yoga's envelop builds on it). */
export const initialContext = (conn: Connection, request: IncomingMessage, params: unknown) => ({
  req: request,
  params,
  viewer: conn.viewer,
  ip: conn.ip,
  requestId: conn.id,
});

/** The error one unparsable operation fails with (the socket and its other operations live on). */
export const parseFailed = (error: unknown) =>
  new GraphQLError((error as Error).message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
