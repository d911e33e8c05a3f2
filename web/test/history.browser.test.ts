/**
 * Undo, redo, history and stuck edits in Chromium against the real server, the way a person
 * uses them: the Undo and Redo buttons say when there is nothing to take back (UN1); a typed
 * sentence is one undo step (UN2), on the page and on the server; the history panel shows a
 * typing run as one entry, names restores and pages back to version 1; a restore is undone
 * with Undo; edits the server does not acknowledge for 5 s while connected turn the connection
 * badge into an alert (api/SPEC.md, "Clients (OP2)").
 *
 * Every wait is on a condition with a deadline, never a fixed sleep.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { applyOp, editText, newWidget, textDiff, type DashboardDocument, type JSONOp } from '@collab-dashboards/core';
import { waitFor } from '../../api/test/helpers/wait.js';
import { browserSuite, SHOTS, startBrowserApp, type BrowserApp, type SessionPayload } from './helpers.js';

const WAIT = 20_000;
const NOTE = '[data-testid=widget][data-type=note] [data-testid=note-text]';
const PENDING = '[data-testid=pending-count]';
const ENTRY = '[data-testid=history-entry]';
const SENTENCE = 'Hello world, this is one sentence.';

interface ServerOperation {
  version: number;
  kind: string;
  clientId: string;
  undoGroup: number | null;
  refVersion: number | null;
}

/** One editor tab whose socket goes through a tap that can swallow submitOperation. */
interface Tab {
  page: Page;
  /** While set, submitOperation messages from the page never reach the server. */
  dropSubmits: boolean;
  /** `clientId/seq` of each submitOperation swallowed. */
  dropped: string[];
  /** Closes the tab's current socket from the server side (the client reconnects). */
  closeSocket(): void;
}

function isSubmitOperation(message: string | Buffer): { key: string } | null {
  try {
    const parsed = JSON.parse(typeof message === 'string' ? message : message.toString('utf8')) as {
      type?: string;
      payload?: { query?: string; variables?: Record<string, unknown> };
    };
    if (parsed.type !== 'subscribe' || !/\bsubmitOperation\s*\(/.test(parsed.payload?.query ?? '')) return null;
    const v = parsed.payload!.variables ?? {};
    return { key: `${String(v.c)}/${String(v.s)}` };
  } catch {
    return null;
  }
}

browserSuite()('undo, redo, history and stuck edits in the editor', () => {
  let app: BrowserApp;
  let session: SessionPayload;
  let context: BrowserContext;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBrowserApp();
    session = await app.signUp('hana@example.com', 'Hana History', 'history-test-1');
    context = await app.newContext(session);
  });

  afterAll(async () => {
    await app?.stop();
  });

  /** A dashboard with one wide note holding `text`, created over HTTP (version 0). */
  async function createNoteDashboard(title: string, text: string) {
    const widget = newWidget('note', { title: 'Note', x: 0, y: 0, w: 10, h: 4, text });
    const document: DashboardDocument = { title, widgets: { [widget.id]: widget }, layout: [widget.id] };
    const { createDashboard } = await app.gql<{ createDashboard: { id: string } }>(
      'mutation($t: String!, $doc: JSON) { createDashboard(title: $t, document: $doc) { id } }',
      { t: title, doc: document },
      session.accessToken,
    );
    return { dashboardId: createDashboard.id, widgetId: widget.id };
  }

  async function serverState(dashboardId: string) {
    const { dashboard } = await app.gql<{ dashboard: { version: number; document: DashboardDocument } }>(
      'query($id: ID!) { dashboard(id: $id) { version document } }',
      { id: dashboardId },
      session.accessToken,
    );
    return dashboard;
  }

  async function serverOperations(dashboardId: string, fromVersion: number): Promise<ServerOperation[]> {
    const { dashboard } = await app.gql<{ dashboard: { operations: ServerOperation[] } }>(
      `query($id: ID!, $f: Int!) { dashboard(id: $id) {
        operations(fromVersion: $f, limit: 1000) { version kind clientId undoGroup refVersion } } }`,
      { id: dashboardId, f: fromVersion },
      session.accessToken,
    );
    return dashboard.operations;
  }

  /** Until the server's note text is `expected`; says what it last saw otherwise. */
  async function serverNoteIs(dashboardId: string, widgetId: string, expected: string): Promise<void> {
    let last: { version: number; text: string | undefined } | null = null;
    try {
      await waitFor(
        async () => {
          const state = await serverState(dashboardId);
          last = { version: state.version, text: state.document.widgets[widgetId]?.text };
          return last.text === expected;
        },
        { timeout: WAIT, interval: 100, description: 'the server note' },
      );
    } catch {
      const seen = last as { version: number; text: string | undefined } | null;
      throw new Error(
        `the server's note is ${JSON.stringify(seen?.text)} at version ${seen?.version}, expected ${JSON.stringify(expected)}`,
      );
    }
  }

  /** Opens the dashboard in a new tab (socket tapped), connected, its note shown. */
  async function openEditor(dashboardId: string): Promise<Tab> {
    const page = await app.newPage(context);
    let current: { ws: WebSocketRoute; server: WebSocketRoute } | null = null;
    const tab: Tab = {
      page,
      dropSubmits: false,
      dropped: [],
      closeSocket() {
        const socket = current;
        current = null;
        void socket?.server.close({ code: 1012, reason: 'restart (test)' });
        void socket?.ws.close({ code: 1012, reason: 'restart (test)' });
      },
    };
    await page.routeWebSocket(/\/graphql/, (ws) => {
      const server = ws.connectToServer();
      current = { ws, server };
      ws.onMessage((message) => {
        const submit = isSubmitOperation(message);
        if (submit && tab.dropSubmits) {
          tab.dropped.push(submit.key);
          return;
        }
        server.send(message);
      });
      server.onMessage((message) => ws.send(message));
    });
    await page.goto(`${app.url}/#/d/${encodeURIComponent(dashboardId)}`);
    await connected(page);
    await page.locator(NOTE).waitFor({ timeout: WAIT });
    return tab;
  }

  const connected = (page: Page) =>
    page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });

  const noPending = (page: Page) => page.locator(PENDING).waitFor({ state: 'detached', timeout: WAIT });

  const noteEquals = (page: Page, text: string) =>
    page
      .waitForFunction(
        ([selector, want]) => document.querySelector<HTMLTextAreaElement>(selector)?.value === want,
        [NOTE, text] as const,
        { timeout: WAIT },
      )
      .catch(async (error: Error) => {
        const value = await page
          .locator(NOTE)
          .inputValue({ timeout: 1000 })
          .catch(() => null);
        throw new Error(`the note shows ${JSON.stringify(value)}, expected ${JSON.stringify(text)}`, { cause: error });
      });

  /** Until the button is enabled (`true`) or disabled (`false`). */
  const buttonIs = (page: Page, testId: 'undo' | 'redo', enabled: boolean) =>
    page
      .locator(`[data-testid=${testId}]${enabled ? ':enabled' : ':disabled'}`)
      .waitFor({ timeout: WAIT })
      .catch((error: Error) => {
        throw new Error(`${testId} never became ${enabled ? 'enabled' : 'disabled'}`, { cause: error });
      });

  async function buttons(page: Page) {
    return {
      undo: await page.locator('[data-testid=undo]').isEnabled(),
      redo: await page.locator('[data-testid=redo]').isEnabled(),
    };
  }

  async function typeAtEnd(page: Page, text: string, delay = 20): Promise<void> {
    await page.locator(NOTE).click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(text, { delay });
  }

  /** Entries of the open history panel, newest first. */
  async function historyEntries(page: Page) {
    return page.locator(ENTRY).evaluateAll((nodes) =>
      nodes.map((node) => ({
        version: Number(node.getAttribute('data-version')),
        kind: node.getAttribute('data-kind'),
        count: Number(node.getAttribute('data-count')),
        text: node.querySelector('div > div')?.textContent ?? '',
      })),
    );
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) }).catch(() => {});
  }

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
