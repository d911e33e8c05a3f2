/**
 * GraphiQL that works offline. Yoga's built-in page loads GraphiQL from a CDN (unpkg), so it is
 * blank without Internet access; this page loads the same build (Yoga's own GraphiQL, shipped in
 * @graphql-yoga/render-graphiql) from this server, at /graphiql/<version>/...: the script, the
 * styles, Monaco's three editor workers and the icon. Asset URLs carry the package version, so
 * they are cached for good.
 */
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphiQLOptions } from 'graphql-yoga';

const gzip = promisify(gzipCb);
const VERSION: string = createRequire(import.meta.url)('@graphql-yoga/render-graphiql/package.json').version;

/** Where the assets are served (same origin as the page). */
export const GRAPHIQL_ASSET_PATH = `/graphiql/${VERSION}`;

/** The package's exports, one string per asset (about 9 MB: loaded on first use only). */
type Bundle = typeof import('@graphql-yoga/render-graphiql/graphiql');

const JS = 'text/javascript; charset=utf-8';
/** file name -> its content type and how to take it from the bundle. */
const ASSETS: Record<string, { type: string; body(bundle: Bundle): string | Buffer }> = {
  'yoga-graphiql.js': { type: JS, body: (b) => b.js },
  'graphiql.css': { type: 'text/css; charset=utf-8', body: (b) => b.css },
  'editor.worker.js': { type: JS, body: (b) => b.editorWorkerService },
  'json.worker.js': { type: JS, body: (b) => b.jsonWorker },
  'graphql.worker.js': { type: JS, body: (b) => b.graphqlWorker },
  // A data: URL in the package; served as a file so the page refers to nothing but this server.
  'favicon.ico': {
    type: 'image/x-icon',
    body: (b) => Buffer.from(b.favicon.slice(b.favicon.indexOf(',') + 1), 'base64'),
  },
};

let bundle: Promise<Bundle> | undefined;
/** file name -> its bytes, plain and gzipped, made once. */
const encoded = new Map<string, Promise<{ plain: Buffer; gzipped: Buffer }>>();

function asset(name: string) {
  let entry = encoded.get(name);
  if (!entry) {
    const spec = ASSETS[name]!;
    entry = (bundle ??= import('@graphql-yoga/render-graphiql/graphiql')).then(async (b) => {
      const body = spec.body(b);
      const plain = typeof body === 'string' ? Buffer.from(body) : body;
      return { plain, gzipped: await gzip(plain) };
    });
    entry.catch(() => encoded.delete(name)); // a failed load is retried by the next request
    encoded.set(name, entry);
  }
  return entry;
}

/**
 * Answers every request under /graphiql/: the asset, or 404 (for an unknown name, an older
 * version, another method, or when GraphiQL is off). False for any other path.
 */
export async function serveGraphiQLAsset(
  req: IncomingMessage,
  res: ServerResponse,
  enabled: boolean,
): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (!path.startsWith('/graphiql/')) return false;
  const name = path.startsWith(`${GRAPHIQL_ASSET_PATH}/`) ? path.slice(GRAPHIQL_ASSET_PATH.length + 1) : '';
  if (!enabled || !Object.hasOwn(ASSETS, name) || (req.method !== 'GET' && req.method !== 'HEAD')) {
    const body = JSON.stringify({ error: { code: 'NOT_FOUND', message: 'Not found' } });
    res.writeHead(404, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
    return true;
  }
  const { plain, gzipped } = await asset(name);
  const useGzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = useGzip ? gzipped : plain;
  res.writeHead(200, {
    'content-type': ASSETS[name]!.type,
    'content-length': body.length,
    'cache-control': 'public, max-age=31536000, immutable',
    vary: 'accept-encoding',
    ...(useGzip ? { 'content-encoding': 'gzip' } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON that is safe inside a <script> element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/**
 * The page, for Yoga's `renderGraphiQL`: Yoga's own template with every URL on this server.
 * Monaco's workers are fetched and started from blob URLs, as Yoga's page does.
 */
export function renderGraphiQL(options: GraphiQLOptions = {}): string {
  const base = GRAPHIQL_ASSET_PATH;
  const title = options.title || 'Yoga GraphiQL';
  const workers = {
    editorWorkerService: `${base}/editor.worker.js`,
    json: `${base}/json.worker.js`,
    graphql: `${base}/graphql.worker.js`,
  };
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(title)}</title>
    <link rel="icon" href="${base}/favicon.ico" />
    <link rel="stylesheet" href="${base}/graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root">Loading ${escapeHtml(title)}...</div>
    <script>
      const workerUrls = ${scriptJson(workers)};
      const workers = {};
      const prepareWorkers = () =>
        Promise.all(
          Object.entries(workerUrls).map(async ([label, url]) => {
            const source = await (await fetch(url)).text();
            workers[label] = URL.createObjectURL(new Blob([source], { type: 'application/javascript' }));
          }),
        );
      self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_moduleId, label) => workers[label] };
    </script>
    <script src="${base}/yoga-graphiql.js"></script>
    <script>
      prepareWorkers().finally(() =>
        YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), ${scriptJson(options)}),
      );
    </script>
  </body>
</html>
`;
}
