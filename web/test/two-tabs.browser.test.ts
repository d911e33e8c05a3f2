/**
 * Issue "Trustworthy editing", in Chromium against the real server: one user with one
 * dashboard open in two tabs of one browser (one context, so one localStorage), typing in
 * the same note in both, one tab reloaded in the middle of a word; and a tab closed with
 * unsent edits, which the tab still open must send for it (collab-session.ts claims orphaned
 * slots at open and every ORPHAN_SCAN_MS, 15 s). Every character typed must reach the other
 * tab and the server, in each tab's typing order, and no tab may be left showing pending
 * edits (CONVENTIONS.md 19: a clientId belongs to one tab; saved state is claimed by one tab;
 * an edit dropped silently is a bug). The same user in a second browser that goes offline is
 * in second-browser-offline.browser.test.ts.
 *
 * The two tabs write to different places in the note, so the expected text is exact: tab 2
 * types at the end of the first line, tab 1 at the end of the second (the note starts as
 * "\n"). Every tab's socket is routed through the tap of tapped-tabs.ts, for the failure
 * messages. Every wait is on a condition with a deadline, never a fixed sleep.
 */
import { expect, it } from '@jest/globals';
import path from 'node:path';
import { browserSuite, SHOTS } from './helpers.js';
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
  type Tab,
} from './tapped-tabs.js';

browserSuite()('one user, one dashboard, several tabs and browsers: no edit is lost', () => {
  useTabsApp();

  it('[OP2][CL1] two tabs of one browser, same user: each tab gets its own identity, sees the other live, and every character typed (also just before a reload) reaches the server in order', async () => {
    const session = await app.signUp('tess@example.com', 'Tess Tabs', 'two-tabs-1');
    const { dashboardId, widgetId } = await createNoteDashboard(session, 'Two tabs');
    const context = await app.newContext(session);
    const tabs: Tab[] = [];

    // Tab 1 edits first, so the engine state saved in the shared localStorage has moved on.
    const one = await openTab(context, 'tab 1', dashboardId);
    tabs.push(one);
    await typeAtEnd(one, 'alpha0 ');
    await step('tab 1 has its first word acknowledged', tabs, () => noPending(one, WAIT));

    const two = await openTab(context, 'tab 2', dashboardId);
    tabs.push(two);
    await step('tab 2 opens with the text of tab 1', tabs, () => noteContains(two, ['alpha0 ']));

    // Interleaved typing, both tabs at once, neither waiting for acknowledgements.
    for (const i of [1, 2, 3]) {
      await Promise.all([typeAtEnd(one, `alpha${i} `), typeOnFirstLine(two, `BRAVO${i} `)]);
    }
    await step("each tab sees the other tab's words live", tabs, () =>
      Promise.all([noteContains(one, ['BRAVO1 BRAVO2 BRAVO3 ']), noteContains(two, ['alpha0 alpha1 alpha2 alpha3 '])]),
    );
    await step('neither tab is left with pending edits', tabs, () =>
      Promise.all([noPending(one, SETTLE), noPending(two, SETTLE)]),
    );

    // Tab 2 starts a word and reloads before any of it reaches the server: the engine saved
    // it locally on every keystroke, so it must come back and be sent after the reload.
    two.swallowSubmissions();
    await typeOnFirstLine(two, 'CHARL');
    await step('tab 2 shows its unsent keystrokes as pending', tabs, () =>
      two.page.locator(PENDING).waitFor({ timeout: WAIT }),
    );
    expect(await noteText(two)).toContain('BRAVO3 CHARL\n');
    // Tab 1 keeps typing while tab 2 reloads.
    await Promise.all([two.page.reload(), typeAtEnd(one, 'alpha4 ')]);
    await step('tab 2 comes back connected after the reload', tabs, () => connected(two));
    await step('tab 2 still has what it typed before the reload', tabs, () =>
      noteContains(two, ['BRAVO3 CHARL\n', 'alpha4 ']),
    );
    await typeOnFirstLine(two, 'IE ');
    for (const i of [5, 6]) {
      await Promise.all([typeAtEnd(one, `alpha${i} `), typeOnFirstLine(two, `DELTA${i} `)]);
    }

    const expected =
      'BRAVO1 BRAVO2 BRAVO3 CHARLIE DELTA5 DELTA6 \n' + 'alpha0 alpha1 alpha2 alpha3 alpha4 alpha5 alpha6 ';
    await step('both tabs show every word of both tabs, each in its typing order', tabs, () =>
      Promise.all([noteEquals(one, expected), noteEquals(two, expected)]),
    );
    await step('no tab shows pending edits for more than a few seconds once all is done', tabs, () =>
      Promise.all([noPending(one, SETTLE), noPending(two, SETTLE)]),
    );
    await step('the server holds every character of both tabs', tabs, () =>
      serverSettlesOn(session, dashboardId, widgetId, expected),
    );
    await one.page.screenshot({ path: path.join(SHOTS, '10-two-tabs-converged.png') });

    // Why it holds: a clientId belongs to one tab, and no live edit was taken for another's.
    const shared = clientIdsOf(one.sent).filter((id) => clientIdsOf(two.sent).includes(id));
    expect({
      sharedClientIds: shared,
      duplicates: [...one.duplicates, ...two.duplicates],
      refused: [...one.refused, ...two.refused],
    }).toEqual({ sharedClientIds: [], duplicates: [], refused: [] });
    expect(app.pageErrors).toEqual([]);
  });

  it('[OP2][CL1] edits of a tab closed before they were sent are sent by another open tab', async () => {
    const session = await app.signUp('carl@example.com', 'Carl Closer', 'two-tabs-3');
    const { dashboardId, widgetId } = await createNoteDashboard(session, 'Closed with unsent edits');
    const context = await app.newContext(session);
    const one = await openTab(context, 'tab 1', dashboardId);
    const two = await openTab(context, 'tab 2', dashboardId);
    const tabs = [one, two];

    // Tab 2's submissions never reach the server; it is closed while they are still unsent.
    two.swallowSubmissions();
    await typeOnFirstLine(two, 'ORPHANED ');
    await step('tab 2 shows its unsent edits as pending', tabs, () =>
      two.page.locator(PENDING).waitFor({ timeout: WAIT }),
    );
    expect(two.swallowed).not.toEqual([]);
    const [orphanClientId] = clientIdsOf(two.swallowed);
    // The slot tab 2 keeps its state in (found by the clientId it was sending under).
    const orphanKey = await one.page.evaluate((clientId) => {
      const keys = Object.keys(localStorage).filter((key) => key.startsWith('collab.engine.'));
      return keys.find(
        (key) => (JSON.parse(localStorage.getItem(key)!) as { clientId?: string }).clientId === clientId,
      );
    }, orphanClientId!);
    expect(orphanKey).toMatch(/^collab\.engine\./);
    await two.page.close();

    // Tab 1 claims the orphaned slot (it looks every 15 s) and sends it under tab 2's clientId.
    await step("tab 1 receives the closed tab's word", tabs, () => noteContains(one, ['ORPHANED '], 30_000));
    await step("the server holds the closed tab's word", tabs, () =>
      serverSettlesOn(session, dashboardId, widgetId, 'ORPHANED \n'),
    );
    await step('the orphaned slot is cleared once its edits are on the server', tabs, () =>
      one.page.waitForFunction((key) => localStorage.getItem(key) === null, orphanKey!, { timeout: WAIT }),
    );
    await step('tab 1 is left with no pending edits', tabs, () => noPending(one, SETTLE));
    expect({
      notSentByTab1: two.swallowed.filter((key) => !one.sent.includes(key)),
      duplicates: [...one.duplicates, ...two.duplicates],
      refused: [...one.refused, ...two.refused],
    }).toEqual({ notSentByTab1: [], duplicates: [], refused: [] });
    expect(app.pageErrors).toEqual([]);
  });
});
