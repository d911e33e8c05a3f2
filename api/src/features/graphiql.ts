/** GraphiQL at /graphql (GRAPHIQL=true), its script and styles served from /graphiql/, not a CDN. */
import type { Config } from '../config.js';
import { renderGraphiQL, serveGraphiQLAsset } from '../transport/graphiql.js';
import type { Feature } from '../app/feature.js';

export function graphiqlFeature(config: Config): Feature {
  return {
    name: 'graphiql',
    yoga: {
      graphiql: config.graphiql ? { title: 'Dashboards API', subscriptionsProtocol: 'WS' } : false,
      renderGraphiQL,
    },
    route: (req, res) => serveGraphiQLAsset(req, res, config.graphiql),
  };
}
