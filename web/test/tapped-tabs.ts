/**
 * The tabs the two-tabs suites (two-tabs.browser.test.ts, second-browser-offline.browser.test.ts)
 * drive: dashboards with one note made over HTTP, and tabs whose socket is routed through a
 * tap that records the (clientId, seq) of each submission and which ones the server answered
 * as duplicates or refused, and can swallow submissions or refuse sockets. `step` runs a wait
 * and, when it fails, says what every tab shows.
 *
 * A suite calls `useTabsApp()` once inside its describe; its beforeAll sets the exported
 * `app` (a live ES module binding for importers) and its afterAll stops it.
 */
import { afterAll, beforeAll } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { newWidget, type DashboardDocument } from '@collab-dashboards/core';
import { waitFor } from '../../api/test/helpers/wait.js';
import { SHOTS, startBrowserApp, type BrowserApp, type SessionPayload } from './helpers.js';

export const WAIT = 20_000;
/** How long a tab may show pending edits once its text has reached everyone. */
export const SETTLE = 5_000;
export const NOTE = '[data-testid=widget][data-type=note] [data-testid=note-text]';
export const PENDING = '[data-testid=pending-count]';
const DOCUMENT = 'query($id: ID!) { dashboard(id: $id) { version document } }';

/** One tab and what went over its socket. */
export interface Tab {
  label: string;
  page: Page;
  /** `clientId/seq` of every submit, undo or redo that reached the server, in order. */
  sent: string[];
  /** Those the server answered with `duplicate: true`. */
  duplicates: string[];
  /** Those the server refused: `clientId/seq CODE`. */
  refused: string[];
  /** Submissions the tap swallowed (see swallowSubmissions). */
  swallowed: string[];
  /** From now on, submissions on the tab's current socket never reach the server. */
  swallowSubmissions(): void;
  /** While set, the tab's new sockets are closed at once (the server is unreachable). */
  refuseSockets: boolean;
}

interface GraphQLWsMessage {
  id?: string;
  type?: string;
  payload?: {
    query?: string;
    variables?: Record<string, unknown>;
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
}

function parse(message: string | Buffer): GraphQLWsMessage | null {
  try {
    return JSON.parse(typeof message === 'string' ? message : message.toString('utf8')) as GraphQLWsMessage;
  } catch {
    return null;
  }
}

/** `clientId/seq` of a submit, undo or redo sent by the sync engine; null for anything else. */
function submissionKey(message: GraphQLWsMessage | null): string | null {
  const query = message?.payload?.query;
  if (message?.type !== 'subscribe' || !query || !/^\s*mutation\s+(Submit|Undo|Redo)\b/.test(query)) return null;
  const variables = message.payload!.variables ?? {};
  return `${String(variables.c)}/${String(variables.s)}`;
}

export const clientIdsOf = (keys: string[]) => [...new Set(keys.map((key) => key.split('/')[0]!))];

/** `c-1/1 c-1/2 c-1/3 c-1/7` as `c-1 seq 1-3,7`. */
function summarize(keys: string[]): string {
  return clientIdsOf(keys)
    .map((id) => {
      const seqs = keys.filter((key) => key.startsWith(`${id}/`)).map((key) => Number(key.slice(id.length + 1)));
      const runs: string[] = [];
      for (let i = 0; i < seqs.length; i++) {
        let j = i;
        while (j + 1 < seqs.length && seqs[j + 1] === seqs[j]! + 1) j++;
        runs.push(j > i ? `${seqs[i]}-${seqs[j]}` : String(seqs[i]));
        i = j;
      }
      return `${id} seq ${runs.join(',')}`;
    })
    .join('; ');
}

export let app: BrowserApp;

/** Starts the app before the suite's tests and stops it after them. */
export function useTabsApp(): void {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBrowserApp();
  });

  afterAll(async () => {
    await app?.stop();
  });
}

/** A dashboard whose one note is wide enough that neither line of the test's text wraps. */
export async function createNoteDashboard(session: SessionPayload, title: string) {
  const widget = newWidget('note', { title: 'Shared note', x: 0, y: 0, w: 10, h: 4, text: '\n' });
  const document: DashboardDocument = { title, widgets: { [widget.id]: widget }, layout: [widget.id] };
  const { createDashboard } = await app.gql<{ createDashboard: { id: string } }>(
    'mutation($t: String!, $doc: JSON) { createDashboard(title: $t, document: $doc) { id } }',
    { t: title, doc: document },
    session.accessToken,
  );
  return { dashboardId: createDashboard.id, widgetId: widget.id };
}

async function serverText(session: SessionPayload, dashboardId: string, widgetId: string) {
  const { dashboard } = await app.gql<{ dashboard: { version: number; document: DashboardDocument } }>(
    DOCUMENT,
    { id: dashboardId },
    session.accessToken,
  );
  return { version: dashboard.version, text: dashboard.document.widgets[widgetId]?.text };
}

/** A new tab in `context` with its socket tapped, showing the dashboard, connected. */
export async function openTab(context: BrowserContext, label: string, dashboardId: string): Promise<Tab> {
  const page = await app.newPage(context);
  let current: { swallow: boolean } | null = null;
  const tab: Tab = {
    label,
    page,
    sent: [],
    duplicates: [],
    refused: [],
    swallowed: [],
    swallowSubmissions() {
      if (current) current.swallow = true;
    },
    refuseSockets: false,
  };
  await page.routeWebSocket(/\/graphql/, (ws) => {
    if (tab.refuseSockets) {
      void ws.close({ code: 1011, reason: 'unreachable (test)' });
      return;
    }
    const link = { swallow: false };
    current = link;
    const server = ws.connectToServer();
    const keys = new Map<string, string>(); // graphql-ws operation id -> clientId/seq
    ws.onMessage((message) => {
      const parsed = parse(message);
      const key = submissionKey(parsed);
      if (key !== null && link.swallow) {
        tab.swallowed.push(key);
        return;
      }
      if (key !== null) {
        keys.set(parsed!.id!, key);
        tab.sent.push(key);
      }
      server.send(message);
    });
    server.onMessage((message) => {
      const parsed = parse(message);
      const key = parsed?.type === 'next' && parsed.id ? keys.get(parsed.id) : undefined;
      const ack = key ? Object.values(parsed!.payload?.data ?? {})[0] : undefined;
      if (key && (ack as { duplicate?: boolean } | null)?.duplicate === true) tab.duplicates.push(key);
      const error = key ? parsed!.payload?.errors?.[0] : undefined;
      if (key && error) tab.refused.push(`${key} ${error.extensions?.code ?? error.message}`);
      ws.send(message);
    });
  });
  await page.goto(`${app.url}/#/d/${encodeURIComponent(dashboardId)}`);
  await connected(tab);
  await page.locator(NOTE).waitFor({ timeout: WAIT });
  return tab;
}

export const connected = (tab: Tab) =>
  tab.page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });

/** Focuses the note (a click puts the caret somewhere) and types at the end of the text. */
export async function typeAtEnd(tab: Tab, text: string): Promise<void> {
  await tab.page.locator(NOTE).click();
  await tab.page.keyboard.press('Control+End');
  await tab.page.keyboard.type(text, { delay: 10 });
}

/** Types at the end of the note's first line. */
export async function typeOnFirstLine(tab: Tab, text: string): Promise<void> {
  await tab.page.locator(NOTE).click();
  await tab.page.keyboard.press('Control+Home');
  await tab.page.keyboard.press('End');
  await tab.page.keyboard.type(text, { delay: 10 });
}

export const noteText = (tab: Tab) => tab.page.locator(NOTE).inputValue({ timeout: 2000 });

/** Until the tab's note contains every one of `parts`. */
export const noteContains = (tab: Tab, parts: string[], timeout = WAIT) =>
  tab.page.waitForFunction(
    ([selector, want]) => {
      const value = document.querySelector<HTMLTextAreaElement>(selector)?.value;
      return value !== undefined && want.every((part) => value.includes(part));
    },
    [NOTE, parts] as const,
    { timeout },
  );

export const noteEquals = (tab: Tab, text: string) =>
  tab.page.waitForFunction(
    ([selector, want]) => document.querySelector<HTMLTextAreaElement>(selector)?.value === want,
    [NOTE, text] as const,
    { timeout: WAIT },
  );

export const noPending = (tab: Tab, timeout: number) =>
  tab.page.locator(PENDING).waitFor({ state: 'detached', timeout });

async function describeTab(tab: Tab): Promise<string> {
  const state = await tab.page
    .evaluate((selector) => {
      const badge = document.querySelector('[data-testid=connection-status]');
      return {
        note: document.querySelector<HTMLTextAreaElement>(selector)?.value ?? null,
        badge: badge ? `${badge.getAttribute('data-state')}: ${badge.textContent}` : null,
      };
    }, NOTE)
    .catch((error: Error) => ({ note: null, badge: `page unavailable (${error.message.split('\n')[0]})` }));
  return [
    `${tab.label}: note ${JSON.stringify(state.note)}, badge ${JSON.stringify(state.badge)}`,
    `  submitted: ${summarize(tab.sent) || 'nothing'}`,
    `  answered as duplicates of already committed ops: ${tab.duplicates.join(' ') || 'none'}`,
    `  refused by the server: ${tab.refused.join(', ') || 'none'}`,
    ...(tab.swallowed.length ? [`  swallowed by the tap: ${summarize(tab.swallowed)}`] : []),
  ].join('\n');
}

/** Runs `run`; on failure, says what was awaited and what every tab shows, with screenshots. */
export async function step<T>(what: string, tabs: Tab[], run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const states = await Promise.all(tabs.map(describeTab));
    await Promise.all(
      tabs.map((tab) =>
        tab.page
          .screenshot({ path: path.join(SHOTS, `two-tabs-failed-${tab.label.replaceAll(' ', '-')}.png`) })
          .catch(() => {}),
      ),
    );
    const message = (error as Error).message.split('\n')[0];
    throw new Error(`${what}\n  (${message})\n${states.join('\n')}`, { cause: error });
  }
}

/** Until the server's note text is `expected` (reports the last text seen otherwise). */
export async function serverSettlesOn(
  session: SessionPayload,
  dashboardId: string,
  widgetId: string,
  expected: string,
): Promise<void> {
  let last: { version: number; text: string | undefined } | null = null;
  try {
    await waitFor(
      async () => {
        last = await serverText(session, dashboardId, widgetId);
        return last.text === expected;
      },
      { timeout: WAIT, interval: 100, description: 'the server document' },
    );
  } catch {
    const words = expected.split(/\s+/).filter(Boolean);
    const text = (last as { text?: string } | null)?.text ?? '';
    const missing = words.filter((word) => !text.split(/\s+/).includes(word));
    throw new Error(
      `the server's note is ${JSON.stringify(text)} at version ${(last as { version?: number } | null)?.version}, ` +
        `expected ${JSON.stringify(expected)}; missing words: ${missing.join(' ') || 'none (order or duplicates differ)'}`,
    );
  }
}
