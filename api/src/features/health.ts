/** Liveness (/healthz: the process answers) and readiness (/readyz: the database answers, not stopping). */
import { sendJson } from '../transport/http.js';
import type { Feature } from '../app/feature.js';

export function healthFeature(): Feature {
  return {
    name: 'health',
    async route(_req, res, path, { services, stopping }) {
      if (path === '/healthz') {
        sendJson(res, 200, { status: 'ok' });
        return true;
      }
      if (path !== '/readyz') return false;
      if (stopping) {
        sendJson(res, 503, { status: 'shutting down' });
        return true;
      }
      try {
        await services.store.ping();
        sendJson(res, 200, { status: 'ready', database: 'up', bus: services.bus.isUp() ? 'up' : 'down' });
      } catch {
        sendJson(res, 503, { status: 'unready', database: 'down' });
      }
      return true;
    },
  };
}
