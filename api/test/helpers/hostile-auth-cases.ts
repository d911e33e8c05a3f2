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
