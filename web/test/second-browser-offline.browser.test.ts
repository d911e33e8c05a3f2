/**
 * Issue "Trustworthy editing", in Chromium against the real server: the same user in a
 * second browser that goes offline, types, reloads while the server is unreachable and comes
 * back. Every character typed must reach the other browser and the server, in each one's
 * typing order, and neither may be left showing pending edits (CONVENTIONS.md 19). Two tabs
 * of one browser are in two-tabs.browser.test.ts.
 *
 * The browsers write to different places in the note, so the expected text is exact. Every
 * wait is on a condition with a deadline, never a fixed sleep.
 */
import { expect, it } from '@jest/globals';
import { browserSuite } from './helpers.js';
import {
  app,
  clientIdsOf,
  connected,
  createNoteDashboard,
  noPending,
  noteContains,
  noteEquals,
  noteText,
  openTab,
  PENDING,
  serverSettlesOn,
  SETTLE,
  step,
  typeAtEnd,
  typeOnFirstLine,
  useTabsApp,
  WAIT,
} from './tapped-tabs.js';

browserSuite()('one user, one dashboard, several tabs and browsers: no edit is lost', () => {
  useTabsApp();

  it('the same user in a second browser goes offline, types, reloads while the server is unreachable, comes back, and nothing is lost', async () => {
    const session = await app.signUp('olga@example.com', 'Olga Offline', 'two-tabs-2');
    const { dashboardId, widgetId } = await createNoteDashboard(session, 'Offline and back');
    const online = await openTab(await app.newContext(session), 'online browser', dashboardId);
    const offlineContext = await app.newContext(session);
    const offline = await openTab(offlineContext, 'offline browser', dashboardId);
    const tabs = [online, offline];

    await offlineContext.setOffline(true);
    await step('the offline browser says it is offline', tabs, () =>
      offline.page.locator('[data-testid=connection-status][data-state=offline]').waitFor({ timeout: WAIT }),
    );
    await typeOnFirstLine(offline, 'offline1 ');
    await typeAtEnd(online, 'online1 ');
    await typeOnFirstLine(offline, 'offline2 ');
    await step('the offline browser shows its edits as pending', tabs, () =>
      offline.page.locator(PENDING).waitFor({ timeout: WAIT }),
    );
    await step('the online browser has its own edit acknowledged', tabs, () => noPending(online, WAIT));
    expect(await noteText(online)).toBe('\nonline1 ');

    // Back on the network but the server still unreachable: a reload must not lose the edits.
    offline.refuseSockets = true;
    await offlineContext.setOffline(false);
    await offline.page.reload();
    await step('after the reload the offline edits are still there, still pending', tabs, async () => {
      await noteContains(offline, ['offline1 offline2 \n']);
      await offline.page.locator(PENDING).waitFor({ timeout: WAIT });
    });
    expect(await noteText(online)).toBe('\nonline1 ');

    offline.refuseSockets = false; // the server is back: the next reconnect goes through
    await step('the browser that was offline reconnects', tabs, () => connected(offline));
    await typeAtEnd(online, 'online2 ');
    await typeOnFirstLine(offline, 'back ');

    const expected = 'offline1 offline2 back \nonline1 online2 ';
    await step('both browsers converge on every word typed in either', tabs, () =>
      Promise.all([noteEquals(online, expected), noteEquals(offline, expected)]),
    );
    await step('no browser shows pending edits for more than a few seconds once all is done', tabs, () =>
      Promise.all([noPending(online, SETTLE), noPending(offline, SETTLE)]),
    );
    await step('the server holds every character typed offline and online', tabs, () =>
      serverSettlesOn(session, dashboardId, widgetId, expected),
    );
    const shared = clientIdsOf(online.sent).filter((id) => clientIdsOf(offline.sent).includes(id));
    expect({ sharedClientIds: shared, refused: [...online.refused, ...offline.refused] }).toEqual({
      sharedClientIds: [],
      refused: [],
    });
    expect(app.pageErrors).toEqual([]);
  });
});
