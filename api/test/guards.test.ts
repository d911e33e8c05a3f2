/** Limits that keep the server up under abuse (DESIGN.md section 7). */
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import {
  createBackend,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';

let backend: Backend;
let t: TestApp;
let user: Awaited<ReturnType<typeof signUp>>;

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend, {
    env: { RATE_LIMIT_AUTH_PER_IP: '5', RATE_LIMIT_SUBMITS: '3', RATE_LIMIT_MUTATIONS: '4' },
  });
  user = await signUp(t, 'Guarded');
});

describe('query limits', () => {
  it('refuses a query nested deeper than the limit', async () => {
    const shallow = await startApp(backend, { env: { QUERY_MAX_DEPTH: '3' } });
    try {
      const u = await signUp(shallow, 'Depth');
      expect((await shallow.gql(`{ dashboards { owner { id } } }`, {}, u.token)).errors).toBeUndefined();
      const deep = `{ dashboards { collaborators { user { id } } } }`;
      expect(errorCode(await shallow.gql(deep, {}, u.token))).toBe('GRAPHQL_VALIDATION_FAILED');
    } finally {
      await shallow.stop();
    }
  });

  it('refuses an alias bomb', async () => {
    const aliases = Array.from({ length: 50 }, (_, i) => `a${i}: me { id }`).join(' ');
    expect(errorCode(await t.gql(`{ ${aliases} }`, {}, user.token))).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses a document with too many tokens', async () => {
    const fields = Array.from({ length: 3000 }, () => '__typename').join(' ');
    const result = await t.gql(`{ ${fields} }`, {}, user.token);
    expect(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']).toContain(errorCode(result));
  });

  it('keeps introspection on by default (GraphiQL needs it)', async () => {
    const { data } = await t.gql(`{ __schema { queryType { name } } }`);
    expect(data?.__schema.queryType.name).toBe('Query');
  });

  it('can switch introspection off', async () => {
    const hardened = await startApp(backend, { env: { INTROSPECTION: 'false' } });
    try {
      expect(errorCode(await hardened.gql(`{ __schema { queryType { name } } }`))).toBe('GRAPHQL_VALIDATION_FAILED');
      expect((await hardened.gql(`{ me { id } }`)).data).toEqual({ me: null });
    } finally {
      await hardened.stop();
    }
  });
});

describe('rate limits', () => {
  it('limits logIn per IP, with RATE_LIMITED and retryAfter', async () => {
    const codes: Array<string | undefined> = [];
    for (let i = 0; i < 6; i++) {
      codes.push(
        errorCode(
          await t.gql(`mutation { logIn(email: "${user.email}", password: "wrong-password-1") { accessToken } }`),
        ),
      );
    }
    // signUp above used one of the 5; then 4 wrong passwords, then the limit.
    expect(codes.slice(0, 4)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    const limited = await t.gql(
      `mutation { logIn(email: "${user.email}", password: "correct-horse-9") { accessToken } }`,
    );
    expect(errorCode(limited)).toBe('RATE_LIMITED');
    expect(limited.errors?.[0]?.extensions?.retryAfter).toBe(60);
  });

  it('gives submitOperation its own budget per user', async () => {
    const id = await createDashboard(t, user.token, 'limits');
    let doc = createDocument('limits');
    const codes: Array<string | undefined> = [];
    for (let i = 0; i < 4; i++) {
      const op = addWidget(doc, newWidget('note', { id: `n${i}` }));
      const r = await t.gql(SUBMIT, { d: id, c: `lim-${Date.now()}`, s: i + 1, b: i, op }, user.token);
      codes.push(errorCode(r));
      if (!r.errors)
        doc = (await t.ok(`query($id: ID!) { dashboard(id: $id) { document } }`, { id }, user.token)).dashboard
          .document;
    }
    expect(codes).toEqual([undefined, undefined, undefined, 'RATE_LIMITED']);
  });

  it('limits other mutations per user, and others are unaffected', async () => {
    const other = await startApp(backend, { env: { RATE_LIMIT_MUTATIONS: '2' } });
    try {
      const a = await signUp(other, 'LimitA');
      const b = await signUp(other, 'LimitB');
      const create = (token: string) => other.gql(`mutation { createDashboard(title: "x") { id } }`, {}, token);
      expect([
        errorCode(await create(a.token)),
        errorCode(await create(a.token)),
        errorCode(await create(a.token)),
      ]).toEqual([undefined, undefined, 'RATE_LIMITED']);
      expect(errorCode(await create(b.token))).toBeUndefined();
    } finally {
      await other.stop();
    }
  });
});
