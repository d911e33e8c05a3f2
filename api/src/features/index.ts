/**
 * The app's features, in order (app/feature.ts): HTTP routes are tried, and GraphQL plugins
 * run, in this order. A new feature is a module here and a line in this list.
 */
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { viewerHeaders } from '../transport/embed-http.js';
import type { Feature } from '../app/feature.js';
import { healthFeature } from './health.js';
import { metricsEndpointFeature } from './metrics-endpoint.js';
import { embedFeature } from './embed.js';
import { graphiqlFeature } from './graphiql.js';
import { telemetryFeature } from './telemetry.js';
import { guardsFeature } from './guards.js';
import { restFeature } from './rest.js';
import { liveDataFeature } from './live-data.js';
import { membershipExpiryFeature } from './membership-expiry.js';
import { graphqlHttpFeature } from './graphql-http.js';
import { webUiFeature } from './web-ui.js';

export function appFeatures({
  config,
  logger,
  registry,
}: {
  config: Config;
  logger: Logger;
  registry: Registry;
}): Feature[] {
  return [
    healthFeature(),
    metricsEndpointFeature(registry),
    embedFeature(config),
    graphiqlFeature(config),
    telemetryFeature(logger),
    guardsFeature(config),
    liveDataFeature(config, logger),
    membershipExpiryFeature(logger),
    restFeature(config),
    graphqlHttpFeature(config),
    webUiFeature(config, viewerHeaders(config.embedOrigins)),
  ];
}
