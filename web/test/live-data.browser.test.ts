/**
 * LD4 in Chromium against the real server: points pushed over REST are drawn live by chart,
 * metric and table widgets bound through the editor's Data section, in the React editor of
 * two people and in the Vue viewer opened with an embed token. The live containers carry
 * `data-points` (points drawn) and `data-last` (newest value) beside `data-state`.
 * Every wait is on a selector or a condition in the page, never a fixed sleep.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { browserSuite, ROOT, SHOTS, startBrowserApp, type BrowserApp, type SessionPayload } from './helpers.js';

const WAIT = 20_000;
const SECOND = 1000;

interface Point {
  series: string;
  labels?: Record<string, string>;
  t?: number;
  v: number;
}

const cpu = (host: string, v: number, t = Date.now()): Point => ({ series: 'cpu', labels: { host }, t, v });

browserSuite()('[LD4] live data in the editor and the viewer', () => {
  let app: BrowserApp;
  let ada: SessionPayload;
  let bob: SessionPayload;
  let apiToken: string;
  let dashboardId: string;
  let chartId: string;
  let metricId: string;
  let a: Page; // Ada's editor
  let b: Page; // Bob's editor
  /** The newest value pushed for each host, and of all (what a chart's `data-last` shows). */
  const newest: Record<string, number> = {};
  let latest = { t: 0, v: NaN };

  /** Pushes `points` as a script would: REST, with an API token. */
  async function push(points: Point[]): Promise<void> {
    const res = await fetch(`${app.url}/api/dashboards/${encodeURIComponent(dashboardId)}/points`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiToken}` },
      body: JSON.stringify({ points }),
    });
    expect({ status: res.status, body: (await res.json()) as unknown }).toEqual({
      status: 200,
      body: { accepted: points.length, series: new Set(points.map((p) => JSON.stringify(p.labels))).size },
    });
    for (const p of points) {
      newest[p.labels!.host!] = p.v;
      if (p.t! > latest.t) latest = { t: p.t!, v: p.v };
    }
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  /** A widget's box: in the editor by its id, or in the Vue viewer. */
  const editorWidget = (id: string) => `[data-testid=widget][data-widget-id="${id}"]`;
  const vueWidget = (id: string) => `[data-testid=vue-widget][data-widget-id="${id}"]`;

  /** Waits until `selector`'s attribute `name` is `value` (or its text, for `name` null). */
  async function waitFor(page: Page, selector: string, name: string | null, value: string): Promise<void> {
    await page
      .waitForFunction(
        ([selector, name, value]) => {
          const el = document.querySelector(selector);
          return (name === null ? el?.textContent : el?.getAttribute(name)) === value;
        },
        [selector, name, value] as const,
        { timeout: WAIT },
      )
      .catch(async (error: Error) => {
        const el = page.locator(selector).first();
        const now = (await el.count()) ? await (name === null ? el.textContent() : el.getAttribute(name)) : '(none)';
        throw new Error(`${error.message}\n${selector} ${name ?? 'text'}: ${JSON.stringify(now)}, wanted ${value}`);
      });
  }
  const waitForMetric = (page: Page, widget: string, value: number) =>
    waitFor(page, `${widget} [data-testid=live-metric] [data-testid=metric-value]`, null, String(value));
  const waitForLast = (page: Page, widget: string, type: string, value: number) =>
    waitFor(page, `${widget} [data-testid=live-${type}][data-state=live]`, 'data-last', String(value));
  const points = async (page: Page, widget: string) =>
    Number(await page.locator(`${widget} [data-testid=live-chart]`).getAttribute('data-points'));
  /** The series the chart's legend names (uPlot's first legend row is the time). */
  const legend = (page: Page, widget: string) =>
    page.locator(`${widget} .u-legend .u-series .u-label`).evaluateAll((els) => els.map((el) => el.textContent));
  const noPending = (page: Page) =>
    page.locator('[data-testid=connection-status]:not(:has([data-testid=pending-count]))').waitFor({ timeout: WAIT });

  async function openEditor(session: SessionPayload): Promise<Page> {
    const context = await app.newContext(session);
    const page = await app.newPage(context);
    await page.goto(`${app.url}/#/d/${dashboardId}`);
    await page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });
    return page;
  }

  /** Selects a widget on Ada's canvas; its settings panel opens. */
  async function select(id: string, heading: string) {
    await a.locator(`${editorWidget(id)} .widget-body`).click();
    await a.locator(`${editorWidget(id)}.selected`).waitFor({ timeout: WAIT });
    await a.getByTestId('config-panel').getByRole('heading', { name: heading }).waitFor({ timeout: WAIT });
  }

  /** Adds a widget from Ada's toolbar (it is selected, its panel open); returns its id. */
  async function add(type: string): Promise<string> {
    const before = await a.locator(`[data-testid=widget][data-type=${type}]`).count();
    await a.getByTestId(`add-${type}`).click();
    const added = a.locator(`[data-testid=widget][data-type=${type}]`).nth(before);
    await added.waitFor({ timeout: WAIT });
    const id = (await added.getAttribute('data-widget-id'))!;
    await a.locator(`${editorWidget(id)}.selected`).waitFor({ timeout: WAIT });
    await a.getByTestId(type === 'note' ? 'config-panel' : 'data-section').waitFor({ timeout: WAIT });
    return id;
  }

  /** The series rows of the open picker, as the user reads them. */
  const seriesOption = (labels: string) =>
    a.getByTestId('series-options').locator('[data-testid=series-option][data-series=cpu]').filter({ hasText: labels });

  /** The dashboard's version and the widget's `config.source`, as the server has them. */
  async function onServer(id: string): Promise<{ version: number; source: unknown }> {
    const { dashboard } = await app.gql<{
      dashboard: { version: number; document: { widgets: Record<string, { config: { source?: unknown } }> } };
    }>('query($id: ID!) { dashboard(id: $id) { version document } }', { id: dashboardId }, ada.accessToken);
    return { version: dashboard.version, source: dashboard.document.widgets[id]!.config.source };
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBrowserApp();
    ada = await app.signUp('ada@example.com', 'Ada Lovelace', 'analytical-1');
    bob = await app.signUp('bob@example.com', 'Bob Babbage', 'difference-2');
    const created = await app.gql<{ createDashboard: { id: string } }>(
      'mutation { createDashboard(title: "Fleet CPU") { id } }',
      {},
      ada.accessToken,
    );
    dashboardId = created.createDashboard.id;
    await app.gql(
      'mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }',
      { d: dashboardId, e: bob.user.email },
      ada.accessToken,
    );
    const token = await app.gql<{ createApiToken: { token: string } }>(
      'mutation { createApiToken(name: "collector") { token } }',
      {},
      ada.accessToken,
    );
    apiToken = token.createApiToken.token;
    // Twelve minutes of history, a point every 5 s per host, ending 30 s ago: a point pushed
    // now lands in a bucket of its own at any step the widgets fit (5 s to 30 s), and none
    // leaves the 15-minute window while the tests count them.
    const end = Date.now() - 30 * SECOND;
    const history: Point[] = [];
    for (let k = 144; k >= 0; k--) {
      const t = end - k * 5 * SECOND;
      history.push(cpu('a', Math.round(10 * (52 + 14 * Math.sin(k / 9) + 4 * Math.sin(k * 1.7))) / 10, t));
      history.push(cpu('b', Math.round(10 * (27 + 7 * Math.cos(k / 13) + 3 * Math.sin(k * 2.3))) / 10, t - 2500));
    }
    await push(history);
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('binds a chart to every cpu series and a metric to cpu{host="a"}; both follow new points', async () => {
    a = await openEditor(ada);
    chartId = await add('chart');
    const panel = a.getByTestId('data-section');
    await panel.getByLabel('Search series').fill('cpu');
    for (const host of ['a', 'b']) await seriesOption(`{host="${host}"}`).waitFor({ timeout: WAIT });
    expect(await a.getByTestId('series-options').getByRole('button').count()).toBe(3); // every cpu, a, b
    await panel.locator('[data-testid=series-option-all][data-series=cpu]').click();
    const chart = editorWidget(chartId);
    await a.locator(`${chart} [data-testid=live-chart][data-state=live] .u-legend`).waitFor({ timeout: WAIT });
    expect(await legend(a, chart)).toEqual(['Time', '{host="a"}', '{host="b"}']);
    await waitForLast(a, chart, 'chart', latest.v);

    metricId = await add('metric');
    await a.getByTestId('data-section').getByLabel('Search series').fill('host');
    await seriesOption('{host="a"}').click();
    // The starter label would hide which series it shows: cleared, the tile names it.
    await a.getByLabel('Metric label').fill('');
    await a.getByLabel('Metric label').press('Enter');
    const metric = editorWidget(metricId);
    await waitForMetric(a, metric, newest.a!);
    await a.locator(`${metric} .metric-label`, { hasText: 'cpu{host="a"}' }).waitFor({ timeout: WAIT });
    await a.locator(`${metric} [data-testid=sparkline] path[d^=M]`).waitFor({ timeout: WAIT });
    await noPending(a);
    const bound = await onServer(chartId);
    expect(bound.source).toEqual({ series: 'cpu' });
    expect((await onServer(metricId)).source).toEqual({ series: 'cpu', labels: { host: 'a' } });

    // New points: the chart draws one more point per host, the metric shows host a's.
    const drawn = await points(a, chart);
    const now = Date.now();
    await push([cpu('a', 91.5, now), cpu('b', 12.25, now + 1)]);
    await waitForLast(a, chart, 'chart', 12.25);
    await waitForMetric(a, metric, 91.5);
    expect(await points(a, chart)).toBe(drawn + 2);

    // A window of 1 h is one op: Ctrl+Z puts the 15 minutes back.
    await select(chartId, 'Chart settings');
    const windowSelect = a.getByTestId('data-section').getByLabel('Window');
    expect(await windowSelect.inputValue()).toBe('900');
    await windowSelect.selectOption({ label: '1 h' });
    await waitFor(a, `${chart} [data-testid=live-chart]`, 'data-state', 'live');
    await noPending(a);
    expect(await onServer(chartId)).toEqual({ version: bound.version + 1, source: { series: 'cpu', window: 3600 } });
    await windowSelect.press('Control+z');
    await a.waitForFunction(
      () => document.querySelector<HTMLSelectElement>('[data-testid=source-window]')?.value === '900',
      undefined,
      { timeout: WAIT },
    );
    await noPending(a);
    expect(await onServer(chartId)).toEqual({ version: bound.version + 2, source: { series: 'cpu' } });
    expect((await onServer(metricId)).source).toEqual({ series: 'cpu', labels: { host: 'a' } });
    await waitForLast(a, chart, 'chart', 12.25);
    expect(await legend(a, chart)).toEqual(['Time', '{host="a"}', '{host="b"}']);
    await shot(a, 'live-data-01-bound');
  });

  it('a second editor sees the metric rebound to cpu{host="b"} live, and both see a new point', async () => {
    b = await openEditor(bob);
    const metric = editorWidget(metricId);
    const chart = editorWidget(chartId);
    await waitForMetric(b, metric, newest.a!);
    await waitForLast(b, chart, 'chart', latest.v);
    expect(await legend(b, chart)).toEqual(['Time', '{host="a"}', '{host="b"}']);
    await b.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    await select(metricId, 'Metric settings');
    await seriesOption('{host="b"}').click();
    await waitForMetric(a, metric, newest.b!);
    await waitForMetric(b, metric, newest.b!);
    await b.locator(`${metric} .metric-label`, { hasText: 'cpu{host="b"}' }).waitFor({ timeout: WAIT });

    const now = Date.now();
    await push([cpu('a', 88.75, now), cpu('b', 17.5, now + 1)]);
    for (const page of [a, b]) {
      await waitForMetric(page, metric, 17.5);
      await waitForLast(page, chart, 'chart', 17.5);
    }
    expect(await b.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await shot(b, 'live-data-02-second-editor');
  });

  it('the editor with charts, metrics and a table of live data (screenshot)', async () => {
    /** Sets the selected widget's field `label` to `value`, as typed (Enter commits). */
    const type = async (label: string, value: string) => {
      await a.getByTestId('config-panel').getByLabel(label, { exact: true }).fill(value);
      await a.getByTestId('config-panel').getByLabel(label, { exact: true }).press('Enter');
    };
    /** Moves and resizes a widget with the keyboard, each key one op, until it is at x, y. */
    const arrange = async (id: string, keys: string[], x: number, y: number) => {
      for (const key of keys) await a.locator(editorWidget(id)).press(key);
      await a.locator(`${editorWidget(id)}[data-x="${x}"][data-y="${y}"]`).waitFor({ timeout: WAIT });
    };
    await select(chartId, 'Chart settings');
    await type('Widget title', 'CPU by host');
    await type('Data unit', '%');
    await select(metricId, 'Metric settings');
    await type('Widget title', 'CPU, host b');
    await type('Metric unit', '%');
    // The chart takes 8 x 5, the metric moves to the right edge to make room.
    await arrange(metricId, Array<string>(4).fill('ArrowRight'), 10, 0);
    await arrange(chartId, ['Shift+ArrowRight', 'Shift+ArrowRight', 'Shift+ArrowDown'], 0, 0);

    const metricA = await add('metric'); // lands at 8, 0
    await a.getByTestId('data-section').getByLabel('Search series').fill('host');
    await seriesOption('{host="a"}').click();
    await type('Widget title', 'CPU, host a');
    await type('Metric unit', '%');
    await type('Metric label', '');
    await waitForMetric(a, editorWidget(metricA), newest.a!);

    const tableId = await add('table'); // lands at 0, 5: shrunk to 4 x 3 and moved under the metrics
    await a.getByTestId('data-section').locator('[data-testid=series-option-all][data-series=cpu]').click();
    await type('Widget title', 'Hosts');
    await type('Data unit', '%');
    const keys = ['Shift+ArrowLeft', 'Shift+ArrowLeft', 'Shift+ArrowUp', ...Array<string>(8).fill('ArrowRight')];
    await arrange(tableId, [...keys, 'ArrowUp', 'ArrowUp', 'ArrowUp'], 8, 2);
    const table = editorWidget(tableId);
    await a
      .locator(`${table} [data-testid=live-table][data-state=live] [data-testid=table]`)
      .waitFor({ timeout: WAIT });
    const rows = await a
      .locator(`${table} [data-testid=table] tbody tr`)
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)));
    expect(rows).toEqual([
      ['a', `${newest.a} %`],
      ['b', `${newest.b} %`],
    ]);

    const noteId = await add('note'); // lands at 0, 5
    await type('Widget title', 'On call');
    await a.locator(`${editorWidget(noteId)} [data-testid=note-text]`).click();
    await a.keyboard.type(
      'Each host pushes its CPU every 5 s (POST /api/dashboards/…/points). Page the on-call engineer when a host stays above 80 % for 5 minutes.',
    );
    await arrange(noteId, Array<string>(4).fill('Shift+ArrowRight'), 0, 5);

    // Nothing selected; the pointer over the chart shows its values in the legend.
    const canvas = (await a.getByTestId('canvas').boundingBox())!;
    await a.getByTestId('canvas').click({ position: { x: canvas.width - 20, y: canvas.height - 20 } });
    await a.getByTestId('config-panel').waitFor({ state: 'detached', timeout: WAIT });
    await noPending(a);
    await a.locator(`${editorWidget(metricId)} .metric-unit`, { hasText: '%' }).waitFor({ timeout: WAIT });
    const plot = (await a.locator(`${editorWidget(chartId)} .u-over`).boundingBox())!;
    await a.mouse.move(plot.x + plot.width * 0.72, plot.y + plot.height / 2, { steps: 4 });
    await a.waitForFunction(
      (selector) => document.querySelector(selector)?.textContent?.endsWith('%') === true,
      `${editorWidget(chartId)} .u-legend .u-series:nth-child(2) .u-value`,
      { timeout: WAIT },
    );
    // The top of the page: the widgets, without the empty rows under them.
    const clip = { x: 0, y: 0, width: 1280, height: 600 };
    await a.screenshot({ path: path.join(SHOTS, 'live-data.png'), clip });
    if (process.env.UPDATE_README_SCREENSHOT)
      await a.screenshot({ path: path.join(ROOT, 'docs/live-charts.png'), clip });
  });

  it('the Vue viewer (embed token) draws the chart and the metric live as points arrive', async () => {
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
    const chart = vueWidget(chartId);
    const metric = vueWidget(metricId);
    await v.locator(`${chart} [data-testid=live-chart][data-state=live] .u-legend`).waitFor({ timeout: WAIT });
    expect(await legend(v, chart)).toEqual(['Time', '{host="a"}', '{host="b"}']);
    await waitForLast(v, chart, 'chart', latest.v);
    await waitForMetric(v, metric, newest.b!);
    await v.locator(`${metric} [data-testid=sparkline] path[d^=M]`).waitFor({ timeout: WAIT });

    // A point for host b moves the metric; a host seen for the first time adds a line.
    const drawn = await points(v, chart);
    await push([cpu('b', 33.5)]);
    await waitForMetric(v, metric, 33.5);
    await waitForLast(v, chart, 'chart', 33.5);
    await push([cpu('c', 64.25)]);
    await waitForLast(v, chart, 'chart', 64.25);
    await v.waitForFunction(
      (selector) => document.querySelectorAll(selector).length === 4,
      `${chart} .u-legend .u-series`,
      { timeout: WAIT },
    );
    expect(await legend(v, chart)).toEqual(['Time', '{host="a"}', '{host="b"}', '{host="c"}']);
    expect(await points(v, chart)).toBeGreaterThan(drawn);
    await waitForMetric(v, metric, 33.5); // still host b's
    // The editor follows the new host too.
    await waitForLast(a, editorWidget(chartId), 'chart', 64.25);
    await shot(v, 'live-data-03-vue-viewer');
  });

  it('no page threw an uncaught error or logged a console error', () => {
    expect(app.pageErrors).toEqual([]);
  });
});
