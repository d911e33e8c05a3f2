/**
 * Everyday editing in Chromium against the real server (embedded backend), the built UI
 * served at /: Escape closes the settings panel, Delete removes the focused widget, a widget
 * dropped onto others pushes them down (rule LY1) and a metric fits its tile.
 * Every wait is on a selector or a condition in the page, never a fixed sleep.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { newWidget, type DashboardDocument } from '@collab-dashboards/core';
import { browserSuite, SHOTS, startBrowserApp, type BrowserApp } from './helpers.js';

const WAIT = 20_000;

/** a is dragged onto b; b lands on c; big is a default-size metric with long numbers. */
function startingDocument(): DashboardDocument {
  const widgets = [
    newWidget('note', { id: 'a', title: 'Dragged', x: 0, y: 0, w: 4, h: 2, text: 'drag me' }),
    newWidget('metric', { id: 'b', title: 'Under', x: 6, y: 0, w: 4, h: 2, config: { value: 7, label: 'Pushed' } }),
    newWidget('note', { id: 'c', title: 'Below', x: 6, y: 2, w: 4, h: 2, text: 'pushed too' }),
    newWidget('metric', {
      id: 'big',
      title: 'Latency',
      x: 0,
      y: 6,
      w: 2,
      h: 2,
      config: { value: 12345678.9, unit: 'ms', label: 'p95 latency this quarter', delta: -1.5e12 },
    }),
    newWidget('note', { id: 'gone', title: 'Doomed', x: 0, y: 9, w: 3, h: 2 }),
  ];
  return {
    title: 'Polish',
    widgets: Object.fromEntries(widgets.map((w) => [w.id, w])),
    layout: widgets.map((w) => w.id),
  };
}

browserSuite()('everyday editing in Chromium', () => {
  let app: BrowserApp;
  let page: Page;

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  const widget = (id: string) => page.locator(`[data-testid=canvas] [data-widget-id="${id}"]`);
  const handle = (id: string) => widget(id).getByTestId('widget-handle');
  const panel = () => page.getByTestId('config-panel');
  const selectWidget = async (id: string) => {
    await handle(id).click();
    await panel().waitFor({ timeout: WAIT });
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBrowserApp();
    const session = await app.signUp('pat@example.com', 'Pat Polish', 'everyday-4');
    const { createDashboard } = await app.gql<{ createDashboard: { id: string } }>(
      'mutation($t: String!, $doc: JSON) { createDashboard(title: $t, document: $doc) { id } }',
      { t: 'Polish', doc: startingDocument() },
      session.accessToken,
    );
    page = await app.newPage(await app.newContext(session, { viewport: { width: 1280, height: 900 } }));
    await page.goto(`${app.url}/#/d/${createDashboard.id}`);
    await page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('Escape closes the settings panel, but first reverts a title being typed', async () => {
    await selectWidget('b');
    const title = page.getByTestId('widget-title-input');
    await title.click();
    await title.fill('Half typed');
    await page.keyboard.press('Escape');
    expect(await title.inputValue()).toBe('Under');
    expect(await panel().isVisible()).toBe(true);

    await page.getByLabel('Close settings').focus();
    await page.keyboard.press('Escape');
    await panel().waitFor({ state: 'detached', timeout: WAIT });
    // Focus is back on the widget the panel was for.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-widget-id'))).toBe('b');

    // From the canvas too: select by clicking the header, then Escape.
    await selectWidget('a');
    await page.keyboard.press('Escape');
    await panel().waitFor({ state: 'detached', timeout: WAIT });
  });

  it('[LY1] dropping a widget onto another by dragging pushes it (and what it lands on) down', async () => {
    await selectWidget('a'); // the panel opens now, not mid-drag, so the grid keeps its size
    const col = (await page.getByTestId('canvas').boundingBox())!.width / 12;
    const box = (await handle('a').boundingBox())!;
    const start = { x: box.x + 20, y: box.y + box.height / 2 };
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    await page.mouse.move(start.x + col * 3, start.y, { steps: 5 });
    await page.mouse.move(start.x + col * 6.1, start.y + 4, { steps: 5 });
    // While dragging, the widgets about to be pushed already show where they will go.
    await page.locator('[data-widget-id=b].pushed[data-y="2"]').waitFor({ timeout: WAIT });
    await shot('polish-01-drag-preview');
    await page.mouse.up();

    await page.locator('[data-testid=canvas] [data-widget-id=a][data-x="6"][data-y="0"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid=canvas] [data-widget-id=b][data-x="6"][data-y="2"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid=canvas] [data-widget-id=c][data-x="6"][data-y="4"]').waitFor({ timeout: WAIT });
    // No widget box overlaps another once the moves have played out (they animate).
    const overlapping = () =>
      page.evaluate(() => {
        const boxes = [...document.querySelectorAll('[data-testid=canvas] [data-testid=widget]')].map((el) => ({
          id: el.getAttribute('data-widget-id'),
          rect: el.getBoundingClientRect(),
        }));
        const pairs: string[] = [];
        for (const [i, p] of boxes.entries()) {
          for (const q of boxes.slice(i + 1)) {
            const a = p.rect;
            const b = q.rect;
            const overlap =
              a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
            if (overlap) pairs.push(`${p.id}/${q.id}`);
          }
        }
        return pairs;
      });
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-testid=canvas] [data-testid=widget]')].every(
          (el) => el.getAnimations().length === 0,
        ),
      undefined,
      { timeout: WAIT },
    );
    expect(await overlapping()).toEqual([]);
    await shot('polish-02-dropped');
  });

  it('Delete removes the focused widget, but not from inside a note', async () => {
    // Inside the note's text, Delete edits the text and the widget stays.
    await widget('a').getByTestId('note-text').click();
    await page.keyboard.press('Delete');
    expect(await widget('a').count()).toBe(1);

    await widget('gone').focus();
    await page.keyboard.press('Delete');
    await widget('gone').waitFor({ state: 'detached', timeout: WAIT });
    // Focus moves on to a neighbour, so the keyboard user can carry on.
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-widget-id') === 'big', undefined, {
      timeout: WAIT,
    });
  });

  it('a metric with long numbers fits its default 2x2 tile, delta included', async () => {
    const tile = widget('big');
    expect(await tile.getByTestId('metric-value').textContent()).toMatch(/^12\.3M$/);
    const delta = tile.getByTestId('metric-delta');
    expect(await delta.textContent()).toMatch(/▼ 1\.5T/);
    const fits = await tile.evaluate((el) => {
      const body = el.querySelector('.widget-body')!.getBoundingClientRect();
      const parts = ['.metric-value', '.metric-delta'].map((s) => el.querySelector(s)!.getBoundingClientRect());
      const value = el.querySelector<HTMLElement>('.metric-value')!;
      return {
        inside: parts.every(
          (r) => r.left >= body.left - 0.5 && r.right <= body.right + 0.5 && r.bottom <= body.bottom + 0.5,
        ),
        valueNotClipped: value.scrollWidth <= value.clientWidth + 1,
      };
    });
    expect(fits).toEqual({ inside: true, valueNotClipped: true });

    // A falling latency is bad news by default, good news once "lower is better" is set.
    expect(await delta.getAttribute('data-tone')).toBe('bad');
    await selectWidget('big');
    await page.getByTestId('metric-lower-is-better').check();
    await tile.locator('[data-testid=metric-delta][data-tone=good]').waitFor({ timeout: WAIT });
    await shot('polish-03-metric');
  });

  it('no page threw an uncaught error or logged a console error', () => {
    expect(app.pageErrors).toEqual([]);
  });
});
