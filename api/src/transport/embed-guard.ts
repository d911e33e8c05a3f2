/**
 * Narrowed credentials on every transport (rules EM1, SC1), as one envelop plugin so HTTP,
 * SSE, REST and WebSocket operations all pass it: the context of an operation made with an
 * embed token or a scoped API token sees its services narrowed (services/access-scope.ts),
 * and a mutation made with an embed token is FORBIDDEN before any resolver runs.
 */
import { getOperationAST, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { forbidden } from '../errors.js';
import type { GraphQLContext } from '../schema/context.js';
import { embedScope } from '../services/embed-scope.js';
import { isScopedToken, servicesFor } from '../services/access-scope.js';

const READ_ONLY = 'An embed token is read-only';

export function embedGuardPlugin(): Plugin<GraphQLContext> {
  return {
    onContextBuilding({ context, extendContext }) {
      const ctx = context as Partial<GraphQLContext>;
      if (ctx.services && (embedScope(ctx.viewer) !== null || isScopedToken(ctx.viewer))) {
        extendContext({ services: servicesFor(ctx.services, ctx.viewer, ctx.ip ?? null) });
      }
    },
    onExecute({ args, setExecuteFn }) {
      if (embedScope((args.contextValue as Partial<GraphQLContext>).viewer) === null) return;
      if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      // Replaces execution rather than stopping it, so masking, metrics and logs still see it.
      setExecuteFn(() => ({
        errors: [
          new GraphQLError(READ_ONLY, { originalError: forbidden(READ_ONLY), extensions: { code: 'FORBIDDEN' } }),
        ],
      }));
    },
  };
}
