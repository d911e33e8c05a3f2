/** Per GraphQL execution: a span (resolvers' spans nest under it) and one debug log line. */
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.js';
import type { GraphQLContext } from '../schema/context.js';
import { traced } from '../tracing.js';
import type { Feature } from '../app/feature.js';

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

export function telemetryFeature(logger: Logger): Feature {
  return { name: 'telemetry', plugins: () => [tracingPlugin, loggingPlugin(logger)] };
}
