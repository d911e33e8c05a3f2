/** GET /metrics: the app's Prometheus registry (metrics.ts and every feature's own). */
import type { Registry } from 'prom-client';
import type { Feature } from '../app/feature.js';

export function metricsEndpointFeature(registry: Registry): Feature {
  return {
    name: 'metrics endpoint',
    async route(_req, res, path) {
      if (path !== '/metrics') return false;
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(body);
      return true;
    },
  };
}
