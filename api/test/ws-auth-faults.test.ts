/**
 * A database failure while a socket authenticates (connection_init) is not a bad credential:
 * the socket closes with 1013 "try again later", which the stock graphql-ws client retries,
 * where 4401 would be final for it (AU1). Over HTTP the same failure is UNAVAILABLE.
 */
import WebSocket from 'ws';
import { createClient, type FormattedExecutionResult } from 'graphql-ws';
import { CloseCode } from '@collab-dashboards/core';
import { storeError } from '../src/adapters/sql/errors.js';
import { DomainError } from '../src/errors.js';
import type { Store } from '../src/ports/store.js';
import { createBackend, signUp, startApp, type Backend, type TestApp } from './helpers/harness.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { withTimeout } from './helpers/wait.js';
import { NEEDS_DATABASE_URL } from './helpers/skip.js';

const DATABASE_URL = process.env.DATABASE_URL || undefined;

let backend: Backend;
beforeAll(async () => {
  backend = await createBackend();
});
afterAll(() => backend.close());

/** A store whose API-token lookup throws `failure()` while `failing` is set. */
function flakyStore(inner: Store, failure: () => unknown) {
  const control = { failing: false, failures: 0 };
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'findApiToken') {
        return async (...args: Parameters<Store['findApiToken']>) => {
          if (control.failing) {
            control.failures++;
            throw failure();
          }
          return target.findApiToken(...args);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, control };
}

async function apiToken(t: TestApp, token: string): Promise<string> {
  const data = await t.ok(`mutation { createApiToken(name: "ws-faults") { token } }`, {}, token);
  return data.createApiToken.token;
}

/** Opens a raw socket, sends connection_init with `authToken` and resolves with the close code. */
function closeCodeOnInit(wsUrl: string, authToken: string): Promise<number> {
  return withTimeout(
    new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authToken } })));
      socket.once('message', (data) => reject(new Error(`unexpected message ${String(data)}`)));
      socket.once('close', (code) => resolve(code));
      socket.once('error', reject);
    }),
    10_000,
    'close after connection_init',
  );
}

/**
 * A stock graphql-ws client (default retry policy and backoff) runs `{ me { id } }`; the
 * first close it sees calls `onFirstClose` (the test brings the database back there).
 */
async function stockClientQuery(wsUrl: string, authToken: string, onFirstClose: () => void) {
  const closes: number[] = [];
  const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authToken } });
  client.on('closed', (event) => {
    closes.push((event as { code: number }).code);
    if (closes.length === 1) onFirstClose();
  });
  try {
    const result = await withTimeout(
      new Promise<FormattedExecutionResult<{ me: { id: string } }, unknown>>((resolve, reject) =>
        client.subscribe<{ me: { id: string } }>(
          { query: '{ me { id } }' },
          { next: resolve, error: reject, complete: () => {} },
        ),
      ),
      20_000,
      'the stock client query',
    );
    return { result, closes };
  } finally {
    await client.dispose();
  }
}

describe('[AU1][WS1] a database failure during connection_init is retryable', () => {
  const failures: Array<[string, () => unknown]> = [
    [
      'a connection error from the driver',
      // As the SQL store reports it (adapters/sql/errors.ts): UNAVAILABLE, the driver's error its cause.
      () => storeError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ],
    ['a DomainError UNAVAILABLE', () => new DomainError('UNAVAILABLE', 'The database is unavailable')],
  ];

  it.each(failures)('%s closes the socket with 1013, not 4401', async (_name, failure) => {
    const { store, control } = flakyStore(backend.store, failure);
    const t = await startApp(backend, { store });
    try {
      const user = await signUp(t, 'Flaky');
      const token = await apiToken(t, user.token);
      control.failing = true;
      expect(await closeCodeOnInit(t.wsUrl, token)).toBe(CloseCode.TryAgainLater);
      expect(control.failures).toBe(1);
      control.failing = false;
      // A revoked or unknown token is still final (4401).
      expect(await closeCodeOnInit(t.wsUrl, 'dsh_unknown-token')).toBe(CloseCode.Unauthorized);
    } finally {
      await t.stop();
    }
  });

  it('a stock graphql-ws client with its default retry reconnects and succeeds once the database is back', async () => {
    const { store, control } = flakyStore(backend.store, failures[0]![1]);
    const t = await startApp(backend, { store });
    try {
      const user = await signUp(t, 'Retry');
      const token = await apiToken(t, user.token);
      control.failing = true;
      const { result, closes } = await stockClientQuery(t.wsUrl, token, () => (control.failing = false));
      expect(closes[0]).toBe(CloseCode.TryAgainLater);
      expect(result.errors).toBeUndefined();
      expect(result.data?.me.id).toBe(user.userId);
    } finally {
      await t.stop();
    }
  });

  (DATABASE_URL ? it : it.skip)(
    `PostgreSQL cut behind a TCP proxy: 1013, then the stock client gets through once it is back${
      DATABASE_URL ? '' : ` (skipped: ${NEEDS_DATABASE_URL})`
    }`,
    async () => {
      const url = new URL(DATABASE_URL!);
      const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
      url.host = `127.0.0.1:${proxy.port}`;
      const t = await startApp(backend, { config: { databaseUrl: url.toString() } });
      try {
        const user = await signUp(t, 'Cut');
        const token = await apiToken(t, user.token);
        proxy.cut();
        expect(await closeCodeOnInit(t.wsUrl, token)).toBe(CloseCode.TryAgainLater);
        const { result, closes } = await stockClientQuery(t.wsUrl, token, () => proxy.restore());
        expect(closes[0]).toBe(CloseCode.TryAgainLater);
        expect(result.data?.me.id).toBe(user.userId);
      } finally {
        proxy.restore();
        await t.stop();
        await proxy.close();
      }
    },
  );
});
