/**
 * GraphiQL works offline: the page at GET /graphql (from a browser) refers to nothing but this
 * server, and every script, stylesheet, worker and icon it names is served here.
 */
import { createBackend, startApp, type Backend, type TestApp } from './helpers/harness.js';

let backend: Backend;
let t: TestApp;

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend);
});

const page = () => fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });

/** Every URL the page names: src/href attributes, and quoted paths inside its inline scripts. */
function urlsIn(html: string): string[] {
  const attributes = [...html.matchAll(/\s(?:src|href)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]!);
  const quoted = [...html.matchAll(/["'`]([^"'`\s]*\.(?:js|css|ico|png|svg|woff2?)(?:\?[^"'`\s]*)?)["'`]/gi)].map(
    (m) => m[1]!,
  );
  return [...new Set([...attributes, ...quoted])];
}

describe('GraphiQL without Internet access', () => {
  it('GET /graphql from a browser returns a page whose script and link URLs are all same-origin', async () => {
    const res = await page();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    // No absolute or protocol-relative URL to any host (a CDN, GitHub for the icon...).
    expect(html.match(/(?:https?:)?\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)+/gi) ?? []).toEqual([]);
    const urls = urlsIn(html);
    expect(urls.length).toBeGreaterThanOrEqual(5); // script, stylesheet, icon, three workers
    for (const url of urls) expect([url, new URL(url, t.url).origin]).toEqual([url, new URL(t.url).origin]);
  });

  it('each of those URLs answers 200 with a JavaScript, CSS or image content type', async () => {
    const urls = urlsIn(await (await page()).text());
    const kinds = new Set<string>();
    for (const url of urls) {
      const res = await fetch(new URL(url, t.url));
      const type = res.headers.get('content-type') ?? '';
      const body = await res.arrayBuffer();
      expect([url, res.status]).toEqual([url, 200]);
      expect(body.byteLength).toBeGreaterThan(0);
      const kind = /javascript/.test(type)
        ? 'js'
        : /^text\/css/.test(type)
          ? 'css'
          : /^image\//.test(type)
            ? 'image'
            : type;
      expect([url, ['js', 'css', 'image'].includes(kind)]).toEqual([url, true]);
      if (url.endsWith('.js')) expect([url, kind]).toEqual([url, 'js']);
      if (url.endsWith('.css')) expect([url, kind]).toEqual([url, 'css']);
      kinds.add(kind);
    }
    expect([...kinds].sort()).toEqual(['css', 'image', 'js']);
  });

  it('the page starts GraphiQL with subscriptions over WebSocket, and unknown asset names are 404', async () => {
    const html = await (await page()).text();
    expect(html).toContain('YogaGraphiQL.renderYogaGraphiQL');
    expect(html).toMatch(/"subscriptionsProtocol":"WS"/);
    const script = urlsIn(html).find((u) => u.endsWith('yoga-graphiql.js'))!;
    expect((await fetch(new URL(script.replace('yoga-graphiql.js', 'nope.js'), t.url))).status).toBe(404);
  });

  it('with GRAPHIQL off there is neither a page nor its assets', async () => {
    const urls = urlsIn(await (await page()).text());
    const off = await startApp(backend, { env: { GRAPHIQL: 'off' } });
    try {
      const res = await fetch(`${off.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(await res.text()).not.toContain('renderYogaGraphiQL');
      for (const url of urls) expect([url, (await fetch(new URL(url, off.url))).status]).toEqual([url, 404]);
    } finally {
      await off.stop();
    }
  });
});
