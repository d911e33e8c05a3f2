/** Hostile cases of the battery in hostile.test.ts: tokens that must not authenticate, and
 * users who must not do what their role (or lack of one) does not allow. */
import { SignJWT } from 'jose';
import {
  b64,
  editor,
  id,
  ME,
  mutation,
  owner,
  RUN,
  removed,
  secret,
  stranger,
  submit,
  t,
  viewer,
  type Case,
} from './hostile-target.js';

/** Forged, foreign, expired or made-up credentials: UNAUTHENTICATED. */
export const tokenCases: Case[] = [
  [
    'forged JWT signature',
    async () => t.gql(ME, {}, `${owner.token.split('.').slice(0, 2).join('.')}.AAAA`),
    'UNAUTHENTICATED',
  ],
  [
    'alg:none JWT',
    async () => t.gql(ME, {}, `${b64({ alg: 'none', typ: 'JWT' })}.${owner.token.split('.')[1]}.`),
    'UNAUTHENTICATED',
  ],
  [
    'JWT signed with another secret',
    async () =>
      t.gql(
        ME,
        {},
        await new SignJWT({ typ: 'access' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(owner.userId)
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode('x'.repeat(48))),
      ),
    'UNAUTHENTICATED',
  ],
  [
    'expired JWT',
    async () =>
      t.gql(
        ME,
        {},
        await new SignJWT({ typ: 'access' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(owner.userId)
          .setIssuedAt(1_000_000)
          .setExpirationTime(1_000_900)
          .sign(secret),
      ),
    'UNAUTHENTICATED',
  ],
  [
    'JWT of another kind (no typ)',
    async () =>
      t.gql(
        ME,
        {},
        await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(owner.userId)
          .setExpirationTime('1h')
          .sign(secret),
      ),
    'UNAUTHENTICATED',
  ],
  [
    'HS512 JWT with the right secret',
    async () =>
      t.gql(
        ME,
        {},
        await new SignJWT({ typ: 'access' })
          .setProtectedHeader({ alg: 'HS512' })
          .setSubject(owner.userId)
          .setExpirationTime('1h')
          .sign(secret),
      ),
    'UNAUTHENTICATED',
  ],
  ['made-up API token', async () => t.gql(ME, {}, 'dsh_madeup'), 'UNAUTHENTICATED'],
];

/** Members and strangers reaching past their role: FORBIDDEN, or NOT_FOUND to a non-member (AC1). */
export const roleCases: Case[] = [
  [
    "another user's clientId",
    async () => submit(editor.token, { c: `seed-${RUN}`, s: 9, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'FORBIDDEN',
  ],
  [
    'stranger submits',
    async () => submit(stranger.token, { c: `s-${RUN}`, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'NOT_FOUND',
  ],
  [
    'removed collaborator submits',
    async () => submit(removed.token, { c: `r-${RUN}`, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'NOT_FOUND',
  ],
  [
    'viewer submits',
    async () => submit(viewer.token, { c: `v-${RUN}`, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'FORBIDDEN',
  ],
  [
    'viewer renames',
    async () => mutation(`mutation($d: ID!) { renameDashboard(id: $d, title: "x") { id } }`, { d: id }, viewer.token),
    'FORBIDDEN',
  ],
  [
    'viewer invites',
    async () =>
      mutation(
        `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
        { d: id, e: stranger.email },
        viewer.token,
      ),
    'FORBIDDEN',
  ],
  [
    'viewer undoes',
    async () =>
      mutation(
        `mutation($d: ID!) { undo(dashboardId: $d, clientId: "v-undo", seq: 1) { version } }`,
        { d: id },
        viewer.token,
      ),
    'FORBIDDEN',
  ],
  [
    'viewer restores',
    async () =>
      mutation(
        `mutation($d: ID!) { restoreVersion(dashboardId: $d, version: 0, clientId: "v-res", seq: 1) { version } }`,
        { d: id },
        viewer.token,
      ),
    'FORBIDDEN',
  ],
  [
    'viewer checkpoints',
    async () =>
      mutation(`mutation($d: ID!) { createCheckpoint(dashboardId: $d, name: "x") { id } }`, { d: id }, viewer.token),
    'FORBIDDEN',
  ],
  [
    'editor deletes',
    async () => mutation(`mutation($d: ID!) { deleteDashboard(id: $d) }`, { d: id }, editor.token),
    'FORBIDDEN',
  ],
  [
    'editor reads the audit log',
    async () => t.gql(`query($d: ID!) { dashboard(id: $d) { auditLog { action } } }`, { d: id }, editor.token),
    'FORBIDDEN',
  ],
  [
    'stranger invites himself',
    async () =>
      mutation(
        `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
        { d: id, e: stranger.email },
        stranger.token,
      ),
    'NOT_FOUND',
  ],
  [
    'stranger moves a cursor',
    async () =>
      mutation(
        `mutation($d: ID!) { updatePresence(dashboardId: $d, clientId: "s-cur", cursor: { x: 1, y: 1 }) }`,
        { d: id },
        stranger.token,
      ),
    'NOT_FOUND',
  ],
  [
    'undo with a clientId of another user',
    async () =>
      mutation(
        `mutation($d: ID!, $c: ID!) { undo(dashboardId: $d, clientId: $c, seq: 50) { version } }`,
        { d: id, c: `seed-${RUN}` },
        editor.token,
      ),
    'FORBIDDEN',
  ],
];

/** Scoped API tokens reaching past their scope (SC1): made once, on first use, by the owner. */
const scoped = new Map<string, Promise<string>>();
function scopedToken(key: string, scope: Record<string, unknown>): Promise<string> {
  if (!scoped.has(key)) {
    scoped.set(
      key,
      t
        .ok(
          `mutation($s: TokenScope) { createApiToken(name: "hostile", scope: $s) { token } }`,
          { s: scope },
          owner.token,
        )
        .then((data) => data.createApiToken.token as string),
    );
  }
  return scoped.get(key)!;
}
const readOnly = () => scopedToken('read', { dashboards: [id], actions: ['READ'] });
let elsewhere: Promise<string> | null = null;
/** Another dashboard of the same owner, outside the scoped tokens' list. */
const otherDashboard = () =>
  (elsewhere ??= t
    .ok(`mutation { createDashboard(title: "elsewhere") { id } }`, {}, owner.token)
    .then((data) => data.createDashboard.id as string));

/** The first event of a subscription over SSE, as a GraphQL result. */
async function sseFirst(token: string, query: string, variables: Record<string, unknown>) {
  const controller = new AbortController();
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString();
      const data = /^data: (.*)$/m.exec(buffer)?.[1];
      if (data) return JSON.parse(data) as { errors?: [] };
    }
  } finally {
    controller.abort();
  }
  return {};
}

export const scopeCases: Case[] = [
  [
    'a READ token calling submitOperation',
    async () => submit(await readOnly(), { c: `scoped-${RUN}`, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'FORBIDDEN',
  ],
  [
    'a one-dashboard token subscribing to another dashboard (SSE)',
    async () =>
      sseFirst(
        await readOnly(),
        `subscription($d: ID!) { dashboardEvents(dashboardId: $d, clientId: "x") { __typename } }`,
        {
          d: await otherDashboard(),
        },
      ),
    'NOT_FOUND',
  ],
  [
    'a one-dashboard token pushing to another dashboard',
    async () =>
      mutation(
        `mutation($d: ID!) { pushPoints(dashboardId: $d, points: [{ series: "x", v: 1 }]) { accepted } }`,
        { d: await otherDashboard() },
        await scopedToken('push', { dashboards: [id], actions: ['PUSH'] }),
      ),
    'NOT_FOUND',
  ],
  [
    'a scoped token minting an unscoped one',
    async () => mutation(`mutation { createApiToken(name: "wider") { token } }`, {}, await readOnly()),
    'FORBIDDEN',
  ],
  [
    'a scoped token minting an embed token',
    async () =>
      mutation(`mutation($d: ID!) { createEmbedToken(dashboardId: $d) { token } }`, { d: id }, await readOnly()),
    'FORBIDDEN',
  ],
  [
    'a READ token reading the audit log (ADMIN)',
    async () => t.gql(`query($d: ID!) { dashboard(id: $d) { auditLog { action } } }`, { d: id }, await readOnly()),
    'FORBIDDEN',
  ],
  [
    'a token from a disallowed address, spoofing X-Forwarded-For without TRUST_PROXY',
    async () => {
      const token = await scopedToken('office', { dashboards: [id], actions: ['READ'], allowFrom: ['203.0.113.0/24'] });
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'x-forwarded-for': '203.0.113.5',
        },
        body: JSON.stringify({ query: ME }),
      });
      return (await res.json()) as { errors?: [] };
    },
    'UNAUTHENTICATED',
  ],
];
