/**
 * Token refresh and the 4401 reconnect, in Chromium against the real server with access
 * tokens that live 3 seconds. A's refreshSession request is held back until the server has
 * closed A's socket with 4401 (token expired), so the app has to come back from the close
 * the stock graphql-ws client treats as final: refresh, reconnect, resubscribe, and edit.
 * Every wait is on a selector, a response or an event, never a fixed sleep.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { browserSuite, SHOTS, startBrowserApp, type BrowserApp } from './helpers.js';

const WAIT = 20_000;
const TTL_SECONDS = 3;

browserSuite()('token refresh and reconnect after a 4401 close (3 s access tokens)', () => {
  let app: BrowserApp;

  const badge = (page: Page, state: string) => page.locator(`[data-testid=connection-status][data-state=${state}]`);
  const isRefresh = (body: string | null) => body !== null && body.includes('refreshSession');

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBrowserApp({ ACCESS_TOKEN_TTL: String(TTL_SECONDS) });
    expect(app.config.accessTokenTtl).toBe(TTL_SECONDS);
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('A logs in, outlives its token, is closed with 4401, refreshes, reconnects, and B still gets its edits', async () => {
    const ada = { email: 'ada@example.com', name: 'Ada Lovelace', password: 'analytical-1' };
    const adaSession = await app.signUp(ada.email, ada.name, ada.password);
    const bobSession = await app.signUp('bob@example.com', 'Bob Babbage', 'difference-2');
    expect(Date.parse(adaSession.expiresAt) - Date.now()).toBeLessThanOrEqual(TTL_SECONDS * 1000);
    const { createDashboard } = await app.gql<{ createDashboard: { id: string } }>(
      'mutation($t: String!) { createDashboard(title: $t) { id } }',
      { t: 'Short tokens' },
      adaSession.accessToken,
    );
    const dashboardId = createDashboard.id;
    await app.gql(
      'mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }',
      { d: dashboardId, e: 'bob@example.com' },
      adaSession.accessToken,
    );

    // A's socket goes through a proxy that reports the server's close codes; A's next
    // refreshSession request is held once armed, until the test lets it go.
    const contextA = await app.newContext();
    const closeCodes: number[] = [];
    let saw4401: (() => void) | null = null; // set once armed: earlier closes do not count
    await contextA.routeWebSocket(/\/graphql/, (ws) => {
      const server = ws.connectToServer();
      server.onClose((code, reason) => {
        if (code !== undefined) closeCodes.push(code);
        if (code === 4401) saw4401?.();
        void ws.close({ code, reason });
      });
    });
    let armed = false;
    let held = 0;
    let holding: () => void = () => {};
    const refreshHeld = new Promise<void>((resolve) => (holding = resolve));
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    await contextA.route(/\/graphql/, async (route) => {
      if (armed && route.request().method() === 'POST' && isRefresh(route.request().postData())) {
        armed = false;
        held++;
        holding();
        await released;
      }
      await route.continue().catch(() => {}); // the page may be gone by then
    });

    const a = await app.newPage(contextA);
    await a.goto(app.url);
    await a.getByTestId('auth-email').fill(ada.email);
    await a.getByTestId('auth-password').fill(ada.password);
    await a.getByTestId('auth-submit').click();
    await a.locator('[data-testid=auth-submit]').waitFor({ state: 'detached', timeout: WAIT });
    await a.goto(`${app.url}/#/d/${dashboardId}`);
    await badge(a, 'connected').waitFor({ timeout: WAIT });
    await a.getByTestId('add-note').click();
    await a.locator('[data-type=note] [data-testid=note-text]').waitFor({ timeout: WAIT });

    const contextB = await app.newContext(bobSession);
    const b = await app.newPage(contextB);
    await b.goto(`${app.url}/#/d/${dashboardId}`);
    await badge(b, 'connected').waitFor({ timeout: WAIT });
    await b.locator('[data-type=note] [data-testid=note-text]').waitFor({ timeout: WAIT });

    // A's next refresh is held, so its token runs out: the server closes the socket with 4401
    // (the close may also come first, and the reconnect's refresh is the one held).
    const closed4401 = new Promise<void>((resolve) => (saw4401 = resolve));
    armed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no 4401 with a held refresh; closes: ${closeCodes.join()}`)), WAIT);
    });
    try {
      await Promise.race([Promise.all([refreshHeld, closed4401]), timeout]);
    } catch (error) {
      release();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    expect(held).toBe(1);
    await badge(a, 'reconnecting').waitFor({ timeout: WAIT });

    // Let the refresh through: A gets a new token, reconnects and resubscribes.
    const refreshed = a.waitForResponse((r) => isRefresh(r.request().postData()) && r.ok(), { timeout: WAIT });
    release();
    const response = await refreshed;
    const body = (await response.json()) as { data?: { refreshSession?: { accessToken: string } } };
    expect(body.data?.refreshSession?.accessToken).toBeTruthy();
    await badge(a, 'connected').waitFor({ timeout: WAIT });
    const storedToken = await a.evaluate(() => JSON.parse(localStorage.getItem('collab.session')!).accessToken);
    expect(storedToken).not.toBe(adaSession.accessToken);

    // Edits made after the reconnect reach B, and B's reach A.
    const noteA = a.locator('[data-type=note] [data-testid=note-text]');
    await noteA.click();
    await a.keyboard.type('after the refresh');
    await b.waitForFunction(
      () =>
        document.querySelector<HTMLTextAreaElement>('[data-type=note] [data-testid=note-text]')?.value ===
        'after the refresh',
      undefined,
      { timeout: WAIT },
    );
    await b.locator('[data-type=note] [data-testid=note-text]').click();
    await b.keyboard.press('Control+End');
    await b.keyboard.type(' and back');
    await a.waitForFunction(
      () =>
        document.querySelector<HTMLTextAreaElement>('[data-type=note] [data-testid=note-text]')?.value ===
        'after the refresh and back',
      undefined,
      { timeout: WAIT },
    );
    await badge(a, 'connected').waitFor({ timeout: WAIT });
    expect(await a.getByTestId('pending-count').count()).toBe(0);
    expect(closeCodes).toContain(4401);
    await a.screenshot({ path: path.join(SHOTS, '09-after-4401-reconnect.png') });
    expect(app.pageErrors).toEqual([]);
  });
});
