/** AU1 over time, and the SSE subscription path with the same auth, presence and revocation. */
import { addWidget, createDocument, newWidget } from '@collab-dashboards/core';
import {
  createBackend,
  createDashboard,
  errorCode,
  EVENTS,
  signUp,
  startApp,
  SUBMIT,
  type Backend,
  type TestApp,
} from './helpers/harness.js';

const RUN = Math.random().toString(36).slice(2, 8);
let backend: Backend;
let t: TestApp;

beforeAll(async () => {
  backend = await createBackend();
  t = await startApp(backend);
});

describe('[AU1] continuous token validation', () => {
  it('closes a WebSocket with 4401 when its access token expires, not at the next message', async () => {
    const short = await startApp(backend, { env: { ACCESS_TOKEN_TTL: '2' } });
    try {
      const user = await signUp(short, 'Short');
      const client = short.wsClient(user.token);
      const started = Date.now();
      const closed = new Promise<number>((resolve) =>
        client.on('closed', (e) => resolve((e as { code: number }).code)),
      );
      const id = await createDashboard(short, user.token, 'expiring');
      client.subscribe(
        { query: EVENTS, variables: { d: id, c: `exp-${RUN}` } },
        { next: () => {}, error: () => {}, complete: () => {} },
      );
      expect(await closed).toBe(4401);
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      await short.stop();
    }
  });

  it('a role downgrade to VIEWER makes the next submit FORBIDDEN', async () => {
    const owner = await signUp(t, 'Down');
    const editor = await signUp(t, 'Graded');
    const id = await createDashboard(t, owner.token, 'downgrade');
    await t.ok(
      `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
      { d: id, e: editor.email },
      owner.token,
    );
    const op = (n: string) => addWidget(createDocument('downgrade'), newWidget('note', { id: n }));
    expect(
      (await t.gql(SUBMIT, { d: id, c: `dg-${RUN}`, s: 1, b: 0, op: op('a') }, editor.token)).errors,
    ).toBeUndefined();
    await t.ok(
      `mutation($d: ID!, $u: ID!) { updateCollaboratorRole(dashboardId: $d, userId: $u, role: VIEWER) { role } }`,
      { d: id, u: editor.userId },
      owner.token,
    );
    expect(errorCode(await t.gql(SUBMIT, { d: id, c: `dg-${RUN}`, s: 2, b: 1, op: op('b') }, editor.token))).toBe(
      'FORBIDDEN',
    );
  });
});

/** Opens dashboardEvents over Server-Sent Events and collects the events. */
async function sse(token: string | undefined, variables: Record<string, unknown>) {
  const controller = new AbortController();
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query: EVENTS, variables }),
    signal: controller.signal,
  });
  const events: any[] = [];
  let completed = false;
  const waiters = new Set<() => void>();
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type === 'complete') completed = true;
          else if (data) events.push(JSON.parse(data));
          for (const w of waiters) w();
        }
      }
    } catch {
      /* aborted */
    }
    completed = true;
    for (const w of waiters) w();
  })();
  const until = (predicate: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(events.slice(-3))}`)), 10_000);
      const check = () => {
        if (predicate()) {
          clearTimeout(limit);
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
    });
  return {
    status: res.status,
    events,
    until,
    get completed() {
      return completed;
    },
    /** Ends the request; the server sees the client go (its stream ends, PR1). */
    close: () => {
      controller.abort();
      void done;
    },
  };
}

const typeOf = (e: any) => e.data?.dashboardEvents?.__typename;

describe('SSE subscriptions: the same rules as the WebSocket path', () => {
  it('streams catch-up, SyncCompleted and live ops; joins presence; a stranger gets NOT_FOUND', async () => {
    const owner = await signUp(t, 'SseOwner');
    const stranger = await signUp(t, 'SseStranger');
    const id = await createDashboard(t, owner.token, 'sse');
    await t.ok(
      SUBMIT,
      { d: id, c: `sse-w-${RUN}`, s: 1, b: 0, op: addWidget(createDocument('sse'), newWidget('note', { id: 'n1' })) },
      owner.token,
    );
    const stream = await sse(owner.token, { d: id, c: `sse-${RUN}`, f: 0 });
    expect(stream.status).toBe(200);
    await stream.until(() => stream.events.some((e) => typeOf(e) === 'SyncCompleted'));
    expect(stream.events.map(typeOf)).toEqual(['OperationApplied', 'SyncCompleted']);
    const presence = await t.ok(
      `query($d: ID!) { dashboard(id: $d) { presence { clientId } } }`,
      { d: id },
      owner.token,
    );
    expect(presence.dashboard.presence.map((p: { clientId: string }) => p.clientId)).toContain(`sse-${RUN}`);
    const doc = (await t.ok(`query($d: ID!) { dashboard(id: $d) { document } }`, { d: id }, owner.token)).dashboard
      .document;
    await t.ok(
      SUBMIT,
      { d: id, c: `sse-w-${RUN}`, s: 2, b: 1, op: addWidget(doc, newWidget('note', { id: 'n2' })) },
      owner.token,
    );
    await stream.until(() => stream.events.filter((e) => typeOf(e) === 'OperationApplied').length === 2);
    await stream.close();

    const denied = await sse(stranger.token, { d: id, c: `sse-s-${RUN}` });
    await denied.until(() => denied.events.length > 0 || denied.completed);
    expect(denied.events[0]?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await denied.close();
    const anonymous = await sse(undefined, { d: id, c: `sse-a-${RUN}` });
    await anonymous.until(() => anonymous.events.length > 0 || anonymous.completed);
    expect(anonymous.events[0]?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await anonymous.close();
  });

  it('a removed member gets AccessRevoked as the last event, then the stream completes', async () => {
    const owner = await signUp(t, 'SseRevOwner');
    const member = await signUp(t, 'SseRevMember');
    const id = await createDashboard(t, owner.token, 'sse-revoke');
    await t.ok(
      `mutation($d: ID!, $e: String!) { inviteCollaborator(dashboardId: $d, email: $e, role: EDITOR) { role } }`,
      { d: id, e: member.email },
      owner.token,
    );
    const stream = await sse(member.token, { d: id, c: `sse-m-${RUN}`, f: 0 });
    await stream.until(() => stream.events.some((e) => typeOf(e) === 'SyncCompleted'));
    await t.ok(
      `mutation($d: ID!, $u: ID!) { removeCollaborator(dashboardId: $d, userId: $u) }`,
      { d: id, u: member.userId },
      owner.token,
    );
    await stream.until(() => stream.completed);
    expect(stream.events.at(-1).data.dashboardEvents).toEqual({
      __typename: 'AccessRevoked',
      dashboardId: id,
      reason: 'REMOVED',
    });
    await stream.close();
  });
});
