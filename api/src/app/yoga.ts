/**
 * The GraphQL server every transport executes through (HTTP, SSE, REST and WebSocket): the
 * schema, the request context, error masking, and the features' plugins and options.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { ErrorLog } from '../error-log.js';
import type { Metrics } from '../metrics.js';
import { DomainError } from '../errors.js';
import { getSchema } from '../schema/index.js';
import { createLoaders, type GraphQLContext } from '../schema/context.js';
import { toGraphQLError } from '../schema/errors.js';
import type { Services } from '../services/services.js';
import { clientIp } from '../transport/http.js';
import type { SharedExecution } from '../transport/shared-execution.js';
import { featurePlugins, featureYogaOptions, type Feature, type Yoga } from './feature.js';

/**
 * Every error a client receives passes here once: masked, counted, and logged at the level
 * its kind calls for (error-log.ts: expected codes at info or warn without a stack,
 * unexpected ones at error with it).
 */
export const createMaskError = (metrics: Metrics, logError: ErrorLog) => (error: unknown) => {
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
function yogaLogger(logger: Logger) {
  const forward =
    (level: 'debug' | 'info' | 'warn') =>
    (...args: unknown[]) =>
      (logger[level] as (...a: unknown[]) => void)(...args);
  return { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: () => {} };
}

/** The context of an operation: from a socket (already authenticated), or from an HTTP request. */
const contextFor =
  (s: Services, config: Config) =>
  async (initial: unknown): Promise<GraphQLContext> => {
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
    const node = (initial as { req?: IncomingMessage }).req;
    const ip = node ? clientIp(node, config.trustProxy) : null;
    let viewer = null;
    if (header) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match) throw new DomainError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"');
      viewer = await s.auth.authenticate(match[1]!, ip);
    }
    return {
      viewer,
      services: s,
      ip,
      requestId: request.headers.get('x-request-id') ?? randomUUID(),
      loaders: createLoaders(s),
    };
  };

export function createYogaServer(options: {
  config: Config;
  logger: Logger;
  services: Services;
  shared: SharedExecution;
  maskError: (error: unknown) => GraphQLError;
  features: readonly Feature[];
}): Yoga {
  const { config, services, shared, features } = options;
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema: getSchema(),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maxRequestBodySize: config.maxMessageBytes,
    graphiql: false, // unless a feature serves it
    cors: config.corsOrigins ? { origin: config.corsOrigins, credentials: false } : undefined,
    ...featureYogaOptions(features),
    logging: yogaLogger(options.logger),
    maskedErrors: { maskError: options.maskError },
    plugins: [shared.plugin, ...featurePlugins(features)],
    context: contextFor(services, config),
  });
  return yoga as unknown as Yoga;
}
