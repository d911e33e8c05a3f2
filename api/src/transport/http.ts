/** HTTP routes beside GraphQL: health, readiness, and the built web UI. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

/** The caller's address; behind a trusted proxy, the first X-Forwarded-For hop. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string | null {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? null;
}

/**
 * The origin a client reached this server at (`http://host:port`), for links handed back to
 * it; behind a trusted proxy, from X-Forwarded-Proto and X-Forwarded-Host. Null without a
 * usable Host header.
 */
export function publicOrigin(req: IncomingMessage, trustProxy: boolean): string | null {
  const first = (value: string | string[] | undefined) =>
    (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim() || undefined;
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const proto = (trustProxy && first(req.headers['x-forwarded-proto'])) || (encrypted ? 'https' : 'http');
  const host = (trustProxy && first(req.headers['x-forwarded-host'])) || req.headers.host;
  if (!host || !/^https?$/.test(proto) || !/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:.]+\](:\d+)?$/i.test(host)) return null;
  return `${proto}://${host.toLowerCase()}`;
}

export function sendJson(res: ServerResponse, status: number, body: unknown) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/**
 * Serves files of the built web UI; unknown paths get index.html (client-side routing).
 * Returns false when there is no build, so the caller can answer otherwise. `headersFor`
 * adds headers by the file actually served (e.g. the embed policy of vue.html).
 */
export async function serveStatic(
  root: string,
  req: IncomingMessage,
  res: ServerResponse,
  headersFor?: (file: string) => Record<string, string>,
): Promise<boolean> {
  const base = path.resolve(root);
  const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  let file = path.resolve(base, '.' + urlPath);
  if (!file.startsWith(base)) return false;
  let info = await stat(file).catch(() => null);
  if (!info?.isFile()) {
    file = path.join(base, 'index.html');
    info = await stat(file).catch(() => null);
    if (!info?.isFile()) return false;
  }
  const immutable = file.includes(`${path.sep}assets${path.sep}`);
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...headersFor?.(path.relative(base, file)),
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
  return true;
}
