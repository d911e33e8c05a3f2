/**
 * The lean subscription path (SUB1 fan-out on WebSocket): a `subscribe` message for a
 * subscription operation skips graphql-ws's per-operation machinery. Parsed and validated by
 * Yoga (cached, the guard rules apply), its source stream comes from the subscribe resolver,
 * and each event's frame, executed and serialised once per shape (shared-execution.ts), goes
 * straight to the socket (ws-frames.ts). Protocol as graphql-ws (PROTOCOL.md): next*, then
 * complete (or error); a client's complete cancels it; a duplicate id closes with 4409. Caps:
 * MAX_SUBSCRIPTIONS_PER_SOCKET live per socket and the start budget (ws-auth.ts), both
 * refused with a RATE_LIMITED error. Queries and mutations are left to graphql-ws.
 */
import type { IncomingMessage } from 'node:http';
import { validateMessage } from 'graphql-ws';
import { createSourceEventStream, getOperationAST, type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql';
import { CloseCode } from '@collab-dashboards/core';
import type { Config } from '../config.js';
import type { ErrorLog } from '../error-log.js';
import type { SharedExecution } from './shared-execution.js';
import { socketBudget, tooMany, type SocketGate } from './ws-auth.js';
import { initialContext, parseFailed, type Connection, type SocketContext, type Yoga } from './ws-connection.js';
import { nextFrameWriter } from './ws-frames.js';

type Operation = { query: string; operationName?: unknown; variables?: unknown };

export type LeanSubscriptions = ReturnType<typeof createLeanSubscriptions>;

export function createLeanSubscriptions(deps: {
  yoga: Yoga;
  config: Config;
  shared: SharedExecution;
  maskError(error: unknown): GraphQLError;
  gate: Pick<SocketGate, 'allowSubscriptionStart'>;
  logError: ErrorLog;
}) {
  const { yoga, config } = deps;

  /** (query, operationName) -> is it a subscription? Bounded; parsed by Yoga (limits apply). */
  const kinds = new Map<string, boolean>();
  function isSubscription(conn: Connection, request: IncomingMessage, payload: Operation) {
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
   * A subscription, without graphql-ws's per-operation machinery. What stays per subscriber
   * is the hub's subscriber and the operation's context.
   */
  async function subscribeLean(ctx: SocketContext, conn: Connection, id: string, payload: Operation) {
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
    if (conn.viewer && !deps.gate.allowSubscriptionStart(socketBudget(conn.viewer))) {
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
      await deps.shared.stream(
        source,
        args,
        nextFrameWriter(config, socket, request.socket, conn, (json) => frame('next', json)),
      );
      frame('complete');
      release();
    } catch (error) {
      fail([deps.maskError(error)]);
    }
  }

  /**
   * Takes a message of an acknowledged socket that belongs to the lean path (a subscribe to a
   * subscription, a complete of a lean one, a duplicate id) and says so; graphql-ws handles
   * every other message, malformed ones included (4400).
   */
  function take(ctx: SocketContext, conn: Connection, text: string): boolean {
    const { socket, request } = ctx.extra;
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
        return true;
      }
      const payload = message.payload as { query?: unknown } | null;
      if (message.type === 'subscribe' && payload && typeof payload.query === 'string') {
        if (conn.subscriptions.has(id) || id in ctx.subscriptions) {
          socket.close(CloseCode.DuplicateOperationId, `Subscriber for ${id} already exists`);
          return true;
        }
        const operation = payload as Operation;
        if (isSubscription(conn, request, operation)) {
          subscribeLean(ctx, conn, id, operation).catch((error) =>
            deps.logError(error, { connectionId: conn.id }, 'subscription failed'),
          );
          return true;
        }
      }
    }
    return false;
  }

  return { take };
}
