/**
 * Rules EM1, EM2 in Chromium: an embed link made in the share dialog shows the dashboard live; the
 * viewer takes a posted token only from an allowed origin (anyone else gets a
 * collab-viewer-error back); and a site not in EMBED_ORIGINS cannot frame it at all.
 * The other sites are two small local HTTP servers (other ports are other origins; local, so
 * Chromium's private-network rules do not interfere): "allowed" is in EMBED_ORIGINS, "evil" is
 * not. Every wait is on an event or a selector.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { browserSuite, startBrowserApp, type BrowserApp } from './helpers.js';

const WAIT = 20_000;

/** A site on its own port whose pages are made at request time by `page(path)`. */
async function startSite(page: (path: string) => string): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const body = page(new URL(req.url ?? '/', 'http://x').pathname);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

browserSuite()('[EM1] embedding the Vue viewer', () => {
  let app: BrowserApp;
  let url: string;
  let context: BrowserContext;
  let owner: { accessToken: string; session: string };
  let dashboardId: string;
  let embedToken: string;
  let ALLOWED: string;
  let EVIL: string;
  const sites: Server[] = [];

  // Uncaught errors only: refusing a frame (a test below) logs a console error on purpose.
  const newPage = () => app.newPage(context, { consoleErrors: false });

  /** The frame of `page` whose URL starts with `prefix`, once it exists. */
  async function frameOf(page: Page, prefix: string): Promise<Frame> {
    const find = () => page.frames().find((f) => f.url().startsWith(prefix));
    const found = find();
    if (found) return found;
    return (await page.waitForEvent('framenavigated', {
      predicate: (f) => f.url().startsWith(prefix),
      timeout: WAIT,
    }))!;
  }

  beforeAll(async () => {
    // The allowed site frames the viewer (without a token) beside a frame from the evil site.
    const allowed = await startSite(
      () => `<!doctype html><title>allowed</title>
        <iframe id="viewer" src="${url}/vue.html" width="900" height="500"></iframe>
        <iframe id="evil" src="${EVIL}/poster.html"></iframe>`,
    );
    // The evil site: posts a token to its sibling viewer and records what comes back; and, on
    // its own, tries to frame the viewer.
    const evil = await startSite((page) =>
      page === '/framer.html'
        ? `<!doctype html><iframe id="stolen" src="${url}/vue.html?dashboard=${dashboardId}&token=${embedToken}"></iframe>`
        : `<!doctype html><script>
            window.received = [];
            window.addEventListener('message', (e) => window.received.push({ origin: e.origin, data: e.data }));
            window.post = (message) => parent.frames[0].postMessage(message, '*');
          </script>`,
    );
    sites.push(allowed.server, evil.server);
    ALLOWED = allowed.origin;
    EVIL = evil.origin;
    app = await startBrowserApp({ EMBED_ORIGINS: ALLOWED });
    url = app.url;

    const signed = await app.signUp('embed-owner@example.com', 'Ema Owner', 'framed-in-1');
    owner = { accessToken: signed.accessToken, session: JSON.stringify(signed) };
    const created = await app.gql<{ createDashboard: { id: string } }>(
      `mutation { createDashboard(title: "Quarterly numbers") { id } }`,
      {},
      owner.accessToken,
    );
    dashboardId = created.createDashboard.id;
    const minted = await app.gql<{ createEmbedToken: { token: string } }>(
      `mutation($d: ID!) { createEmbedToken(dashboardId: $d, ttlSeconds: 3600) { token } }`,
      { d: dashboardId },
      owner.accessToken,
    );
    embedToken = minted.createEmbedToken.token;

    context = await app.newContext(undefined, { viewport: { width: 1200, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
  });

  afterAll(async () => {
    await app?.stop();
    await Promise.all(sites.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('the share dialog makes an embed link whose iframe snippet shows the dashboard live', async () => {
    const page = await newPage();
    await page.addInitScript((session) => localStorage.setItem('collab.session', session), owner.session);
    await page.goto(`${url}/#/d/${dashboardId}`);
    await page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });
    await page.getByTestId('open-share').click();
    await page.getByTestId('embed-ttl').selectOption(String(7 * 24 * 3600));
    await page.getByTestId('embed-create').click();
    const snippet = await page.getByTestId('embed-snippet').inputValue();
    expect(snippet).toMatch(/^<iframe src="http:\/\/127\.0\.0\.1:\d+\/vue\.html\?dashboard=[^"]+&amp;token=[^"]+"/);
    await page.getByTestId('embed-copy').click();
    await page.getByTestId('embed-copy').filter({ hasText: 'Copied' }).waitFor({ timeout: WAIT });
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(snippet);

    const src = /src="([^"]+)"/.exec(snippet)![1]!.replaceAll('&amp;', '&');
    const viewer = await newPage();
    await viewer.goto(src);
    await viewer.locator('[data-testid=vue-viewer][data-status=connected]').waitFor({ timeout: WAIT });
    expect(await viewer.getByTestId('vue-title').textContent()).toBe('Quarterly numbers');
    await viewer.close();
    await page.close();
  });

  it('[EM2] ignores a token posted from a foreign origin and answers it with collab-viewer-error', async () => {
    const page = await newPage();
    const warnings: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'warning') warnings.push(m.text());
    });
    await page.goto(`${ALLOWED}/`);
    const viewer = await frameOf(page, `${url}/vue.html`);
    const evil = await frameOf(page, `${EVIL}/poster.html`);
    await viewer.locator('.viewer-hint').waitFor({ timeout: WAIT });

    await evil.evaluate(
      ([d, t]) =>
        (window as unknown as { post(m: unknown): void }).post({ type: 'collab-viewer', dashboardId: d, token: t }),
      [dashboardId, embedToken],
    );
    await evil.waitForFunction(() => (window as unknown as { received: unknown[] }).received.length > 0, undefined, {
      timeout: WAIT,
    });
    const received = await evil.evaluate(() => (window as unknown as { received: unknown[] }).received);
    expect(received).toEqual([
      {
        origin: url,
        data: expect.objectContaining({ type: 'collab-viewer-error', code: 'ORIGIN_NOT_ALLOWED' }),
      },
    ]);
    expect(warnings.some((w) => w.includes(EVIL) && w.includes('EMBED_ORIGINS'))).toBe(true);
    // Still waiting for a token: the foreign message configured nothing.
    expect(await viewer.locator('.viewer-hint').textContent()).toContain('Open this page with');
    expect(await viewer.locator('[data-testid=vue-viewer]').count()).toBe(0);

    // The allowed parent's message is taken.
    await page.evaluate(
      ([d, t]) =>
        (document.getElementById('viewer') as HTMLIFrameElement).contentWindow!.postMessage(
          { type: 'collab-viewer', dashboardId: d, token: t },
          '*',
        ),
      [dashboardId, embedToken],
    );
    await viewer.locator('[data-testid=vue-viewer][data-status=connected]').waitFor({ timeout: WAIT });
    expect(await viewer.getByTestId('vue-title').textContent()).toBe('Quarterly numbers');
    await page.close();
  });

  it('[EM2] a site outside EMBED_ORIGINS cannot frame the viewer (frame-ancestors)', async () => {
    const page = await newPage();
    const refused = page.waitForEvent('console', {
      predicate: (m) => /frame-ancestors/.test(m.text()) && m.text().includes(url),
      timeout: WAIT,
    });
    const response = page.waitForResponse((r) => r.url().startsWith(`${url}/vue.html`), { timeout: WAIT });
    await page.goto(`${EVIL}/framer.html`);
    expect((await response).headers()['content-security-policy']).toBe(`frame-ancestors 'self' ${ALLOWED}`);
    await refused;
    const framed = page.frames().find((f) => f.url().startsWith(`${url}/vue.html`));
    expect(framed ? await framed.locator('#app').count() : 0).toBe(0);
    await page.close();
  });

  it('says when a link is not valid, or expires while it is open (4401)', async () => {
    const page = await newPage();
    await page.goto(`${url}/vue.html?dashboard=${dashboardId}&token=not-a-token`);
    await page.getByRole('alert').waitFor({ timeout: WAIT });
    expect(await page.getByRole('alert').textContent()).toContain('This link has expired or is no longer valid');

    const minted = await app.gql<{ createEmbedToken: { url: string } }>(
      `mutation($d: ID!) { createEmbedToken(dashboardId: $d, ttlSeconds: 3) { url } }`,
      { d: dashboardId },
      owner.accessToken,
    );
    await page.goto(minted.createEmbedToken.url);
    await page.locator('[data-testid=vue-viewer][data-status=connected]').waitFor({ timeout: WAIT });
    await page.getByRole('alert').waitFor({ timeout: WAIT });
    expect(await page.getByRole('alert').textContent()).toContain('This link has expired or is no longer valid');
    await page.close();
  });

  it('raised no page errors', () => {
    expect(app.pageErrors).toEqual([]);
  });
});
