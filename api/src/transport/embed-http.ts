/**
 * The HTTP side of embedding the Vue viewer (rule EM2): the allow-list of origins that may
 * frame it and post it a token (EMBED_ORIGINS), served as JSON to the viewer, and enforced by
 * the browser through `Content-Security-Policy: frame-ancestors` on vue.html.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const EMBED_CONFIG_PATH = '/api/embed-config';
const VIEWER_FILE = 'vue.html';

/** The shape of GET /api/embed-config; `origins` may be `['*']` (any origin). */
export interface EmbedConfig {
  origins: string[];
}

/** Answers GET /api/embed-config; returns false for every other request. */
export function handleEmbedConfig(req: IncomingMessage, res: ServerResponse, origins: readonly string[]): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== EMBED_CONFIG_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const body = JSON.stringify({ origins: [...origins] } satisfies EmbedConfig);
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/** `frame-ancestors` for the viewer: its own origin and the allow-list. */
export function frameAncestors(origins: readonly string[]): string {
  return ["frame-ancestors 'self'", ...origins].join(' ');
}

/**
 * Extra headers for a file of the built UI (serveStatic's `headersFor`): vue.html may be
 * framed only by the allowed origins, and never leaks its URL (which carries a token) in a
 * Referer.
 */
export function viewerHeaders(origins: readonly string[]): (file: string) => Record<string, string> {
  const headers: Record<string, string> = {
    'content-security-policy': frameAncestors(origins),
    'referrer-policy': 'no-referrer',
  };
  return (file) => (file === VIEWER_FILE ? headers : {});
}
