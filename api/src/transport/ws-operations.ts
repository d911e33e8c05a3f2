/**
 * The graphql-ws server (graphql-ws's makeServer, the transport-agnostic core) as this app
 * configures it: connection_init is answered by the socket gate (AU1 4401 / 1013, the socket
 * cap 4429, ws-auth.ts) within CONNECTION_INIT_TIMEOUT (4408); a closed socket gives its
 * budget back and counts in dash_ws_disconnects_total; queries and mutations run the regular
 * path, through Yoga's envelop, so the same plugins (masking, limits) apply as over HTTP.
 * Subscriptions take the lean path (ws-lean.ts) before they reach it.
 */
import { makeServer } from 'graphql-ws';
import type { ExecutionArgs } from 'graphql';
import type { Logger } from '../logger.js';
import type { Config } from '../config.js';
import { disconnectReason } from '../metrics.js';
import type { SocketGate } from './ws-auth.js';
import { initialContext, parseFailed, type Connections, type Extra, type Yoga } from './ws-connection.js';

export function createOperationServer(deps: {
  yoga: Yoga;
  config: Config;
  logger: Logger;
  connections: Connections;
  gate: Pick<SocketGate, 'admit' | 'release'>;
  onDisconnect?: (reason: string) => void;
}) {
  const { yoga, logger, connections } = deps;
  return makeServer<Record<string, unknown> | undefined, Extra>({
    connectionInitWaitTimeout: deps.config.connectionInitTimeout * 1000,
    execute: (args) => (args.rootValue as { execute(a: ExecutionArgs): unknown }).execute(args) as never,
    subscribe: (args) => (args.rootValue as { subscribe(a: ExecutionArgs): unknown }).subscribe(args) as never,
    onConnect: async (ctx) => {
      const conn = connections.of(ctx);
      connections.bind(ctx);
      return deps.gate.admit(conn, ctx.extra.socket, ctx.connectionParams);
    },
    onClose: (ctx, code) => {
      deps.onDisconnect?.(disconnectReason(code));
      const conn = connections.get(ctx);
      deps.gate.release(conn);
      logger.debug({ connectionId: conn?.id, code }, 'socket closed');
    },
    // Queries and mutations (subscriptions take the lean path).
    onSubscribe: async (ctx, _id, payload) => {
      const conn = connections.of(ctx);
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
}
