/**
 * Issue "Trustworthy editing", in Chromium against the real server: one user with one
 * dashboard open in two tabs of one browser (one context, so one localStorage), typing in
 * the same note in both, one tab reloaded in the middle of a word; and the same user in a
 * second browser that goes offline, types and comes back; and a tab closed with unsent edits,
 * which the tab still open must send for it (collab-session.ts claims orphaned slots at open
 * and every ORPHAN_SCAN_MS, 15 s). Every character typed must reach the other tab and the
 * server, in each tab's typing order, and no tab may be left showing pending edits
 * (CONVENTIONS.md 19: a clientId belongs to one tab; saved state is claimed by one tab; an
 * edit dropped silently is a bug).
 *
 * The two tabs write to different places in the note, so the expected text is exact: tab 2
 * types at the end of the first line, tab 1 at the end of the second (the note starts as
 * "\n"). Every tab's socket is routed through a tap that records the (clientId, seq) of each
 * submission and which ones the server answered as duplicates, for the failure messages.
 * Every wait is on a condition with a deadline, never a fixed sleep.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { newWidget, type DashboardDocument } from '@collab-dashboards/core';
import { waitFor } from '../../api/test/helpers/wait.js';
import { browserSuite, SHOTS, startBrowserApp, type BrowserApp, type SessionPayload } from './helpers.js';

const WAIT = 20_000;
/** How long a tab may show pending edits once its text has reached everyone. */
const SETTLE = 5_000;
const NOTE = '[data-testid=widget][data-type=note] [data-testid=note-text]';
const PENDING = '[data-testid=pending-count]';
const DOCUMENT = 'query($id: ID!) { dashboard(id: $id) { version document } }';

/** One tab and what went over its socket. */
interface Tab {
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

const clientIdsOf = (keys: string[]) => [...new Set(keys.map((key) => key.split('/')[0]!))];

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

browserSuite()('one user, one dashboard, several tabs and browsers: no edit is lost', () => {
  let app: BrowserApp;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBrowserApp();
  });

  afterAll(async () => {
    await app?.stop();
  });

  /** A dashboard whose one note is wide enough that neither line of the test's text wraps. */
  async function createNoteDashboard(session: SessionPayload, title: string) {
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
  async function openTab(context: BrowserContext, label: string, dashboardId: string): Promise<Tab> {
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

  const connected = (tab: Tab) =>
    tab.page.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });

  /** Focuses the note (a click puts the caret somewhere) and types at the end of the text. */
  async function typeAtEnd(tab: Tab, text: string): Promise<void> {
    await tab.page.locator(NOTE).click();
    await tab.page.keyboard.press('Control+End');
    await tab.page.keyboard.type(text, { delay: 10 });
  }

  /** Types at the end of the note's first line. */
  async function typeOnFirstLine(tab: Tab, text: string): Promise<void> {
    await tab.page.locator(NOTE).click();
    await tab.page.keyboard.press('Control+Home');
    await tab.page.keyboard.press('End');
    await tab.page.keyboard.type(text, { delay: 10 });
  }

  const noteText = (tab: Tab) => tab.page.locator(NOTE).inputValue({ timeout: 2000 });

  /** Until the tab's note contains every one of `parts`. */
  const noteContains = (tab: Tab, parts: string[], timeout = WAIT) =>
    tab.page.waitForFunction(
      ([selector, want]) => {
        const value = document.querySelector<HTMLTextAreaElement>(selector)?.value;
        return value !== undefined && want.every((part) => value.includes(part));
      },
      [NOTE, parts] as const,
      { timeout },
    );

  const noteEquals = (tab: Tab, text: string) =>
    tab.page.waitForFunction(
      ([selector, want]) => document.querySelector<HTMLTextAreaElement>(selector)?.value === want,
      [NOTE, text] as const,
      { timeout: WAIT },
    );

  const noPending = (tab: Tab, timeout: number) => tab.page.locator(PENDING).waitFor({ state: 'detached', timeout });

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
  async function step<T>(what: string, tabs: Tab[], run: () => Promise<T>): Promise<T> {
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
  async function serverSettlesOn(
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
