import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import {
  createBackend,
  createDashboard,
  signUp,
  startApp,
  subscribeEvents,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';

let backend: Backend;
let t: TestApp;
const RUN = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend);
});

async function scrape(): Promise<string> {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  return res.text();
}

/** The value of a sample, e.g. value(text, 'dash_rejected_total{code="BAD_OPERATION"}'). */
function value(text: string, sample: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

const NAMES = [
  'dash_ws_connections',
  'dash_subscriptions',
  'dash_present_clients',
  'dash_ops_committed_total',
  'dash_op_commit_seconds',
  'dash_op_delivery_seconds',
  'dash_sync_catchup_seconds',
  'dash_sync_failures_total',
  'dash_transform_conflicts_total',
  'dash_ws_disconnects_total',
  'dash_rejected_total',
  'dash_presence_updates_total',
  'dash_redis_up',
  'process_cpu_seconds_total',
];

describe('/metrics', () => {
  it('exposes every named metric', async () => {
    const text = await scrape();
    for (const name of NAMES) expect([name, text.includes(`# TYPE ${name} `)]).toEqual([name, true]);
  });

  it('moves when ops are committed, delivered, rejected, and sockets come and go; no per-user labels', async () => {
    const user = await signUp(t, 'Metrics');
    const id = await createDashboard(t, user.token, 'metrics');
    const before = await scrape();
    const client = t.wsClient(user.token);
    const log = subscribeEvents(client, { d: id, c: `m-${RUN}` });
    await log.until((e) => e.some((x) => x.__typename === 'SyncCompleted'));
    const live = await scrape();
    expect(value(live, 'dash_subscriptions')).toBe(value(before, 'dash_subscriptions') + 1);
    expect(value(live, 'dash_ws_connections')).toBeGreaterThanOrEqual(1);
    expect(value(live, 'dash_present_clients')).toBeGreaterThanOrEqual(1);

    const op = addWidget(createDocument('metrics'), newWidget('note', { id: 'n' }));
    await t.ok(SUBMIT, { d: id, c: `w-${RUN}`, s: 1, b: 0, op }, user.token);
    await t.gql(SUBMIT, { d: id, c: `w-${RUN}`, s: 2, b: 1, op: ['nope', { i: 1 }] }, user.token);
    await log.until((e) => e.some((x) => x.__typename === 'OperationApplied'));
    await t.ok(
      `mutation($d: ID!, $c: ID!) { updatePresence(dashboardId: $d, clientId: $c, cursor: { x: 1, y: 2 }) }`,
      { d: id, c: `m-${RUN}` },
      user.token,
    );
    await client.dispose();

    const after = await scrape();
    expect(value(after, 'dash_ops_committed_total')).toBe(value(before, 'dash_ops_committed_total') + 1);
    expect(value(after, 'dash_op_commit_seconds_count')).toBe(value(before, 'dash_op_commit_seconds_count') + 1);
    expect(value(after, 'dash_op_delivery_seconds_count')).toBeGreaterThan(
      value(before, 'dash_op_delivery_seconds_count'),
    );
    expect(value(after, 'dash_sync_catchup_seconds_count')).toBeGreaterThan(
      value(before, 'dash_sync_catchup_seconds_count'),
    );
    expect(value(after, 'dash_rejected_total{code="BAD_OPERATION"}')).toBe(
      value(before, 'dash_rejected_total{code="BAD_OPERATION"}') + 1,
    );
    expect(value(after, 'dash_presence_updates_total')).toBe(value(before, 'dash_presence_updates_total') + 1);
    expect(value(after, 'dash_redis_up')).toBe(1);
    // No label carries an id (user, dashboard, client).
    expect(after).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(after).not.toContain(RUN);
  });
});
