/** The built web UI (WEB_DIST) for GET and HEAD; without a build, / redirects to GraphQL. */
import type { Config } from '../config.js';
import { serveStatic } from '../transport/http.js';
import type { Feature } from '../app/feature.js';

export function webUiFeature(config: Config, headersFor: (file: string) => Record<string, string>): Feature {
  return {
    name: 'web ui',
    async route(req, res, path, { yoga }) {
      if ((req.method === 'GET' || req.method === 'HEAD') && (await serveStatic(config.webDist, req, res, headersFor)))
        return true;
      if (path !== '/') return false;
      res.writeHead(302, { location: yoga.graphqlEndpoint });
      res.end();
      return true;
    },
  };
}
