/** GraphQL over HTTP (and SSE) at /graphql, behind a body-size and CSRF check. */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import { sendJson } from '../transport/http.js';
import type { Feature } from '../app/feature.js';

const SIMPLE_CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'];

/**
 * Checks before Yoga reads a body: too large is PAYLOAD_TOO_LARGE; a POST a browser could
 * send cross-site without a preflight (a "simple" content type) needs a custom header, so
 * a forged form cannot run a mutation (CSRF prevention, as Apollo and Yoga do it).
 */
function refuseHttp(req: IncomingMessage, maxBytes: number) {
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > maxBytes) {
    return {
      status: 413,
      error: { message: `Request body is larger than ${maxBytes} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } },
    };
  }
  if (req.method === 'POST') {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const simple = type === '' || SIMPLE_CONTENT_TYPES.includes(type);
    if (simple && !req.headers['x-graphql-csrf'] && !req.headers['graphql-require-preflight']) {
      return {
        status: 400,
        error: {
          message:
            'Send Content-Type: application/json (or the header x-graphql-csrf) to prevent cross-site request forgery',
          extensions: { code: 'BAD_USER_INPUT' },
        },
      };
    }
  }
  return null;
}

export function graphqlHttpFeature(config: Config): Feature {
  return {
    name: 'graphql http',
    async route(req, res, path, { yoga }) {
      if (path !== yoga.graphqlEndpoint && !path.startsWith(`${yoga.graphqlEndpoint}/`)) return false;
      const refused = refuseHttp(req, config.maxMessageBytes);
      if (refused) sendJson(res, refused.status, { errors: [refused.error] });
      else await yoga(req, res);
      return true;
    },
  };
}
