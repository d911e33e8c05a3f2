/**
 * LD5 in Chromium against the real server and a real Prometheus (Debian's `prometheus`
 * package, started here on a free port in a temp dir, scraping the app's own /metrics every
 * second): a chart is bound to a PromQL query through the editor's Data section (a metric
 * name completed from the upstream), draws and moves, refuses a bad expression with the
 * upstream's own message, keeps what was typed and not applied through a change of window or
 * step (its own or a collaborator's), checks a window and step as it checks an expression,
 * says so while Prometheus is down (the last data kept drawn; a chart opened meanwhile shows
 * the same banner) and heals by itself when it is back; the Vue viewer draws the same query.
 * Skipped with its reason where the binary is missing (`apt-get install -y prometheus`).
 * Every wait is on a selector or a condition in the page (or on Prometheus), never a sleep.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { HAS_PROMETHEUS, NEEDS_PROMETHEUS, preparePrometheus } from '../../api/test/helpers/prometheus.js';
import { describeWhen } from '../../api/test/helpers/skip.js';
import { waitFor } from '../../api/test/helpers/wait.js';
import { browserSuite, SHOTS, startBrowserApp, type BrowserApp, type SessionPayload } from './helpers.js';

const WAIT = 15_000;
const METRIC = 'scrape_duration_seconds';

const suite: (name: string, body: () => void) => void = HAS_PROMETHEUS
  ? browserSuite()
  : describeWhen(false, NEEDS_PROMETHEUS);

suite('[LD5] a chart of a Prometheus query in the editor and the viewer', () => {
  let app: BrowserApp;
  let ada: SessionPayload;
  let dashboardId: string;
  let chartId: string;
  let page: Page;
  let promPort = 0;
  let prom: Awaited<ReturnType<typeof preparePrometheus>>;

  /** Waits until Prometheus has scraped the app: its query API knows the metric. */
  async function prometheusHasScraped() {
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${METRIC}`);
        const body = (await res.json()) as { data?: { result?: unknown[] } };
        return (body.data?.result?.length ?? 0) > 0;
      },
      { timeout: WAIT, interval: 200, description: `Prometheus to scrape ${METRIC}` },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\nprometheus:\n${prom.output().slice(-4000)}`);
    });
  }

  const editorWidget = (id: string) => `[data-testid=widget][data-widget-id="${id}"]`;
  const vueWidget = (id: string) => `[data-testid=vue-widget][data-widget-id="${id}"]`;
  const attribute = (p: Page, selector: string, name: string) => p.locator(selector).first().getAttribute(name);

  /** Waits until `selector`'s attribute `name` is a number above `than`. */
  async function waitForAbove(p: Page, selector: string, name: string, than: number) {
    await p
      .waitForFunction(
        ([selector, name, than]) => Number(document.querySelector(selector)?.getAttribute(name) ?? NaN) > than,
        [selector, name, than] as const,
        { timeout: WAIT },
      )
      .catch(async (error: Error) => {
        throw new Error(
          `${error.message}\n${selector} ${name}: ${await attribute(p, selector, name)}, wanted > ${than}`,
        );
      });
  }

  /**
   * The chart draws and moves: it has points, then more of them or another newest value
   * (a full window keeps its count; the scrape's duration differs every second).
   */
  async function chartMoves(p: Page, selector: string) {
    const chart = `${selector} [data-testid=live-chart][data-state=live]`;
    await waitForAbove(p, chart, 'data-points', 0);
    const before = [await attribute(p, chart, 'data-points'), await attribute(p, chart, 'data-last')];
    await p
      .waitForFunction(
        ([chart, points, last]) => {
          const el = document.querySelector(chart);
          return !!el && (el.getAttribute('data-points') !== points || el.getAttribute('data-last') !== last);
        },
        [chart, ...before] as const,
        { timeout: WAIT },
      )
      .catch((error: Error) => {
        throw new Error(`${error.message}\n${chart} stood still at data-points, data-last ${before.join(', ')}`);
      });
  }

  async function onServer(id: string): Promise<{ version: number; source: unknown }> {
    const { dashboard } = await app.gql<{
      dashboard: { version: number; document: { widgets: Record<string, { config: { source?: unknown } }> } };
    }>('query($id: ID!) { dashboard(id: $id) { version document } }', { id: dashboardId }, ada.accessToken);
    return { version: dashboard.version, source: dashboard.document.widgets[id]!.config.source };
  }

  const noPending = (p: Page) =>
    p.locator('[data-testid=connection-status]:not(:has([data-testid=pending-count]))').waitFor({ timeout: WAIT });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // The port first, so the app can be told where Prometheus will be; Prometheus last, with
    // the app as its target.
    prom = await preparePrometheus();
    promPort = prom.port;
    app = await startBrowserApp({
      DATASOURCES: JSON.stringify({
        prom: { type: 'prometheus', url: `http://127.0.0.1:${promPort}`, timeout: 3000 },
      }),
    });
    await prom.scrape([new URL(app.url).host]);
    await prom.start();
    ada = await app.signUp('ada@example.com', 'Ada Lovelace', 'analytical-1');
    const created = await app.gql<{ createDashboard: { id: string } }>(
      'mutation { createDashboard(title: "This server") { id } }',
      {},
      ada.accessToken,
    );
    dashboardId = created.createDashboard.id;
    await prometheusHasScraped();
  });

  afterAll(async () => {
    await prom?.kill();
    await app?.stop();
  });

  it('binds a chart to a PromQL query completed from the upstream’s metric names; it draws and moves; Ctrl+Z unbinds', async () => {
    const context = await app.newContext(ada);
    page = await app.newPage(context);
    await page.goto(`${app.url}/#/d/${dashboardId}`);
    await page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });
    await page.getByTestId('add-chart').click();
    const added = page.locator('[data-testid=widget][data-type=chart]').first();
    await added.waitFor({ timeout: WAIT });
    chartId = (await added.getAttribute('data-widget-id'))!;
    const panel = page.getByTestId('data-section');
    await panel.waitFor({ timeout: WAIT });
    const before = await onServer(chartId);

    await panel.getByLabel('Data source query').check();
    const editor = page.getByTestId('query-editor');
    expect(await editor.getByLabel('Data source').inputValue()).toBe('prom');
    const expr = editor.getByRole('combobox', { name: 'PromQL expression' });
    await expr.pressSequentially('scrape_dur');
    const completion = page.locator(`[data-testid=query-completion][data-value=${METRIC}]`);
    await completion.waitFor({ timeout: WAIT });
    expect(await expr.getAttribute('aria-expanded')).toBe('true');
    await completion.click();
    expect(await expr.inputValue()).toBe(METRIC);
    await page.getByTestId('query-completions').waitFor({ state: 'hidden', timeout: WAIT });
    await editor.getByLabel('Window').selectOption({ label: '5 m' });
    await editor.getByLabel('Step').selectOption({ label: '1 s' });
    await editor.getByTestId('query-apply').click();
    await page.locator('[data-testid=query-result][data-kind=ok]', { hasText: 'Bound: 1 series.' }).waitFor({
      timeout: WAIT,
    });
    await noPending(page);
    expect(await onServer(chartId)).toEqual({
      version: before.version + 1,
      source: { datasource: 'prom', expr: METRIC, window: 300, step: 1 },
    });
    await page
      .getByTestId('source-status')
      .filter({ hasText: `Live from ${METRIC} on prom` })
      .waitFor({ timeout: WAIT });

    const chart = editorWidget(chartId);
    await page.locator(`${chart} [data-testid=live-chart][data-state=live] .u-legend`).waitFor({ timeout: WAIT });
    const legend = await page
      .locator(`${chart} .u-legend .u-series .u-label`)
      .evaluateAll((els) => els.map((el) => el.textContent));
    expect(legend).toEqual(['Time', `{instance="${new URL(app.url).host}", job="app"}`]);
    await chartMoves(page, chart);

    // One op: Ctrl+Z puts the typed chart back, Ctrl+Shift+Z the query.
    await editor.getByTestId('query-apply').press('Control+z');
    await page.locator(`${chart} [data-testid=live-chart]`).waitFor({ state: 'detached', timeout: WAIT });
    await noPending(page);
    expect((await onServer(chartId)).source).toBeUndefined();
    await page.keyboard.press('Control+Shift+z');
    await noPending(page);
    expect((await onServer(chartId)).source).toEqual({ datasource: 'prom', expr: METRIC, window: 300, step: 1 });
    await chartMoves(page, chart);
    await page.screenshot({ path: path.join(SHOTS, 'datasource-01-bound.png') });
  });

  it('a bad expression shows the upstream’s message in the panel and binds nothing', async () => {
    const { version } = await onServer(chartId);
    const editor = page.getByTestId('query-editor');
    const expr = editor.getByRole('combobox', { name: 'PromQL expression' });
    await expr.fill(`sum(rate(${METRIC}[1m])`);
    await expr.press('Escape'); // the completions, if any are open
    await editor.getByTestId('query-apply').click();
    const error = editor.getByTestId('query-error');
    await error.waitFor({ timeout: WAIT });
    expect(await error.textContent()).toMatch(/^prom: .*parse error/);
    expect(await error.getAttribute('role')).toBe('alert');
    await noPending(page);
    expect(await onServer(chartId)).toEqual({
      version,
      source: { datasource: 'prom', expr: METRIC, window: 300, step: 1 },
    });
    await chartMoves(page, editorWidget(chartId));
  });

  /** Ada's chart settings in another tab (another live editor): the chart selected, its Data section open. */
  async function secondEditor(): Promise<Page> {
    const other = await app.newPage(await app.newContext(ada));
    await other.goto(`${app.url}/#/d/${dashboardId}`);
    await other.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });
    await other.locator(`${editorWidget(chartId)} .widget-body`).click();
    await other.locator(`${editorWidget(chartId)}.selected`).waitFor({ timeout: WAIT });
    await other.getByTestId('query-editor').waitFor({ timeout: WAIT });
    return other;
  }

  const BOUND = { datasource: 'prom', expr: METRIC, window: 300, step: 1 };
  const TYPED = 'process_resident_memory_bytes';

  it('text typed and not applied survives a window change; Apply checks and binds all of it as one op', async () => {
    const before = await onServer(chartId);
    expect(before.source).toEqual(BOUND);
    const editor = page.getByTestId('query-editor');
    const expr = editor.getByRole('combobox', { name: 'PromQL expression' });
    await expr.fill(TYPED);
    await expr.press('Escape');
    await editor.getByLabel('Window').selectOption({ label: '15 m' });
    expect(await expr.inputValue()).toBe(TYPED);
    const unapplied = editor.getByTestId('query-unapplied');
    await unapplied.waitFor({ timeout: WAIT });
    expect(await unapplied.textContent()).toContain(`still reads ${METRIC} (prom), 5 m at a 1 s step`);
    await noPending(page);
    expect(await onServer(chartId)).toEqual(before); // nothing saved by the select

    await editor.getByTestId('query-apply').click();
    await editor.locator('[data-testid=query-result][data-kind=ok]', { hasText: 'Bound: 1 series.' }).waitFor({
      timeout: WAIT,
    });
    await unapplied.waitFor({ state: 'detached', timeout: WAIT });
    expect(await expr.inputValue()).toBe(TYPED);
    await noPending(page);
    expect(await onServer(chartId)).toEqual({
      version: before.version + 1,
      source: { datasource: 'prom', expr: TYPED, window: 900, step: 1 },
    });

    // One op: Ctrl+Z binds the query before it, and the editor follows (nothing was typed since).
    await editor.getByTestId('query-apply').press('Control+z');
    await noPending(page);
    expect((await onServer(chartId)).source).toEqual(BOUND);
    await page.waitForFunction(
      ([selector, value]) => (document.querySelector(selector) as HTMLInputElement | null)?.value === value,
      ['[data-testid=query-expr]', METRIC] as const,
      { timeout: WAIT },
    );
    expect(await editor.getByLabel('Window').inputValue()).toBe('300');
    expect(await editor.getByTestId('query-result').count()).toBe(0); // "Bound" no longer says what is bound
    await chartMoves(page, editorWidget(chartId));
  });

  it('a collaborator’s step change keeps the text typed here, and the step follows', async () => {
    const editor = page.getByTestId('query-editor');
    const expr = editor.getByRole('combobox', { name: 'PromQL expression' });
    await expr.fill(TYPED);
    await expr.press('Escape');
    const other = await secondEditor();
    const theirs = other.getByTestId('query-editor');
    await theirs.getByLabel('Step').selectOption({ label: '5 s' });
    await theirs.getByTestId('query-apply').click();
    await theirs.locator('[data-testid=query-result][data-kind=ok]').waitFor({ timeout: WAIT });
    await noPending(other);
    expect((await onServer(chartId)).source).toEqual({ ...BOUND, step: 5 });

    await page.waitForFunction(
      (selector) => (document.querySelector(selector) as HTMLSelectElement | null)?.value === '5',
      '[data-testid=query-step]',
      { timeout: WAIT },
    );
    expect(await expr.inputValue()).toBe(TYPED);
    await editor.getByTestId('query-unapplied').waitFor({ timeout: WAIT });
    // Revert: the editor reads what is bound again.
    await editor.getByTestId('query-revert').click();
    expect(await expr.inputValue()).toBe(METRIC);
    await editor.getByTestId('query-unapplied').waitFor({ state: 'detached', timeout: WAIT });
    await other.context().close();
  });

  it('a window and step with too many points are refused in the panel with the server’s message, nothing saved', async () => {
    const before = await onServer(chartId);
    const editor = page.getByTestId('query-editor');
    await editor.getByLabel('Window').selectOption({ label: '7 d' });
    await editor.getByLabel('Step').selectOption({ label: '1 s' });
    await editor.getByTestId('query-apply').click();
    const error = editor.getByTestId('query-error');
    await error.waitFor({ timeout: WAIT });
    expect(await error.textContent()).toMatch(/At most 11000 points per series/);
    await noPending(page);
    expect(await onServer(chartId)).toEqual(before);
    expect(await attribute(page, `${editorWidget(chartId)} [data-testid=live-chart]`, 'data-state')).toBe('live');
    await editor.getByTestId('query-revert').click();
    expect(await editor.getByLabel('Window').inputValue()).toBe('300');
    expect(await editor.getByLabel('Step').inputValue()).toBe('5');
    // Back to what the tests after this one expect.
    await editor.getByLabel('Step').selectOption({ label: '1 s' });
    await editor.getByTestId('query-apply').click();
    await editor.locator('[data-testid=query-result][data-kind=ok]').waitFor({ timeout: WAIT });
    await noPending(page);
    expect((await onServer(chartId)).source).toEqual(BOUND);
  });

  it('says so on the chart while Prometheus is down, keeping what it drew, and heals when it is back', async () => {
    const chart = editorWidget(chartId);
    const live = `${chart} [data-testid=live-chart]`;
    await prom.kill();
    const banner = page.locator(`${chart} [data-testid=live-source-error]`);
    await banner.waitFor({ timeout: WAIT });
    expect(await banner.textContent()).toMatch(/prom is unavailable/);
    expect(await banner.getAttribute('role')).toBe('status');
    expect(await attribute(page, live, 'data-source-error')).toBe('true');
    expect(await attribute(page, live, 'data-state')).toBe('live');
    expect(Number(await attribute(page, live, 'data-points'))).toBeGreaterThan(0);
    await page.locator(`${chart} .u-legend`).waitFor({ timeout: WAIT });
    await page.screenshot({ path: path.join(SHOTS, 'datasource-02-upstream-down.png') });

    // Opened during the outage: the same banner (no error of its own), and nothing drawn.
    const late = await app.newPage(await app.newContext(ada));
    await late.goto(`${app.url}/#/d/${dashboardId}`);
    const lateBanner = late.locator(`${chart} [data-testid=live-source-error]`);
    await lateBanner.waitFor({ timeout: WAIT });
    expect(await lateBanner.textContent()).toMatch(/prom is unavailable/);
    expect(await late.locator(`${chart} [data-testid=live-error]`).count()).toBe(0);
    expect(await attribute(late, live, 'data-state')).toBe('live');

    await prom.start();
    await banner.waitFor({ state: 'detached', timeout: WAIT });
    expect(await attribute(page, live, 'data-source-error')).toBeNull();
    await chartMoves(page, chart);
    // The late one heals with the open one (the server says when), not after a client backoff.
    await lateBanner.waitFor({ state: 'detached', timeout: WAIT });
    await chartMoves(late, chart);
    await late.context().close();
  });

  it('the Vue viewer (embed token) draws the same query live', async () => {
    const minted = await app.gql<{ createEmbedToken: { token: string } }>(
      'mutation($d: ID!) { createEmbedToken(dashboardId: $d, ttlSeconds: 3600) { token } }',
      { d: dashboardId },
      ada.accessToken,
    );
    const v = await app.newPage(await app.newContext());
    await v.goto(
      `${app.url}/vue.html?dashboard=${encodeURIComponent(dashboardId)}&token=${minted.createEmbedToken.token}`,
    );
    await v.locator('[data-testid=vue-viewer][data-status=connected]').waitFor({ timeout: WAIT });
    await chartMoves(v, vueWidget(chartId));
  });

  it('no page threw an uncaught error or logged a console error', () => {
    expect(app.pageErrors).toEqual([]);
  });
});
