/**
 * What the fault scenarios (faults*.test.ts) share besides their peers (fault-peers.ts): the
 * backend they run on, a dashboard for an owner and an editor, waiting for peers to connect,
 * the one-line summary each scenario prints, and the skip when PostgreSQL is missing.
 */
import { randomBytes } from 'node:crypto';
import type { DashboardDocument } from '@collab-dashboards/core';
import { createDashboard, signUp, type TestApp } from './harness.js';
import type { Peer } from './fault-peers.js';
import { waitFor } from './wait.js';
import { describeWhen, NEEDS_DATABASE_URL } from './skip.js';

export const RUN = randomBytes(4).toString('hex');
export const DATABASE_URL = process.env.DATABASE_URL || undefined;
export const REDIS_URL = process.env.REDIS_URL || undefined;
const MODE = `${DATABASE_URL ? 'PostgreSQL' : 'PGlite'} + ${REDIS_URL ? 'Redis' : 'memory bus'}`;
export const SCENARIO_TIMEOUT = 40_000;

/** Two users (owner and an invited editor) and a fresh dashboard; returns its snapshot too. */
export async function setup(t: TestApp, title: string) {
  const owner = await signUp(t, 'Owner');
  const editor = await signUp(t, 'Editor');
  const id = await createDashboard(t, owner.token, `${title} ${RUN}`);
  await t.ok(
    `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
    { d: id, e: editor.email },
    owner.token,
  );
  const head = (await t.ok(`query($d: ID!) { dashboard(id: $d) { version document } }`, { d: id }, owner.token))
    .dashboard as { version: number; document: DashboardDocument };
  return { owner, editor, id, head };
}

export async function allConnected(peers: Peer[]) {
  await waitFor(() => peers.every((p) => p.engine.state === 'connected'), {
    timeout: 10_000,
    interval: 10,
    description: 'peers connected',
  });
}

/** Prints one line per scenario: `faults [backend] name: key=value ...`. */
export const summary = (name: string, fields: Record<string, unknown>) =>
  console.log(
    `faults [${MODE}] ${name}: ${Object.entries(fields)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')}`,
  );

/** Scenarios that need PostgreSQL: PGlite cannot be shared between processes or proxied. */
export const withPostgres = describeWhen(Boolean(DATABASE_URL), NEEDS_DATABASE_URL);
