import { createBackend, errorCode, signUp, startApp, type Backend, type TestApp } from './helpers/harness.js';

const ME = `{ me { id email name color } }`;
const REFRESH = `mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken expiresAt user { id } } }`;

let backend: Backend;
let t: TestApp;
let offsetMs = 0;
const clock = { now: () => new Date(Date.now() + offsetMs) };

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend, { clock });
});
afterEach(() => {
  offsetMs = 0;
});

describe('signUp / logIn / me', () => {
  it('signs up with a lower-cased email and answers me', async () => {
    const email = `Mixed.Case-${Date.now()}@Example.COM`;
    const { signUp: s } = await t.ok(
      `mutation($e: String!) { signUp(email: $e, name: " Ada ", password: "s3cret-pass") { accessToken refreshToken expiresAt user { id email name color } } }`,
      { e: email },
    );
    expect(s.user.email).toBe(email.toLowerCase());
    expect(s.user.name).toBe('Ada');
    expect(s.user.color).toMatch(/^#[0-9a-f]{6}$/);
    expect(new Date(s.expiresAt).getTime()).toBeGreaterThan(Date.now() + 800_000);
    const { me } = await t.ok(ME, {}, s.accessToken);
    expect(me).toEqual(s.user);
  });

  it('me is null without credentials', async () => {
    expect(await t.ok(ME)).toEqual({ me: null });
  });

  it('rejects a second account with the same email, whatever its case', async () => {
    const { email } = await signUp(t, 'Dup');
    const again = await t.gql(
      `mutation($e: String!) { signUp(email: $e, name: "X", password: "s3cret-pass") { accessToken } }`,
      {
        e: email.toUpperCase(),
      },
    );
    expect(errorCode(again)).toBe('BAD_USER_INPUT');
  });

  it.each([
    ['not-an-email', 'Name', 's3cret-pass'],
    ['a@b.co', '', 's3cret-pass'],
    ['a@b.co', 'N'.repeat(101), 's3cret-pass'],
    ['a@b.co', 'Name', 'short1'],
    ['a@b.co', 'Name', 'onlyletters'],
    ['a@b.co', 'Name', 'aaaa1111'],
  ])('validates input: %s / %s / %s -> BAD_USER_INPUT', async (e, n, p) => {
    const r = await t.gql(
      `mutation($e: String!, $n: String!, $p: String!) { signUp(email: $e, name: $n, password: $p) { accessToken } }`,
      { e, n, p },
    );
    expect(errorCode(r)).toBe('BAD_USER_INPUT');
  });

  it('logs in with the right password only', async () => {
    const { email } = await signUp(t, 'Login');
    const ok = await t.ok(
      `mutation($e: String!) { logIn(email: $e, password: "correct-horse-9") { accessToken user { email } } }`,
      {
        e: email.toUpperCase(),
      },
    );
    expect(ok.logIn.user.email).toBe(email);
    const bad = await t.gql(`mutation($e: String!) { logIn(email: $e, password: "wrong-horse-9") { accessToken } }`, {
      e: email,
    });
    expect(errorCode(bad)).toBe('UNAUTHENTICATED');
    const nobody = await t.gql(
      `mutation { logIn(email: "nobody@example.com", password: "whatever-1") { accessToken } }`,
    );
    expect(errorCode(nobody)).toBe('UNAUTHENTICATED');
  });
});

describe('access tokens', () => {
  it('rejects a garbage, a forged, an alg:none and an expired token with UNAUTHENTICATED', async () => {
    const { token } = await signUp(t, 'Tok');
    const [header, payload] = token.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    const forged = `${header}.${payload}.${Buffer.from('forged-signature').toString('base64url')}`;
    for (const bad of ['garbage', none, forged]) {
      expect(errorCode(await t.gql(ME, {}, bad))).toBe('UNAUTHENTICATED');
    }
    offsetMs = 901_000; // past ACCESS_TOKEN_TTL
    expect(errorCode(await t.gql(ME, {}, token))).toBe('UNAUTHENTICATED');
  });

  it('rejects a malformed Authorization header', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic abc' },
      body: JSON.stringify({ query: ME }),
    });
    expect(errorCode(await res.json())).toBe('UNAUTHENTICATED');
  });
});

describe('refresh tokens rotate, with reuse detection', () => {
  it('rotates: the new pair works and the old refresh token is spent', async () => {
    const { refreshToken, userId } = await signUp(t, 'Rot');
    const { refreshSession: next } = await t.ok(REFRESH, { r: refreshToken });
    expect(next.user.id).toBe(userId);
    expect(next.refreshToken).not.toBe(refreshToken);
    const { me } = await t.ok(ME, {}, next.accessToken);
    expect(me.id).toBe(userId);
    const { refreshSession: third } = await t.ok(REFRESH, { r: next.refreshToken });
    expect(third.refreshToken).not.toBe(next.refreshToken);
  });

  it('[RT1] returns the same successor when the old token comes again within 10 s (two tabs)', async () => {
    const { refreshToken } = await signUp(t, 'Tabs');
    const [a, b] = await Promise.all([t.ok(REFRESH, { r: refreshToken }), t.ok(REFRESH, { r: refreshToken })]);
    expect(a.refreshSession.refreshToken).toBe(b.refreshSession.refreshToken);
    offsetMs = 9_000;
    const c = await t.ok(REFRESH, { r: refreshToken });
    expect(c.refreshSession.refreshToken).toBe(a.refreshSession.refreshToken);
  });

  it('[RT1] a reuse after the grace window revokes the whole family', async () => {
    const { refreshToken } = await signUp(t, 'Reuse');
    const { refreshSession: next } = await t.ok(REFRESH, { r: refreshToken });
    offsetMs = 11_000;
    expect(errorCode(await t.gql(REFRESH, { r: refreshToken }))).toBe('UNAUTHENTICATED');
    // The thief's successor dies with the family.
    expect(errorCode(await t.gql(REFRESH, { r: next.refreshToken }))).toBe('UNAUTHENTICATED');
  });

  it('[RT2] logOut revokes the family; unknown tokens are UNAUTHENTICATED on refresh', async () => {
    const { refreshToken } = await signUp(t, 'Out');
    const { refreshSession: next } = await t.ok(REFRESH, { r: refreshToken });
    expect(await t.ok(`mutation($r: String!) { logOut(refreshToken: $r) }`, { r: next.refreshToken })).toEqual({
      logOut: true,
    });
    expect(errorCode(await t.gql(REFRESH, { r: next.refreshToken }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await t.gql(REFRESH, { r: 'made-up' }))).toBe('UNAUTHENTICATED');
    expect(await t.ok(`mutation { logOut(refreshToken: "made-up") }`)).toEqual({ logOut: false });
  });

  it('an expired refresh token is refused', async () => {
    const { refreshToken } = await signUp(t, 'Old');
    offsetMs = 31 * 24 * 3600 * 1000;
    expect(errorCode(await t.gql(REFRESH, { r: refreshToken }))).toBe('UNAUTHENTICATED');
  });
});

describe('API tokens', () => {
  it('are shown once, act as their user over HTTP, are listed without secret, and die when revoked', async () => {
    const { token, userId } = await signUp(t, 'Api');
    const { createApiToken } = await t.ok(
      `mutation { createApiToken(name: "ci") { token apiToken { id name createdAt lastUsedAt } } }`,
      {},
      token,
    );
    expect(createApiToken.token).toMatch(/^dsh_/);
    expect(createApiToken.apiToken.lastUsedAt).toBeNull();
    const { me } = await t.ok(ME, {}, createApiToken.token);
    expect(me.id).toBe(userId);
    const { apiTokens } = await t.ok(`{ apiTokens { id name lastUsedAt } }`, {}, token);
    expect(apiTokens).toHaveLength(1);
    expect(apiTokens[0].id).toBe(createApiToken.apiToken.id);
    expect(apiTokens[0].lastUsedAt).not.toBeNull();
    expect(JSON.stringify(apiTokens)).not.toContain(createApiToken.token);

    const other = await signUp(t, 'Other');
    expect(
      await t.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: createApiToken.apiToken.id }, other.token),
    ).toEqual({
      revokeApiToken: false,
    });
    expect(
      await t.ok(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: createApiToken.apiToken.id }, token),
    ).toEqual({
      revokeApiToken: true,
    });
    expect(errorCode(await t.gql(ME, {}, createApiToken.token))).toBe('UNAUTHENTICATED');
    expect((await t.ok(`{ apiTokens { id } }`, {}, token)).apiTokens).toEqual([]);
  });

  it('needs a signed-in caller', async () => {
    expect(errorCode(await t.gql(`mutation { createApiToken(name: "x") { token } }`))).toBe('UNAUTHENTICATED');
    expect(errorCode(await t.gql(`{ apiTokens { id } }`))).toBe('UNAUTHENTICATED');
  });
});

describe('[AU1] WebSocket authentication', () => {
  const subscribeOnce = (client: ReturnType<TestApp['wsClient']>) =>
    new Promise<{ closeCode?: number; data?: unknown; error?: unknown }>((resolve) => {
      client.on('closed', (event) => resolve({ closeCode: (event as { code: number }).code }));
      client.subscribe(
        { query: ME },
        { next: (data) => resolve({ data }), error: (error) => resolve({ error }), complete: () => {} },
      );
    });

  it('closes with 4401 without an authToken', async () => {
    expect((await subscribeOnce(t.wsClient(undefined))).closeCode).toBe(4401);
  });

  it('closes with 4401 with a bad token', async () => {
    expect((await subscribeOnce(t.wsClient('not-a-token'))).closeCode).toBe(4401);
  });

  it('accepts an access token and an API token', async () => {
    const { token, userId } = await signUp(t, 'Ws');
    const viaAccess = await subscribeOnce(t.wsClient(token));
    expect(viaAccess.data).toEqual({ data: { me: expect.objectContaining({ id: userId }) } });
    const { createApiToken } = await t.ok(`mutation { createApiToken(name: "ws") { token } }`, {}, token);
    const viaApi = await subscribeOnce(t.wsClient(createApiToken.token));
    expect(viaApi.data).toEqual({ data: { me: expect.objectContaining({ id: userId }) } });
  });
});
