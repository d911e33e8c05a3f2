/**
 * Least-privilege access in Chromium (DESIGN.md section 11): a scoped API token made on the
 * API tokens page is used over HTTP exactly as its scope says (SC1), and a membership given
 * an end in the share dialog ends live, as a removal does (SC2). Against the real server
 * (embedded backend), the built UI served at /. Every wait is on the page, never a sleep.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { browserSuite, SHOTS, startBrowserApp, type BrowserApp, type SessionPayload } from './helpers.js';

const WAIT = 15_000;

/** What a GraphQL request over HTTP answered: its data and the codes of its errors. */
interface Answer {
  data: Record<string, unknown> | null;
  codes: string[];
}

browserSuite()('[SC1] [SC2] least-privilege access in Chromium', () => {
  let app: BrowserApp;
  let ada: SessionPayload;
  let bob: SessionPayload;
  let a: Page; // Ada's tab
  let launchId: string; // the dashboard the token may push to
  let otherId: string; // one it may not touch

  async function call(query: string, variables: Record<string, unknown>, token: string): Promise<Answer> {
    const res = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as {
      data?: Record<string, unknown> | null;
      errors?: { extensions?: { code?: string } }[];
    };
    return { data: body.data ?? null, codes: (body.errors ?? []).map((e) => e.extensions?.code ?? '?') };
  }
  const pushPoints = (dashboardId: string, token: string) =>
    call(
      'mutation($id: ID!, $points: [PointInput!]!) { pushPoints(dashboardId: $id, points: $points) { accepted } }',
      { id: dashboardId, points: [{ series: 'deploys', labels: { env: 'ci' }, v: 1 }] },
      token,
    );
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    app = await startBrowserApp();
    ada = await app.signUp('ada@example.com', 'Ada Lovelace', 'analytical-1');
    bob = await app.signUp('bob@example.com', 'Bob Babbage', 'difference-2');
    const create = (title: string) =>
      app.gql<{ createDashboard: { id: string } }>(
        'mutation($t: String!) { createDashboard(title: $t) { id } }',
        { t: title },
        ada.accessToken,
      );
    launchId = (await create('Launch metrics')).createDashboard.id;
    otherId = (await create('Payroll')).createDashboard.id;
    const context = await app.newContext(ada);
    // The Copy button writes to the clipboard; the test reads it back.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
    a = await app.newPage(context);
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('[SC1] a token made on the API tokens page pushes to its one dashboard only, cannot read it, shows its last use and stops working once revoked', async () => {
    await a.goto(app.url);
    await a.getByTestId('nav-api-tokens').click();
    await a.getByTestId('no-tokens').waitFor({ timeout: WAIT });

    await a.getByTestId('token-name').fill('CI pusher');
    await a.getByTestId('token-dashboards-some').check();
    await a.locator('[data-testid=token-dashboard][data-title="Launch metrics"]').check();
    await a.locator('[data-testid=token-action][data-action=READ]').uncheck();
    await a.locator('[data-testid=token-action][data-action=PUSH]').check();
    await a.getByTestId('token-expiry').selectOption('30d');
    // A range the server refuses: its message, in the form's words, inline.
    await a.getByTestId('token-allow-from').fill('10.0.0.0/33');
    await a.getByTestId('create-token').click();
    await expect(a.getByTestId('token-error').textContent({ timeout: WAIT })).resolves.toBe(
      'Allowed addresses: "10.0.0.0/33" is not an address or CIDR range.',
    );
    expect(await a.getByTestId('new-token').count()).toBe(0);

    await a.getByTestId('token-allow-from').fill(' 127.0.0.1/32 \n\n');
    await a.getByTestId('create-token').click();
    const secret = await a.getByTestId('new-token-secret').inputValue({ timeout: WAIT });
    expect(secret.length).toBeGreaterThan(20);
    await expect(a.getByTestId('new-token').textContent()).resolves.toContain('you won’t see it again');
    await a.getByTestId('copy-token').click();
    await a.locator('[data-testid=copy-token]', { hasText: 'Copied' }).waitFor({ timeout: WAIT });
    expect(await a.evaluate(() => navigator.clipboard.readText())).toBe(secret);

    const row = a.locator('[data-testid=api-token][data-name="CI pusher"]');
    const line = (key: string) => row.getByTestId(key).textContent({ timeout: WAIT });
    await expect(line('token-dashboards')).resolves.toBe('Only “Launch metrics”');
    await expect(line('token-actions')).resolves.toBe('Can push points');
    await expect(line('token-expiry')).resolves.toMatch(/^Expires .+ \(in 30 days\)$/);
    await expect(line('token-from')).resolves.toBe('From 127.0.0.1/32');
    await expect(line('token-last-used')).resolves.toBe('Never used');
    await shot(a, 'sc1-token-created');

    // Used from this machine (127.0.0.1) as a script would: REST push to its dashboard works.
    const res = await fetch(`${app.url}/api/dashboards/${encodeURIComponent(launchId)}/points`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ points: [{ series: 'deploys', labels: { env: 'ci' }, v: 1 }] }),
    });
    expect({ status: res.status, body: (await res.json()) as unknown }).toEqual({
      status: 200,
      body: { accepted: 1, series: 1 },
    });
    // Reading needs READ (FORBIDDEN); another dashboard does not exist for it (NOT_FOUND).
    expect(await call('query($id: ID!) { dashboard(id: $id) { title } }', { id: launchId }, secret)).toMatchObject({
      codes: ['FORBIDDEN'],
    });
    expect((await pushPoints(otherId, secret)).codes).toEqual(['NOT_FOUND']);

    // Closing the secret hides it for good; the list, reloaded, shows the last use and address.
    await a.getByTestId('dismiss-token').click();
    await a.getByTestId('new-token').waitFor({ state: 'detached' });
    await a.reload();
    await row
      .getByTestId('token-last-used')
      .filter({ hasText: /^Last used .+ from 127\.0\.0\.1$/ })
      .waitFor({ timeout: WAIT });
    expect(await a.content()).not.toContain(secret);
    await shot(a, 'sc1-token-used');

    // Revoked through the page (after a confirmation): gone from the list, refused at once.
    const confirmed: string[] = [];
    a.once('dialog', (dialog) => {
      confirmed.push(dialog.message());
      void dialog.accept();
    });
    await row.getByTestId('revoke-token').click();
    await row.waitFor({ state: 'detached', timeout: WAIT });
    expect(confirmed).toEqual(['Revoke “CI pusher”? Anything using it stops working at once.']);
    await a.getByTestId('no-tokens').waitFor({ timeout: WAIT });
    expect((await pushPoints(launchId, secret)).codes).toEqual(['UNAUTHENTICATED']);
  });

  it('[SC2] a membership given an end in the share dialog ends live: the member loses the dashboard, the dialog drops them', async () => {
    await a.goto(`${app.url}/#/d/${launchId}`);
    await a.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });
    await a.getByTestId('open-share').click();
    await a.getByTestId('invite-email').fill(bob.user.email);
    await a.getByTestId('invite-role').selectOption('EDITOR');
    await a.getByTestId('invite-expiry').selectOption('7d');
    await a.getByTestId('invite-submit').click();
    const bobRow = a.locator(`[data-testid=collaborator][data-email="${bob.user.email}"]`);
    const bobEnd = bobRow.getByTestId('collaborator-expiry');
    await bobEnd.filter({ hasText: /^Until .+ \(in 7 days\)/ }).waitFor({ timeout: WAIT });

    // Made permanent (the role stays), and Bob opens the dashboard.
    await bobRow.getByTestId('make-permanent').click();
    await bobEnd.filter({ hasText: /^No end date/ }).waitFor({ timeout: WAIT });
    expect(await bobRow.getByTestId('collaborator-role').inputValue()).toBe('EDITOR');
    const b = await app.newPage(await app.newContext(bob));
    await b.goto(`${app.url}/#/d/${launchId}`);
    await b.locator('[data-testid=connection-status][data-state=connected]').waitFor({ timeout: WAIT });
    await b.locator('[data-testid=editor][data-role=EDITOR]').waitFor({ timeout: WAIT });

    // Ada gives the membership an end a few seconds ahead, on a date and time of her own.
    await bobRow.getByTestId('change-expiry').click();
    await bobRow.getByTestId('collaborator-expiry-choice').selectOption('custom');
    const soon = await a.evaluate(() => {
      const at = new Date(Date.now() + 5000);
      const pad = (n: number) => String(n).padStart(2, '0');
      return (
        `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}` +
        `T${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`
      );
    });
    await bobRow.getByTestId('collaborator-expiry-choice-custom').fill(soon);
    await bobRow.getByTestId('save-expiry').click();
    await bobEnd.filter({ hasText: /^Until .+ \(in \d seconds?\)/ }).waitFor({ timeout: WAIT });
    const expiresAt = Date.parse((await bobRow.getAttribute('data-expires-at'))!);
    expect(await bobRow.getByTestId('collaborator-role').inputValue()).toBe('EDITOR');
    await shot(a, 'sc2-expiry-in-dialog');

    // At the end Bob's open editor loses the dashboard as on a removal, and Ada's dialog drops him.
    await b.getByTestId('fatal').waitFor({ timeout: WAIT });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    await bobRow.waitFor({ state: 'detached', timeout: WAIT });
    expect(await a.locator('[data-testid=collaborator]').count()).toBe(1); // Ada, the owner
    await shot(b, 'sc2-member-lost-access');
    await b.reload();
    await b.getByTestId('not-found').waitFor({ timeout: WAIT });
    expect(app.pageErrors).toEqual([]);
  });
});
