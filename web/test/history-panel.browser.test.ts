/**
 * The history panel in Chromium against the real server: it pages back with "Older changes"
 * to version 1, and names what each change did. Undo, redo and restores are in
 * history.browser.test.ts.
 *
 * Every wait is on a condition with a deadline, never a fixed sleep.
 */
import { expect, it } from '@jest/globals';
import { applyOp, editText, textDiff, type JSONOp } from '@collab-dashboards/core';
import { browserSuite } from './helpers.js';
import {
  app,
  createNoteDashboard,
  ENTRY,
  historyEntries,
  noPending,
  openEditor,
  serverState,
  session,
  shot,
  typeAtEnd,
  useHistoryEditor,
  WAIT,
} from './history-editor.js';

browserSuite()('undo, redo, history and stuck edits in the editor', () => {
  useHistoryEditor();

  it('the history panel pages back with "Older changes" until version 1 is listed', async () => {
    const { dashboardId, widgetId } = await createNoteDashboard('Long history', '');
    // 120 ops by 120 different clients, each appending a character: 120 entries.
    const TOTAL = 120;
    let doc = (await serverState(dashboardId)).document;
    for (let v = 0; v < TOTAL; v++) {
      const text = doc.widgets[widgetId]!.text;
      const op: JSONOp = editText(doc, widgetId, textDiff(text, text + String(v % 10))!);
      const { submitOperation } = await app.gql<{ submitOperation: { version: number } }>(
        `mutation($d: ID!, $c: ID!, $s: Int!, $b: Int!, $op: JSON!) {
          submitOperation(dashboardId: $d, clientId: $c, seq: $s, baseVersion: $b, op: $op) { version } }`,
        { d: dashboardId, c: `api-client-${v}`, s: 1, b: v, op },
        session.accessToken,
      );
      expect(submitOperation.version).toBe(v + 1);
      doc = applyOp(doc, op);
    }
    expect((await serverState(dashboardId)).version).toBe(TOTAL);

    const { page } = await openEditor(dashboardId);
    await page.getByTestId('toggle-history').click();
    await page.locator(`${ENTRY}[data-version="${TOTAL}"]`).waitFor({ timeout: WAIT });
    const older = page.getByTestId('history-older');
    await older.waitFor({ timeout: WAIT });
    const pages: number[] = [(await historyEntries(page)).length];
    for (let click = 0; click < 10 && (await older.count()) > 0; click++) {
      const shown = pages[pages.length - 1]!;
      await older.click();
      await page
        .waitForFunction(([selector, n]) => document.querySelectorAll(selector).length > n, [ENTRY, shown] as const, {
          timeout: WAIT,
        })
        .catch((error: Error) => {
          throw new Error(`"Older changes" (click ${click + 1}) added no entries to the ${shown} shown`, {
            cause: error,
          });
        });
      // The button stays until the oldest version is loaded (it disables while loading).
      await page.waitForFunction(
        () => {
          const button = document.querySelector<HTMLButtonElement>('[data-testid=history-older]');
          return button === null || !button.disabled;
        },
        undefined,
        { timeout: WAIT },
      );
      pages.push((await historyEntries(page)).length);
    }
    await shot(page, 'history-paged-to-v1');
    await older.waitFor({ state: 'detached', timeout: WAIT });
    const entries = await historyEntries(page);
    expect(pages).toEqual([50, 100, 120]);
    expect(entries.map((e) => e.version)).toEqual(Array.from({ length: TOTAL }, (_, i) => TOTAL - i));
    expect(entries.every((e) => e.kind === 'EDIT' && e.count === 1)).toBe(true);
    await page.locator(`${ENTRY}[data-version="1"]`).waitFor({ timeout: WAIT });
    expect(app.pageErrors).toEqual([]);
    await page.close();
  });

  it('the history panel names what each change did (a widget added from the toolbar reads "Added a widget")', async () => {
    const { dashboardId } = await createNoteDashboard('Names in history', 'gamma');
    const { page } = await openEditor(dashboardId);
    await page.getByTestId('add-metric').click();
    await noPending(page);
    await typeAtEnd(page, ' delta');
    await noPending(page);
    await page.getByTestId('toggle-history').click();
    await page.locator(`${ENTRY}[data-version="1"]`).waitFor({ timeout: WAIT });
    const entries = await historyEntries(page);
    const { dashboard } = await app.gql<{ dashboard: { operations: { version: number; op: unknown }[] } }>(
      'query($id: ID!) { dashboard(id: $id) { operations(fromVersion: 0, limit: 1) { version op } } }',
      { id: dashboardId },
      session.accessToken,
    );
    const added = JSON.stringify(dashboard.operations[0]!.op);
    expect({ entries: entries.map((e) => `v${e.version} ${e.text}`), opOfV1: added }).toEqual({
      entries: [`v${entries[0]!.version} Edited note text (${entries[0]!.count} edits)`, 'v1 Added a widget'],
      opOfV1: added,
    });
    await page.close();
  });
});
