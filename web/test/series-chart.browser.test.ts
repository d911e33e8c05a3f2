/**
 * LD4 in Chromium: the live series chart (web/shared/series-chart.ts) really draws with
 * uPlot. The app serves no page with a chart yet, so the chart module is bundled with esbuild
 * (as it is, uPlot included) into a blank page with uPlot's and our stylesheets, and driven
 * through its API as the clients will drive it. Every wait is on the page's state, not a sleep.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import type * as ChartModule from '../shared/series-chart.js';
import type { SeriesData } from '../shared/series-data.js';
import { browserSuite, launchChromium, ROOT, SHOTS } from './helpers.js';

/** What the page holds: the bundle's exports and the charts a test made. */
declare global {
  interface Window {
    SeriesChart: typeof ChartModule;
    charts: Record<string, ChartModule.SeriesChart>;
    kept?: Element | null;
  }
}

const WAIT = 10_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0); // 07:00 in New York, 17:30 in Kolkata
const WINDOW = { from: T0, to: T0 + 15 * MIN };
/** SERIES_COLORS[0] and [1] (chart.ts) as RGB. */
const INDIGO = [0x4f, 0x46, 0xe5];
const SKY = [0x0e, 0xa5, 0xe9];

/** A point every 30 s: `a` climbs 0, 1, 2, ... (ms), `b` stays at 40 with a dip in the middle. */
function twoSeries(minutes = 15): SeriesData[] {
  const a: number[][] = [];
  const b: number[][] = [];
  for (let i = 0; i <= minutes * 2; i++) {
    a.push([T0 + i * 30_000, i]);
    b.push([T0 + i * 30_000, i === 15 ? 10 : 40]);
  }
  return [
    { series: { id: 'a', name: 'latency_ms', labels: { job: 'api', instance: 'a' }, last: null }, points: a },
    { series: { id: 'b', name: 'latency_ms', labels: { job: 'api', instance: 'b' }, last: null }, points: b },
  ];
}

browserSuite()('[LD4] the live series chart (uPlot) in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let script: string;
  let styles: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [path.join(ROOT, 'web/shared/series-chart.ts')],
      bundle: true,
      format: 'iife',
      globalName: 'SeriesChart',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    script = bundle.outputFiles[0]!.text;
    styles = [path.join(ROOT, 'node_modules/uplot/dist/uPlot.min.css'), path.join(ROOT, 'web/shared/widgets.css')]
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    browser = await launchChromium();
    // The viewer is in New York: a chart without a time zone shows New York time.
    context = await browser.newContext({
      viewport: { width: 1000, height: 800 },
      locale: 'en-US',
      timezoneId: 'America/New_York',
    });
    mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  beforeEach(async () => {
    await page?.close();
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
    });
    await page.setContent(
      `<!doctype html><html><head><style>${styles}</style></head><body>
        <div id="utc" style="width: 600px; height: 300px"></div>
        <div id="kolkata" style="width: 600px; height: 300px"></div>
        <div id="local" style="width: 600px; height: 300px"></div>
      </body></html>`,
    );
    await page.addScriptTag({ content: script });
    await page.evaluate(() => {
      const zones: Record<string, string | undefined> = { utc: 'UTC', kolkata: 'Asia/Kolkata', local: undefined };
      window.charts = {};
      for (const [id, timeZone] of Object.entries(zones)) {
        window.charts[id] = window.SeriesChart.createSeriesChart(document.getElementById(id)!, {
          unit: 'ms',
          locale: 'en-US',
          timeZone,
        });
      }
    });
  });

  afterEach(() => {
    expect(pageErrors.splice(0)).toEqual([]);
  });

  /** Hands `list` over `range` to every chart on the page. */
  async function drawAll(list: SeriesData[], range = WINDOW) {
    await page.evaluate(
      ({ list, range }) => {
        for (const chart of Object.values(window.charts)) chart.setData(list, range);
      },
      { list, range },
    );
  }

  /**
   * Of the canvas in host `id`: how many pixels are (about) `rgb`, how many are tinted blue
   * (lines, bars and areas; axes and grid are grey), and a checksum of them all.
   */
  function pixels(id: string, rgb: number[]): Promise<{ matching: number; tinted: number; checksum: number }> {
    return page.evaluate(
      ({ id, rgb }) => {
        const canvas = document.querySelector<HTMLCanvasElement>(`#${id} canvas`)!;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let matching = 0;
        let tinted = 0;
        let checksum = 0;
        for (let i = 0; i < data.length; i += 4) {
          checksum = (checksum * 31 + data[i]! + data[i + 1]! * 7 + data[i + 2]! * 13 + data[i + 3]!) % 1e9;
          const near = [0, 1, 2].every((c) => Math.abs(data[i + c]! - rgb[c]!) < 12) && data[i + 3]! > 200;
          if (near) matching++;
          if (data[i + 3]! > 0 && data[i + 2]! - data[i]! > 30) tinted++;
        }
        return { matching, tinted, checksum };
      },
      { id, rgb },
    );
  }

  const state = (id: string) => page.locator(`#${id} .series-chart`).getAttribute('data-state');
  const legendValues = (id: string) =>
    page.locator(`#${id} .u-legend .u-series`).evaluateAll((rows) =>
      rows.map((row) => ({
        label: row.querySelector('.u-label')?.textContent ?? '',
        value: row.querySelector('.u-value')?.textContent ?? '',
      })),
    );

  it('draws one line per series on a canvas, named by their labels in the legend', async () => {
    await drawAll(twoSeries());
    expect(await state('utc')).toBe('drawn');
    expect(await page.locator('#utc canvas').count()).toBe(1);
    expect((await pixels('utc', INDIGO)).matching).toBeGreaterThan(100);
    expect((await pixels('utc', SKY)).matching).toBeGreaterThan(100);
    const labels = (await legendValues('utc')).map((row) => row.label);
    expect(labels).toEqual(['Time', '{job="api", instance="a"}', '{job="api", instance="b"}']);
    await expect(page.locator('#utc .series-chart-message').isVisible()).resolves.toBe(false);
    await page.locator('#utc').screenshot({ path: path.join(SHOTS, 'ld4-series-chart-line.png') });
  });

  it('shows the hovered values with their unit and their time, in the chart’s time zone', async () => {
    await drawAll(twoSeries());
    // Point 10 (12:05:00 UTC): a = 10 ms, b = 40 ms.
    const expected: Record<string, string> = {
      utc: '2026-01-01 12:05:00pm',
      kolkata: '2026-01-01 5:35:00pm',
      local: '2026-01-01 7:05:00am',
    };
    for (const [id, time] of Object.entries(expected)) {
      const over = (await page.locator(`#${id} .u-over`).boundingBox())!;
      const x = over.x + (over.width * (10 * 30_000)) / (WINDOW.to - WINDOW.from);
      await page.mouse.move(x, over.y + over.height / 2);
      await page.waitForFunction(
        (id) => document.querySelector(`#${id} .u-series .u-value`)?.textContent !== '--',
        id,
        { timeout: WAIT },
      );
      expect(await legendValues(id)).toEqual([
        { label: 'Time', value: time },
        { label: '{job="api", instance="a"}', value: '10 ms' },
        { label: '{job="api", instance="b"}', value: '40 ms' },
      ]);
    }
  });

  it('says when no series matches, and when the window holds no point but still shows its time range', async () => {
    await drawAll([]);
    expect(await state('utc')).toBe('no-series');
    await expect(page.locator('#utc .series-chart-message').textContent()).resolves.toBe('No series match');
    expect(await page.locator('#utc canvas').count()).toBe(0);

    const old = twoSeries().map((data) => ({ ...data, points: data.points.map(([t, v]) => [t! - 60 * MIN, v!]) }));
    await drawAll(old);
    expect(await state('utc')).toBe('no-points');
    const message = page.locator('#utc .series-chart-message');
    await expect(message.isVisible()).resolves.toBe(true);
    await expect(message.textContent()).resolves.toBe('No data in this window');
    // The axes are drawn (the window's time range), no series is.
    expect(await page.locator('#utc canvas').count()).toBe(1);
    const drawn = await pixels('utc', [0x6b, 0x72, 0x85]); // axis text, --muted
    expect(drawn.matching).toBeGreaterThan(20);
    expect((await pixels('utc', INDIGO)).matching).toBe(0);
    await page.locator('#utc').screenshot({ path: path.join(SHOTS, 'ld4-series-chart-empty-window.png') });

    await drawAll(twoSeries());
    expect(await state('utc')).toBe('drawn');
    await expect(message.isVisible()).resolves.toBe(false);
  });

  it('resizes with its element', async () => {
    await drawAll(twoSeries());
    const size = () =>
      page.locator('#utc canvas').evaluate((canvas) => ({ width: canvas.clientWidth, height: canvas.clientHeight }));
    const before = await size();
    expect(before.width).toBe(600);
    // The legend sits below the plot, inside the element's 300 px.
    const root = (await page.locator('#utc .uplot').boundingBox())!;
    expect(root.height).toBeLessThanOrEqual(300);
    expect(before.height).toBeGreaterThan(200);

    await page.locator('#utc').evaluate((host: HTMLElement) => {
      host.style.width = '400px';
      host.style.height = '220px';
    });
    // Settled: the plot and its legend fill the element's new size.
    await page.waitForFunction(
      () => {
        const root = document.querySelector('#utc .uplot')!;
        return root.querySelector('canvas')!.clientWidth === 400 && Math.abs(root.clientHeight - 220) <= 1;
      },
      undefined,
      { timeout: WAIT },
    );
    // The plot gives up the 80 px (and what the legend needs more, wrapped into 400 px).
    const after = await size();
    expect(after.height).toBeLessThanOrEqual(before.height - 80);
    expect((await page.locator('#utc .uplot').boundingBox())!.height).toBeLessThanOrEqual(220);
  });

  it('draws live batches on the same canvas; a new kind rebuilds it', async () => {
    await drawAll(twoSeries(10));
    await page.evaluate(() => (window.kept = document.querySelector('#utc canvas')));
    const before = await pixels('utc', INDIGO);

    await drawAll(twoSeries(15));
    const after = await pixels('utc', INDIGO);
    expect(after.checksum).not.toBe(before.checksum);
    expect(after.matching).toBeGreaterThan(before.matching);
    expect(await page.evaluate(() => document.querySelector('#utc canvas') === window.kept)).toBe(true);

    // The window moves on (live): same canvas, the line shifts left.
    const moved = { from: WINDOW.from + 5 * MIN, to: WINDOW.to + 5 * MIN };
    await drawAll(twoSeries(15), moved);
    expect((await pixels('utc', INDIGO)).checksum).not.toBe(after.checksum);
    expect(await page.evaluate(() => document.querySelector('#utc canvas') === window.kept)).toBe(true);

    // Bars and areas paint far more than lines do; bars in both series' colours, side by side.
    const line = (await pixels('utc', INDIGO)).tinted;
    for (const kind of ['bar', 'area'] as const) {
      await page.evaluate((kind) => window.charts.utc!.setKind(kind), kind);
      expect(await page.evaluate(() => document.querySelectorAll('#utc canvas').length)).toBe(1);
      expect(await page.evaluate(() => document.querySelector('#utc canvas') === window.kept)).toBe(false);
      await page.locator('#utc').screenshot({ path: path.join(SHOTS, `ld4-series-chart-${kind}.png`) });
      expect((await pixels('utc', SKY)).tinted).toBeGreaterThan(3 * line);
      if (kind === 'bar') {
        expect((await pixels('utc', INDIGO)).matching).toBeGreaterThan(500);
        expect((await pixels('utc', SKY)).matching).toBeGreaterThan(500);
      }
      await page.evaluate(() => (window.kept = document.querySelector('#utc canvas')));
    }
  });

  it('leaves its element empty when destroyed', async () => {
    await drawAll(twoSeries());
    await page.evaluate(() => window.charts.utc!.destroy());
    expect(await page.locator('#utc').innerHTML()).toBe('');
  });
});
