/**
 * The HTTP server: a span per request, the features' routes in order, then 404; a route
 * that throws is logged and answered 500 (or its response cut when it had begun).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ErrorLog } from '../error-log.js';
import { traced } from '../tracing.js';
import { sendJson } from '../transport/http.js';
import { routeRequest, type Feature, type RunningApp } from './feature.js';

export function createHttpServer(features: readonly Feature[], app: RunningApp, logError: ErrorLog): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (await routeRequest(features, req, res, path, app)) return;
      sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'Not found' } });
    } catch (error) {
      logError(error, {}, 'http handler failed');
      if (!res.headersSent)
        sendJson(res, 500, { error: { code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error' } });
      else res.destroy();
    }
  };
  return createServer((req, res) =>
    traced('http.request', { 'http.method': req.method ?? '', 'http.target': (req.url ?? '/').split('?')[0]! }, () =>
      handle(req, res),
    ),
  );
}
