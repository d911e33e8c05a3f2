/**
 * Access that ends with edits the server never acknowledged (CONVENTIONS.md 19: no edit is
 * lost silently), in Chromium against the real server. Bob, an editor, types while offline;
 * Ada removes him (the same path as a membership expiring); Bob comes back online. He must
 * be told that his access ended and that his edit could not be saved, see and copy its text,
 * and the edit must never reach the server later, not even once he is invited again, unless
 * he puts it back himself. Every wait is on a condition with a deadline.
 */
import { expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import type { DashboardDocument } from '@collab-dashboards/core';
import { browserSuite, type SessionPayload } from './helpers.js';
import {
  app,
  connected,
  createNoteDashboard,
  noteText,
  openTab,
  PENDING,
  step,
  typeAtEnd,
  useTabsApp,
  WAIT,
} from './tapped-tabs.js';

const TYPED = ' OFFLINE-WORK-123';
const NOTICE = '[data-testid=unsaved-notice]';

async function invite(owner: SessionPayload, dashboardId: string, email: string): Promise<void> {
  await app.gql(
    'mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }',
    { d: dashboardId, e: email },
    owner.accessToken,
  );
}

async function remove(owner: SessionPayload, dashboardId: string, userId: string): Promise<void> {
  await app.gql(
    'mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }',
    { d: dashboardId, u: userId },
    owner.accessToken,
  );
}

async function serverNote(owner: SessionPayload, dashboardId: string, widgetId: string): Promise<string> {
  const { dashboard } = await app.gql<{ dashboard: { document: DashboardDocument } }>(
    'query($id: ID!) { dashboard(id: $id) { document } }',
    { id: dashboardId },
    owner.accessToken,
  );
  return dashboard.document.widgets[widgetId]!.text;
}

/** Every localStorage entry of this user's engine slots for the dashboard, with its unsent work. */
const storedEngineWork = (page: Page, userId: string, dashboardId: string) =>
  page.evaluate(
    ([user, dashboard]) =>
      Object.keys(localStorage)
        .filter((key) => key.startsWith(`collab.engine.${user}.${dashboard}`))
        .map((key) => {
          const state = JSON.parse(localStorage.getItem(key)!) as { inflight: unknown; pending: unknown[] };
          return { key, unsent: (state.inflight ? 1 : 0) + state.pending.length };
        })
        .filter((slot) => slot.unsent > 0),
    [userId, dashboardId] as const,
  );

browserSuite()('access that ends with unsaved edits: never lost silently, never replayed unseen', () => {
  useTabsApp();

  it('[AU1] a removed editor with an offline edit is told, can copy it, and it is not replayed after a re-invite', async () => {
    const ada = await app.signUp('ada-revoked@example.com', 'Ada Owner', 'revoked-1');
    const bob = await app.signUp('bob-revoked@example.com', 'Bob Editor', 'revoked-2');
    const { dashboardId, widgetId } = await createNoteDashboard(ada, 'Revoked while offline');
    await invite(ada, dashboardId, bob.user.email);

    const bobContext = await app.newContext(bob);
    await bobContext.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
    const tab = await openTab(bobContext, 'bob', dashboardId);
    const tabs = [tab];
    const { page } = tab;

    await bobContext.setOffline(true);
    await step('Bob is offline', tabs, () =>
      page.locator('[data-testid=connection-status][data-state=offline]').waitFor({ timeout: WAIT }),
    );
    await typeAtEnd(tab, TYPED);
    await step('Bob sees one pending edit', tabs, () =>
      page.locator(`${PENDING}[data-count="1"]`).waitFor({ timeout: WAIT }),
    );
    expect(await noteText(tab)).toBe(`\n${TYPED}`);

    await remove(ada, dashboardId, bob.user.id);
    await bobContext.setOffline(false);

    const notice = page.locator(NOTICE);
    await step('Bob is told his access ended and that his edit could not be saved', tabs, () =>
      notice.waitFor({ timeout: WAIT }),
    );
    expect(await notice.getAttribute('data-count')).toBe('1');
    const said = await notice.innerText();
    expect(said).toMatch(/access to this dashboard has ended|removed from this dashboard/i);
    expect(said).toMatch(/1 edit could not be saved/);
    expect(await page.getByTestId('unsaved-text').innerText()).toContain(TYPED.trim());
    expect(await page.getByTestId('not-found').count()).toBe(0);

    await page.getByTestId('copy-unsaved').click();
    await page.getByTestId('copy-result').waitFor({ timeout: WAIT });
    const clipboard = await page.evaluate(() => navigator.clipboard.readText());
    expect(clipboard).toContain(TYPED.trim());

    // The edit is out of the engine's slot: no reload, tab or re-invite can send it unseen.
    expect(await storedEngineWork(page, bob.user.id, dashboardId)).toEqual([]);
    expect(await serverNote(ada, dashboardId, widgetId)).toBe('\n');

    // A reload before discarding still shows it (it is kept until Bob lets it go).
    await page.reload();
    await step('after a reload the unsaved edit is still shown', tabs, () => notice.waitFor({ timeout: WAIT }));
    expect(await page.getByTestId('unsaved-text').innerText()).toContain(TYPED.trim());

    // Invited again: the dashboard opens, the old edit is offered, not applied.
    await invite(ada, dashboardId, bob.user.email);
    await page.reload();
    await step('re-invited, Bob is connected and asked about the old edit', tabs, async () => {
      await connected(tab);
      await notice.waitFor({ timeout: WAIT });
    });
    expect(await page.getByTestId('editor').count()).toBe(1);
    expect(await noteText(tab)).toBe('\n');
    expect(await page.locator(PENDING).count()).toBe(0);

    await page.getByTestId('discard-unsaved').click();
    await step('discarded, the notice goes', tabs, () => notice.waitFor({ state: 'detached', timeout: WAIT }));
    await page.reload();
    await connected(tab);
    await page.getByTestId('editor').waitFor({ timeout: WAIT });
    expect(await notice.count()).toBe(0);
    expect(await noteText(tab)).toBe('\n');
    expect(await serverNote(ada, dashboardId, widgetId)).toBe('\n');
    expect(
      await page.evaluate((key) => localStorage.getItem(key), `collab.unsaved.${bob.user.id}.${dashboardId}`),
    ).toBeNull();
    expect(app.pageErrors).toEqual([]);
  });

  it('[AU1] with nothing unsaved, a removed editor sees that his access ended, not a generic not-found', async () => {
    const ada = await app.signUp('ada-revoked-2@example.com', 'Ada Owner', 'revoked-3');
    const bob = await app.signUp('bob-revoked-2@example.com', 'Bob Editor', 'revoked-4');
    const { dashboardId } = await createNoteDashboard(ada, 'Revoked while online');
    await invite(ada, dashboardId, bob.user.email);
    const tab = await openTab(await app.newContext(bob), 'bob online', dashboardId);

    await remove(ada, dashboardId, bob.user.id);
    const card = tab.page.locator('[data-testid=fatal][data-access-ended=REMOVED]');
    await step('Bob is told he was removed', [tab], () => card.waitFor({ timeout: WAIT }));
    expect(await card.innerText()).toMatch(/removed from this dashboard/);
    expect(await tab.page.locator(NOTICE).count()).toBe(0);
    expect(app.pageErrors).toEqual([]);
  });
});
