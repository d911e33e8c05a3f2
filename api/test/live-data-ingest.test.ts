/**
 * Pushing points over every transport (rule LD1) and reading them back (LD2), against the
 * real server: GraphQL pushPoints, REST, and Prometheus remote write sent by an independent
 * encoder (prometheus-remote-write: the full prompb schema, snappyjs).
 */
import { createRequire } from 'node:module';
import { createBackend, createDashboard, errorCode, signUp, startApp, type TestApp } from './helpers/harness.js';

const require = createRequire(import.meta.url);
const { serialize } = require('prometheus-remote-write') as { serialize(payload: unknown): Promise<Uint8Array> };
const SnappyJS = require('snappyjs') as { compress(input: Uint8Array): Uint8Array };

const PUSH = `mutation($d: ID!, $p: [PointInput!]!) { pushPoints(dashboardId: $d, points: $p) { accepted series } }`;
const DATA = `query($d: ID!, $m: SeriesMatch!, $from: Float!, $to: Float, $step: Int, $agg: Aggregation) {
  dashboard(id: $d) { seriesData(match: $m, from: $from, to: $to, step: $step, agg: $agg) { series { name labels } points } }
}`;
const SERIES = `query($d: ID!, $m: SeriesMatch) { dashboard(id: $d) { series(match: $m) { id name labels last { t v } } } }`;

let t: TestApp;
let owner: Awaited<ReturnType<typeof signUp>>;
let viewer: Awaited<ReturnType<typeof signUp>>;
let stranger: Awaited<ReturnType<typeof signUp>>;
let board: string;
const now = Date.now();

async function apiToken(token: string): Promise<string> {
  return (await newApiToken(token)).token;
}

async function newApiToken(token: string): Promise<{ token: string; id: string }> {
  const data = await t.ok(`mutation { createApiToken(name: "push") { token apiToken { id } } }`, {}, token);
  return { token: data.createApiToken.token, id: data.createApiToken.apiToken.id };
}

async function remoteWrite(dashboardId: string, token: string | null, body: Uint8Array) {
  const res = await fetch(`${t.url}/api/dashboards/${dashboardId}/prometheus/write`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: Buffer.from(body),
  });
  return { status: res.status, text: await res.text(), retryAfter: res.headers.get('retry-after') };
}

const writeRequest = async (timeseries: unknown[]) => SnappyJS.compress(await serialize({ timeseries }));

beforeAll(async () => {
  t = await startApp(await createBackend(), { env: { RATE_LIMIT_POINTS: '30000' } });
  [owner, viewer, stranger] = await Promise.all([signUp(t, 'Owner'), signUp(t, 'Viewer'), signUp(t, 'Stranger')]);
  board = await createDashboard(t, owner.token, 'Incident');
  await t.ok(
    `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: VIEWER) { role } }`,
    { d: board, e: viewer.email },
    owner.token,
  );
});

describe('LD1 pushing points', () => {
  it('[LD1] GraphQL pushPoints stores points all at once; [LD2] seriesData and series read them back', async () => {
    const points = [
      { series: 'http_requests_total', labels: { job: 'api', code: '200' }, t: now - 3000, v: 1 },
      { series: 'http_requests_total', labels: { code: '200', job: 'api' }, t: now - 2000, v: 4 },
      { series: 'http_requests_total', labels: { job: 'api', code: '500' }, t: now - 2000, v: 2 },
    ];
    expect((await t.ok(PUSH, { d: board, p: points }, owner.token)).pushPoints).toEqual({ accepted: 3, series: 2 });
    const data = await t.ok(
      DATA,
      { d: board, m: { name: 'http_requests_total', labels: { code: '200' } }, from: now - 60_000 },
      viewer.token,
    );
    expect(data.dashboard.seriesData).toEqual([
      {
        series: { name: 'http_requests_total', labels: { code: '200', job: 'api' } },
        points: [
          [now - 3000, 1],
          [now - 2000, 4],
        ],
      },
    ]);
    const listed = await t.ok(SERIES, { d: board, m: { name: 'http_requests_total' } }, viewer.token);
    expect(listed.dashboard.series.map((s: { labels: unknown; last: unknown }) => [s.labels, s.last])).toEqual([
      [
        { code: '200', job: 'api' },
        { t: now - 2000, v: 4 },
      ],
      [
        { code: '500', job: 'api' },
        { t: now - 2000, v: 2 },
      ],
    ]);
  });

  it('[LD1] refuses a VIEWER (FORBIDDEN) and a stranger (NOT_FOUND, AC1), storing nothing', async () => {
    const p = [{ series: 'refused', v: 1 }];
    expect(errorCode(await t.gql(PUSH, { d: board, p }, viewer.token))).toBe('FORBIDDEN');
    expect(errorCode(await t.gql(PUSH, { d: board, p }, stranger.token))).toBe('NOT_FOUND');
    const listed = await t.ok(SERIES, { d: board, m: { name: 'refused' } }, owner.token);
    expect(listed.dashboard.series).toEqual([]);
  });

  it('[LD1] names the first bad point and stores none of the request', async () => {
    const result = await t.gql(
      PUSH,
      {
        d: board,
        p: [
          { series: 'good_one', v: 1 },
          { series: 'bad-name', v: 2 },
        ],
      },
      owner.token,
    );
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.extensions?.index).toBe(1);
    expect((await t.ok(SERIES, { d: board, m: { name: 'good_one' } }, owner.token)).dashboard.series).toEqual([]);
  });

  it('[LD1] REST: 200 with the PushResult, 400 naming the point, 413 over 10,000 points', async () => {
    const rest = (body: unknown) =>
      fetch(`${t.url}/api/dashboards/${board}/points`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, body: await res.json() }));
    expect(await rest({ points: [{ series: 'rest_pushed', v: 7 }] })).toEqual({
      status: 200,
      body: { accepted: 1, series: 1 },
    });
    const bad = await rest({ points: [{ series: 'rest_pushed', v: 1, t: now + 3_600_000 }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^Point 0: .*5 minutes ahead/);
    const many = await rest({ points: Array.from({ length: 10_001 }, () => ({ series: 'x', v: 1 })) });
    expect(many.status).toBe(413);
  });

  it('[LD1] Prometheus remote write: 204, staleness markers skipped, the samples stored', async () => {
    const token = await apiToken(owner.token);
    const stale = new DataView(new ArrayBuffer(8));
    stale.setBigUint64(0, 0x7ff0000000000002n);
    const body = await writeRequest([
      {
        labels: [
          { name: '__name__', value: 'up' },
          { name: 'job', value: 'prometheus' },
        ],
        samples: [
          { value: 1, timestamp: now - 1000 },
          { value: stale.getFloat64(0), timestamp: now - 500 },
        ],
      },
    ]);
    expect((await remoteWrite(board, token, body)).status).toBe(204);
    const data = await t.ok(DATA, { d: board, m: { name: 'up' }, from: now - 60_000 }, owner.token);
    expect(data.dashboard.seriesData).toEqual([
      { series: { name: 'up', labels: { job: 'prometheus' } }, points: [[now - 1000, 1]] },
    ]);
  });

  it('[LD1] remote write refusals carry the status Prometheus acts on', async () => {
    const { token, id } = await newApiToken(owner.token);
    const viewerToken = await apiToken(viewer.token);
    const body = await writeRequest([
      { labels: [{ name: '__name__', value: 'up' }], samples: [{ value: 1, timestamp: now }] },
    ]);
    expect((await remoteWrite(board, null, body)).status).toBe(401);
    expect((await remoteWrite(board, 'cdk_not-a-token', body)).status).toBe(401);
    expect((await remoteWrite(board, viewerToken, body)).status).toBe(403);
    expect((await remoteWrite(board, await apiToken(stranger.token), body)).status).toBe(404);
    // An embed token is read-only (EM1), whoever minted it: pushing through it is FORBIDDEN.
    const embed = (
      await t.ok(`mutation($d: ID!) { createEmbedToken(dashboardId: $d) { token } }`, { d: board }, owner.token)
    ).createEmbedToken.token as string;
    expect((await remoteWrite(board, embed, body)).status).toBe(403);
    expect(errorCode(await t.gql(PUSH, { d: board, p: [{ series: 'via_embed', v: 1 }] }, embed))).toBe('FORBIDDEN');
    expect((await remoteWrite(board, token, new TextEncoder().encode('not snappy'))).status).toBe(400);
    const badName = await writeRequest([
      { labels: [{ name: '__name__', value: 'bad-name' }], samples: [{ value: 1, timestamp: now }] },
    ]);
    expect((await remoteWrite(board, token, badName)).status).toBe(400);
    await t.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id }, owner.token);
    expect((await remoteWrite(board, token, body)).status).toBe(401);
  });

  it('[LD1] over RATE_LIMIT_POINTS: RATE_LIMITED with retryAfter, and 429 + Retry-After on remote write', async () => {
    const pusher = await signUp(t, 'Pusher');
    const own = await createDashboard(t, pusher.token, 'Mine');
    const batch = Array.from({ length: 10_000 }, (_, i) => ({ series: 'load', t: now - 10_000 + i, v: i }));
    for (let i = 0; i < 3; i++) await t.ok(PUSH, { d: own, p: batch }, pusher.token);
    const refused = await t.gql(PUSH, { d: own, p: [{ series: 'load', v: 1 }] }, pusher.token);
    expect(errorCode(refused)).toBe('RATE_LIMITED');
    expect(refused.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(0);
    const token = await apiToken(pusher.token);
    const body = await writeRequest([
      { labels: [{ name: '__name__', value: 'load' }], samples: [{ value: 1, timestamp: now }] },
    ]);
    const limited = await remoteWrite(own, token, body);
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
  });

  it('[LD2] seriesData with a step aggregates each bucket in the database', async () => {
    const from = now - 60_000;
    // Ten seconds apart: 10 and 20 in the first step, 30 and 40 in the second, 50 at `to` (inclusive).
    const p = [10, 20, 30, 40, 50].map((v, i) => ({ series: 'latency', t: from + i * 10_000, v }));
    await t.ok(PUSH, { d: board, p }, owner.token);
    const bucketed = async (agg: string) =>
      (await t.ok(DATA, { d: board, m: { name: 'latency' }, from, to: from + 40_000, step: 20_000, agg }, owner.token))
        .dashboard.seriesData[0].points;
    expect(await bucketed('AVG')).toEqual([
      [from, 15],
      [from + 20_000, 35],
      [from + 40_000, 50],
    ]);
    expect(await bucketed('MAX')).toEqual([
      [from, 20],
      [from + 20_000, 40],
      [from + 40_000, 50],
    ]);
  });

  it('[LD1] deleting a dashboard deletes its series', async () => {
    const doomed = await createDashboard(t, owner.token, 'Doomed');
    await t.ok(PUSH, { d: doomed, p: [{ series: 'gone', v: 1 }] }, owner.token);
    expect(await t.app.services.store.countSeries(doomed)).toBe(1);
    await t.ok(`mutation($id: ID!) { deleteDashboard(id: $id) }`, { id: doomed }, owner.token);
    expect(await t.app.services.store.countSeries(doomed)).toBe(0);
  });
});
