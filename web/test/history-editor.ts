/**
 * The editor the history suites (history*.browser.test.ts, stuck-edits.browser.test.ts)
 * drive: Hana signed in in one browser context, dashboards with one note made over HTTP, and
 * editor tabs whose socket goes through a tap that can swallow submitOperation.
 *
 * A suite calls `useHistoryEditor()` once inside its describe; its beforeAll sets the
 * exported bindings (`app`, `session`, `context`), which importers see as live ES module
 * bindings, and its afterAll stops the app.
 */
import { afterAll, beforeAll } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { newWidget, type DashboardDocument } from '@collab-dashboards/core';
import { waitFor } from '../../api/test/helpers/wait.js';
import { SHOTS, startBrowserApp, type BrowserApp, type SessionPayload } from './helpers.js';

export const WAIT = 20_000;
export const NOTE = '[data-testid=widget][data-type=note] [data-testid=note-text]';
export const PENDING = '[data-testid=pending-count]';
export const ENTRY = '[data-testid=history-entry]';

export interface ServerOperation {
  version: number;
  kind: string;
  clientId: string;
  undoGroup: number | null;
  refVersion: number | null;
}

/** One editor tab whose socket goes through a tap that can swallow submitOperation. */
export interface Tab {
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

export let app: BrowserApp;
export let session: SessionPayload;
export let context: BrowserContext;

/** Starts the app and signs Hana in before the suite's tests; stops it after them. */
export function useHistoryEditor(): void {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBrowserApp();
    session = await app.signUp('hana@example.com', 'Hana History', 'history-test-1');
    context = await app.newContext(session);
  });

  afterAll(async () => {
    await app?.stop();
  });
}

/** A dashboard with one wide note holding `text`, created over HTTP (version 0). */
export async function createNoteDashboard(title: string, text: string) {
  const widget = newWidget('note', { title: 'Note', x: 0, y: 0, w: 10, h: 4, text });
  const document: DashboardDocument = { title, widgets: { [widget.id]: widget }, layout: [widget.id] };
  const { createDashboard } = await app.gql<{ createDashboard: { id: string } }>(
    'mutation($t: String!, $doc: JSON) { createDashboard(title: $t, document: $doc) { id } }',
    { t: title, doc: document },
    session.accessToken,
  );
  return { dashboardId: createDashboard.id, widgetId: widget.id };
}

export async function serverState(dashboardId: string) {
  const { dashboard } = await app.gql<{ dashboard: { version: number; document: DashboardDocument } }>(
    'query($id: ID!) { dashboard(id: $id) { version document } }',
    { id: dashboardId },
    session.accessToken,
  );
  return dashboard;
}

export async function serverOperations(dashboardId: string, fromVersion: number): Promise<ServerOperation[]> {
  const { dashboard } = await app.gql<{ dashboard: { operations: ServerOperation[] } }>(
    `query($id: ID!, $f: Int!) { dashboard(id: $id) {
      operations(fromVersion: $f, limit: 1000) { version kind clientId undoGroup refVersion } } }`,
    { id: dashboardId, f: fromVersion },
    session.accessToken,
  );
  return dashboard.operations;
}

/** Until the server's note text is `expected`; says what it last saw otherwise. */
export async function serverNoteIs(dashboardId: string, widgetId: string, expected: string): Promise<void> {
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
export async function openEditor(dashboardId: string): Promise<Tab> {
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

export const connected = (page: Page) =>
  page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });

export const noPending = (page: Page) => page.locator(PENDING).waitFor({ state: 'detached', timeout: WAIT });

export const noteEquals = (page: Page, text: string) =>
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
export const buttonIs = (page: Page, testId: 'undo' | 'redo', enabled: boolean) =>
  page
    .locator(`[data-testid=${testId}]${enabled ? ':enabled' : ':disabled'}`)
    .waitFor({ timeout: WAIT })
    .catch((error: Error) => {
      throw new Error(`${testId} never became ${enabled ? 'enabled' : 'disabled'}`, { cause: error });
    });

export async function buttons(page: Page) {
  return {
    undo: await page.locator('[data-testid=undo]').isEnabled(),
    redo: await page.locator('[data-testid=redo]').isEnabled(),
  };
}

export async function typeAtEnd(page: Page, text: string, delay = 20): Promise<void> {
  await page.locator(NOTE).click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(text, { delay });
}

/** Entries of the open history panel, newest first. */
export async function historyEntries(page: Page) {
  return page.locator(ENTRY).evaluateAll((nodes) =>
    nodes.map((node) => ({
      version: Number(node.getAttribute('data-version')),
      kind: node.getAttribute('data-kind'),
      count: Number(node.getAttribute('data-count')),
      text: node.querySelector('div > div')?.textContent ?? '',
    })),
  );
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) }).catch(() => {});
}
