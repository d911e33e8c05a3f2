/** Hostile cases of the battery in hostile.test.ts: operations and other input that must be
 * refused before anything is committed. */
import { id, mutation, owner, RUN, submit, t, type Case } from './hostile-target.js';

/** Submissions that are no valid op, or no valid submission. */
export const operationCases: Case[] = [
  [
    'oversized op',
    async () => submit(owner.token, { op: ['widgets', 'n', 'text', { es: [0, 'x'.repeat(270_000)] }] }),
    'PAYLOAD_TOO_LARGE',
  ],
  ['op that is not an ot-json1 op', async () => submit(owner.token, { op: { drop: 'table' } }), 'BAD_OPERATION'],
  [
    'op that breaks the document shape',
    async () => submit(owner.token, { op: ['widgets', 'n', 'w', { r: true, i: -5 }] }),
    'BAD_OPERATION',
  ],
  [
    'op on a missing widget',
    async () => submit(owner.token, { op: ['widgets', 'ghost', 'x', { r: true, i: 1 }] }),
    'BAD_OPERATION',
  ],
  [
    'number add on a string',
    async () => submit(owner.token, { op: ['widgets', 'n', 'text', { ena: 5 }] }),
    'BAD_OPERATION',
  ],
  [
    'fractional text skip',
    async () => submit(owner.token, { op: ['widgets', 'n', 'text', { es: [1.5, 'x'] }] }),
    'BAD_OPERATION',
  ],
  [
    'text delete past the end',
    async () => submit(owner.token, { op: ['widgets', 'n', 'text', { es: [3, { d: 10 }] }] }),
    'BAD_OPERATION',
  ],
  [
    'JSON nested 200 deep',
    async () => submit(owner.token, { op: JSON.parse('['.repeat(200) + ']'.repeat(200)) }),
    'BAD_USER_INPUT',
  ],
  [
    'negative baseVersion',
    async () => submit(owner.token, { b: -1, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'BAD_USER_INPUT',
  ],
  [
    'baseVersion in the future',
    async () => submit(owner.token, { b: 99, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'BAD_USER_INPUT',
  ],
  ['seq 0', async () => submit(owner.token, { s: 0, op: ['widgets', 'n', 'x', { r: true, i: 1 }] }), 'BAD_USER_INPUT'],
  [
    'clientId with spaces',
    async () => submit(owner.token, { c: 'a b c', op: ['widgets', 'n', 'x', { r: true, i: 1 }] }),
    'BAD_USER_INPUT',
  ],
];

/** Oversized, malformed or SQL-laden input elsewhere. */
export const inputCases: Case[] = [
  [
    'alias bomb',
    async () => t.gql(`{ ${Array.from({ length: 100 }, (_, i) => `a${i}: me { id }`).join(' ')} }`, {}, owner.token),
    'GRAPHQL_VALIDATION_FAILED',
  ],
  [
    'huge presence payload',
    async () =>
      mutation(
        `mutation($d: ID!, $c: JSON) { updatePresence(dashboardId: $d, clientId: "o-cur", cursor: $c) }`,
        { d: id, c: { x: 1, y: 1, pad: 'x'.repeat(10_000) } },
        owner.token,
      ),
    'PAYLOAD_TOO_LARGE',
  ],
  [
    'presence of the wrong shape',
    async () =>
      mutation(
        `mutation($d: ID!, $c: JSON) { updatePresence(dashboardId: $d, clientId: "o-cur", cursor: $c) }`,
        { d: id, c: 'over there' },
        owner.token,
      ),
    'BAD_USER_INPUT',
  ],
  [
    'SQL in a dashboard id',
    async () => mutation(`mutation { deleteDashboard(id: "1'; DROP TABLE dashboards; --") }`, {}, owner.token),
    'NOT_FOUND',
  ],
  [
    'SQL in a user id',
    async () =>
      mutation(
        `mutation($d: ID!) { removeCollaborator(dashboardId: $d, userId: "x' OR '1'='1") }`,
        { d: id },
        owner.token,
      ),
    'NOT_FOUND',
  ],
  [
    'SQL in an email to invite',
    async () =>
      mutation(
        `mutation($d: ID!) { inviteCollaborator(dashboardId: $d, email: "a@b.c' OR 1=1 --", role: EDITOR) { role } }`,
        { d: id },
        owner.token,
      ),
    'BAD_USER_INPUT',
  ],
  [
    'a 10 000 character name',
    async () =>
      t.gql(
        `mutation($n: String!) { signUp(email: "long-${RUN}@example.com", name: $n, password: "long-pass-1") { accessToken } }`,
        { n: 'n'.repeat(10_000) },
      ),
    'BAD_USER_INPUT',
  ],
  [
    'a 1 MB-ish password',
    async () =>
      t.gql(
        `mutation($p: String!) { signUp(email: "pw-${RUN}@example.com", name: "P", password: $p) { accessToken } }`,
        { p: 'p1'.repeat(100_000) },
      ),
    'BAD_USER_INPUT',
  ],
  [
    'a 300-character title',
    async () =>
      mutation(`mutation($t: String!) { createDashboard(title: $t) { id } }`, { t: 't'.repeat(300) }, owner.token),
    'BAD_USER_INPUT',
  ],
];
