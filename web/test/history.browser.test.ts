/**
 * Undo and redo in Chromium against the real server, the way a person uses them: the Undo
 * and Redo buttons say when there is nothing to take back (UN1); a typed sentence is one undo
 * step (UN2), on the page and on the server, and one entry in the history panel; a restore
 * is named in the history and undone with Undo (UN6). The history panel's paging and entry
 * names are in history-panel.browser.test.ts, stuck edits in stuck-edits.browser.test.ts.
 *
 * Every wait is on a condition with a deadline, never a fixed sleep.
 */
import { expect, it } from '@jest/globals';
import { browserSuite } from './helpers.js';
import {
  app,
  buttonIs,
  buttons,
  createNoteDashboard,
  ENTRY,
  historyEntries,
  NOTE,
  noPending,
  noteEquals,
  openEditor,
  serverNoteIs,
  serverOperations,
  serverState,
  shot,
  typeAtEnd,
  useHistoryEditor,
  WAIT,
} from './history-editor.js';

const SENTENCE = 'Hello world, this is one sentence.';

browserSuite()('undo, redo, history and stuck edits in the editor', () => {
  useHistoryEditor();

  it('[UN1] Undo and Redo are disabled when there is nothing to undo or redo', async () => {
    const { dashboardId, widgetId } = await createNoteDashboard('Buttons', 'Start.');
    const { page } = await openEditor(dashboardId);

    // A fresh dashboard: nothing of this tab's to take back, nothing undone.
    expect(await buttons(page)).toEqual({ undo: false, redo: false });

    await typeAtEnd(page, ' abc');
    await buttonIs(page, 'undo', true);
    expect(await buttons(page)).toEqual({ undo: true, redo: false });
    await noPending(page);
    await serverNoteIs(dashboardId, widgetId, 'Start. abc');
    expect(await buttons(page)).toEqual({ undo: true, redo: false });

    await page.getByTestId('undo').click();
    await buttonIs(page, 'redo', true);
    await noteEquals(page, 'Start.');
    await noPending(page);
    // The only step is undone: nothing left to undo, one undo to redo.
    expect(await buttons(page)).toEqual({ undo: false, redo: true });

    // A new edit clears the redo stack, at once and once acknowledged.
    await typeAtEnd(page, '!');
    await buttonIs(page, 'redo', false);
    expect(await buttons(page)).toEqual({ undo: true, redo: false });
    await noPending(page);
    await serverNoteIs(dashboardId, widgetId, 'Start.!');
    expect(await buttons(page)).toEqual({ undo: true, redo: false });
    await page.close();
  });

  it('[UN2] a typed sentence is one undo step: Ctrl+Z in the note takes all of it back, Redo brings it back, history shows one entry', async () => {
    const before = 'Notes: ';
    const { dashboardId, widgetId } = await createNoteDashboard('One sentence', before);
    const { page } = await openEditor(dashboardId);

    await typeAtEnd(page, SENTENCE, 20);
    await noPending(page);
    await serverNoteIs(dashboardId, widgetId, before + SENTENCE);
    const typed = await serverOperations(dashboardId, 0);
    // It went out as several ops (one per keystroke or a few composed), all of one step.
    expect(typed.length).toBeGreaterThan(1);
    expect(new Set(typed.map((op) => op.undoGroup ?? op.version)).size).toBe(1);
    const typedVersion = typed[typed.length - 1]!.version;

    // Ctrl+Z with the caret still in the note (editor.tsx leaves only INPUT fields alone).
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('note-text');
    await page.keyboard.press('Control+Z');
    await noteEquals(page, before);
    await serverNoteIs(dashboardId, widgetId, before);
    await noPending(page);
    const undone = await serverOperations(dashboardId, typedVersion);
    expect(undone.map((op) => op.kind)).toEqual(['UNDO']); // one undo, one version
    expect(await page.locator(NOTE).inputValue()).toBe(before);
    expect(await buttons(page)).toEqual({ undo: false, redo: true });

    await page.getByTestId('redo').click();
    await noteEquals(page, before + SENTENCE);
    await serverNoteIs(dashboardId, widgetId, before + SENTENCE);
    await noPending(page);
    expect((await serverOperations(dashboardId, typedVersion)).map((op) => op.kind)).toEqual(['UNDO', 'REDO']);

    // The history panel: redo, undo, and the sentence as one entry of all its edits.
    await page.getByTestId('toggle-history').click();
    await page.locator(`${ENTRY}[data-kind=REDO]`).waitFor({ timeout: WAIT });
    const entries = await historyEntries(page);
    await shot(page, 'history-one-sentence');
    expect(entries.map((e) => e.kind)).toEqual(['REDO', 'UNDO', 'EDIT']);
    const sentence = entries[2]!;
    expect(sentence.count).toBe(typed.length);
    expect(sentence.count).toBeGreaterThan(1);
    expect(sentence.version).toBe(typedVersion);
    expect(sentence.text).toBe(`Edited note text (${typed.length} edits)`);
    expect(app.pageErrors).toEqual([]);
    await page.close();
  });

  it('[UN1][UN6] a restore from the history preview is listed as "Restored version N" and taken back by Undo; Escape closes the preview', async () => {
    const { dashboardId, widgetId } = await createNoteDashboard('Restore and undo', 'alpha');
    const { page } = await openEditor(dashboardId);
    page.on('dialog', (dialog) => void dialog.accept());

    // Version 1: a metric added from the toolbar. Then a typing run in the note.
    await page.getByTestId('add-metric').click();
    await page.locator('[data-testid=canvas] [data-testid=widget][data-type=metric]').waitFor({ timeout: WAIT });
    await noPending(page);
    await typeAtEnd(page, ' beta');
    await noPending(page);
    await serverNoteIs(dashboardId, widgetId, 'alpha beta');
    const beforeRestore = await serverState(dashboardId);
    expect(
      Object.values(beforeRestore.document.widgets)
        .map((w) => w.type)
        .sort(),
    ).toEqual(['metric', 'note']);

    await page.getByTestId('toggle-history').click();
    const first = page.locator(`${ENTRY}[data-version="1"]`);
    await first.waitFor({ timeout: WAIT });
    expect(await first.getAttribute('data-kind')).toBe('EDIT');

    // Preview version 1, then Escape closes it.
    const preview = page.getByTestId('history-preview');
    await first.getByTestId('preview-version').click();
    await preview.waitFor({ timeout: WAIT });
    await preview.locator('[data-testid=preview-canvas] .note-static').waitFor({ timeout: WAIT });
    expect(await preview.locator('[data-testid=preview-canvas] .note-static').textContent()).toBe('alpha');
    await page.keyboard.press('Escape');
    await preview.waitFor({ state: 'detached', timeout: WAIT });

    // Preview again and restore from the preview (the confirm dialog is accepted).
    await first.getByTestId('preview-version').click();
    await preview.waitFor({ timeout: WAIT });
    await preview.getByRole('button', { name: 'Restore this version' }).click();
    await preview.waitFor({ state: 'detached', timeout: WAIT });
    await noteEquals(page, 'alpha');
    await page.locator('[data-testid=canvas] [data-testid=widget][data-type=metric]').waitFor({ timeout: WAIT });
    await serverNoteIs(dashboardId, widgetId, 'alpha');
    await noPending(page);
    const restored = page.locator(`${ENTRY}[data-kind=RESTORE]`);
    await restored.waitFor({ timeout: WAIT });
    expect(await restored.locator('div > div').first().textContent()).toBe('Restored version 1');
    await shot(page, 'history-restored');
    expect(await buttons(page)).toEqual({ undo: true, redo: false });

    // Undo takes the restore back: the document is what it was before it, here and on the server.
    await page.getByTestId('undo').click();
    await noteEquals(page, 'alpha beta');
    await serverNoteIs(dashboardId, widgetId, 'alpha beta');
    await noPending(page);
    const afterUndo = await serverState(dashboardId);
    expect(afterUndo.document).toEqual(beforeRestore.document);
    const ops = await serverOperations(dashboardId, beforeRestore.version);
    expect(ops.map((op) => [op.kind, op.refVersion])).toEqual([
      ['RESTORE', 1],
      ['UNDO', beforeRestore.version + 1],
    ]);
    expect(await buttons(page)).toEqual({ undo: true, redo: true });

    // Redo restores version 1 again.
    await page.getByTestId('redo').click();
    await noteEquals(page, 'alpha');
    await serverNoteIs(dashboardId, widgetId, 'alpha');
    await noPending(page);
    expect(app.pageErrors).toEqual([]);
    await page.close();
  });
});
