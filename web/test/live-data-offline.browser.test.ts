/**
 * LD3 and LD4 as a person on a bad network meets them, in Chromium: a bound chart keeps
 * drawing while points arrive, the browser goes offline while more are pushed (a backfill of
 * an earlier second among them), and when it is back the chart holds every point exactly once,
 * without a reload; a reload then draws the same. A second tab of the same dashboard draws the
 * same all along, and a point far behind its time still finds its place. Every wait is on the
 * page's state, never a sleep.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { newWidget, type DashboardDocument } from '@collab-dashboards/core';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSuite, startBrowserApp, type BrowserApp, type SessionPayload } from './helpers.js';

const WAIT = 20_000;
const CHART = '[data-testid=widget][data-type=chart] [data-testid=live-chart]';
const METRIC = '[data-testid=widget][data-type=metric] [data-testid=live-metric]';

browserSuite()('[LD3][LD4] live data through a dropped connection', () => {
  let app: BrowserApp;
  let session: SessionPayload;
  let dashboardId: string;
  /** Second-aligned, so each pushed point is its own one-second bucket (step: 1). */
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;

  beforeAll(async () => {
    app = await startBrowserApp();
    session = await app.signUp('ona@example.com', 'Ona Offline', 'offline-data-1');
    const chart = newWidget('chart', {
      title: 'Requests',
      x: 0,
      y: 0,
      w: 8,
      h: 4,
      config: { kind: 'line', source: { series: 'rps', window: 300, step: 1 } },
    });
    const metric = newWidget('metric', {
      title: 'Now',
      x: 8,
      y: 0,
      w: 3,
      h: 3,
      config: { source: { series: 'rps', window: 300, step: 1 } },
    });
    const document: DashboardDocument = {
      title: 'Flaky network',
      widgets: { [chart.id]: chart, [metric.id]: metric },
      layout: [chart.id, metric.id],
    };
    const created = await app.gql<{ createDashboard: { id: string } }>(
      'mutation($t: String!, $doc: JSON) { createDashboard(title: $t, document: $doc) { id } }',
      { t: 'Flaky network', doc: document },
      session.accessToken,
    );
    dashboardId = created.createDashboard.id;
  });

  afterAll(async () => {
    await app?.stop();
  });

  /** Pushes one point a second from `from` (seconds after t0), values `v(i)`. */
  async function push(seconds: number[], v: (s: number) => number) {
    const points = seconds.map((s) => ({ series: 'rps', t: t0 + s * 1000, v: v(s) }));
    const res = await fetch(`${app.url}/api/dashboards/${dashboardId}/points`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session.accessToken}` },
      body: JSON.stringify({ points }),
    });
    expect(res.status).toBe(200);
  }

  async function open(context: BrowserContext): Promise<Page> {
    const page = await app.newPage(context);
    await page.goto(`${app.url}/#/d/${dashboardId}`);
    await page.locator(`${CHART}[data-state=live]`).waitFor({ timeout: WAIT });
    return page;
  }

  /** Until the chart draws `count` points and its newest value is `last`. */
  async function drawn(page: Page, count: number, last: number) {
    await page
      .locator(`${CHART}[data-state=live][data-points="${count}"][data-last="${last}"]`)
      .waitFor({ timeout: WAIT })
      .catch(async (error: Error) => {
        const chart = page.locator(CHART);
        const seen = [await chart.getAttribute('data-points'), await chart.getAttribute('data-last')];
        throw new Error(`${error.message}\nthe chart draws ${seen[0]} points, newest ${seen[1]}`);
      });
  }

  it('[LD3] every point pushed while the browser was offline is drawn once it is back, a backfill included, without a reload', async () => {
    const context = await app.newContext(session);
    const page = await open(context);
    const other = await open(await app.newContext(session)); // a second tab, always online

    await push([0, 1, 2, 3, 4], (s) => 10 + s);
    await drawn(page, 5, 14);
    await drawn(other, 5, 14);

    await context.setOffline(true);
    await page.locator('[data-testid=connection-status][data-state=offline]').waitFor({ timeout: WAIT });
    // While away: newer points, and a backfill of a second that was missing (second 6 comes
    // after 7 and 8, and 5 was never sent before either).
    await push([7, 8], (s) => 10 + s);
    await push([5, 6], (s) => 10 + s);
    await push([9], () => 42);
    await drawn(other, 10, 42);
    // The offline page has drawn nothing of it.
    expect(await page.locator(CHART).getAttribute('data-points')).toBe('5');

    await context.setOffline(false);
    await page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });
    await drawn(page, 10, 42);
    await page.locator(`${METRIC} [data-testid=metric-value]`).filter({ hasText: /^42$/ }).waitFor({ timeout: WAIT });

    // And the points keep coming after the reconnect; a reload draws exactly the same.
    await push([10], () => 43);
    await drawn(page, 11, 43);
    await page.reload();
    await drawn(page, 11, 43);
    await drawn(other, 11, 43);

    // A point far behind (four minutes ago, in the window but older than the stretch kept
    // raw): its bucket is read again from the server, on both pages.
    await push([-180], () => 7);
    await drawn(page, 12, 43);
    await drawn(other, 12, 43);
  });
});
