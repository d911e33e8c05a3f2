/**
 * Stuck edits in Chromium against the real server: edits the server does not acknowledge for
 * 5 s while connected turn the connection badge into an alert (CL3; api/SPEC.md, "Clients
 * (OP2)"), and are saved once the socket is back.
 *
 * Every wait is on a condition with a deadline, never a fixed sleep.
 */
import { expect, it } from '@jest/globals';
import { browserSuite } from './helpers.js';
import {
  connected,
  createNoteDashboard,
  noPending,
  noteEquals,
  openEditor,
  PENDING,
  serverNoteIs,
  serverState,
  shot,
  typeAtEnd,
  useHistoryEditor,
  WAIT,
} from './history-editor.js';

browserSuite()('undo, redo, history and stuck edits in the editor', () => {
  useHistoryEditor();

  it('[CL3] edits the server does not acknowledge for 5 s while connected show as an alert, and are saved once the socket is back', async () => {
    const { dashboardId, widgetId } = await createNoteDashboard('Stuck edits', 'Saved.');
    const tab = await openEditor(dashboardId);
    const { page } = tab;
    const badge = page.getByTestId('connection-status');

    tab.dropSubmits = true;
    const typedAt = Date.now();
    await typeAtEnd(page, ' unsaved');
    await page.locator(PENDING).waitFor({ state: 'attached', timeout: WAIT });
    // At first a quiet pending count, not an alert.
    expect(await badge.getAttribute('data-state')).toBe('connected');
    expect(tab.dropped.length).toBeGreaterThan(0);

    await page
      .waitForFunction(
        () => document.querySelector('[data-testid=connection-status]')?.getAttribute('data-state') === 'stuck',
        undefined,
        { timeout: 15_000 },
      )
      .catch(async (error: Error) => {
        throw new Error(`the badge never turned stuck; it says ${JSON.stringify(await badge.textContent())}`, {
          cause: error,
        });
      });
    expect(Date.now() - typedAt).toBeGreaterThanOrEqual(4_900);
    await shot(page, 'stuck-edits-alert');
    expect(await badge.getAttribute('role')).toBe('alert');
    const pending = Number(await page.locator(PENDING).getAttribute('data-count'));
    expect(pending).toBeGreaterThan(0);
    const text = (await badge.textContent()) ?? '';
    const match = /^(\d+) (edit|edits) not saved for (\d+) s/.exec(text);
    expect({ text, matches: match !== null }).toEqual({ text, matches: true });
    expect(Number(match![1])).toBe(pending);
    expect(match![2]).toBe(pending === 1 ? 'edit' : 'edits');
    expect(Number(match![3])).toBeGreaterThanOrEqual(5);
    // Nothing reached the server meanwhile.
    expect((await serverState(dashboardId)).document.widgets[widgetId]!.text).toBe('Saved.');

    // The server answers again: the client reconnects and resends what it kept.
    tab.dropSubmits = false;
    tab.closeSocket();
    await connected(page);
    await noPending(page);
    await serverNoteIs(dashboardId, widgetId, 'Saved. unsaved');
    await noteEquals(page, 'Saved. unsaved');
    expect(await badge.getAttribute('role')).toBe('status');
    expect(await badge.textContent()).toBe('Connected');
    await page.close();
  });
});
