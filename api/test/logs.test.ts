import { Writable } from 'node:stream';
import { createLogger } from '../src/logger.js';
import { loadConfig } from '../src/config.js';
import { buildApp } from '../src/app.js';
import { createBackend, type Backend } from './helpers/harness.js';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';

let backend: Backend;
beforeAll(async () => {
  backend = await createBackend();
});
afterAll(() => backend.close());

it('logs are JSON lines with request ids, and never carry tokens or passwords', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const config = loadConfig({ LOG_LEVEL: 'debug' }, { databaseUrl: backend.databaseUrl, redisUrl: backend.redisUrl });
  const app = buildApp({
    config,
    logger,
    store: backend.databaseUrl ? undefined : backend.store,
    bus: backend.newBus(),
    presenceStore: backend.newPresenceStore(),
  });
  const { port } = await app.start(0, '127.0.0.1');
  try {
    const password = `Secret-${Date.now()}-pw`;
    const post = (query: string, variables: object, token?: string) =>
      fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      }).then((r) => r.json());
    const email = `log-${Date.now()}@example.com`;
    const { data } = await post(
      `mutation($e: String!, $p: String!) { signUp(email: $e, name: "Log", password: $p) { accessToken refreshToken } }`,
      { e: email, p: password },
    );
    const { accessToken, refreshToken } = data.signUp;
    await post(`mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { accessToken } }`, {
      e: email,
      p: password,
    });
    await post(`{ me { id } }`, {}, accessToken);
    await post(`{ me { id } }`, {}, 'forged.token.value');
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authToken: accessToken },
      retryAttempts: 0,
    });
    await new Promise((resolve, reject) =>
      client.subscribe({ query: '{ me { id } }' }, { next: resolve, error: reject, complete: () => {} }),
    );
    await client.dispose();

    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      const entry = JSON.parse(line);
      expect(typeof entry.level).toBe('number');
      expect(typeof entry.msg).toBe('string');
    }
    expect(lines.some((l) => JSON.parse(l).msg === 'graphql execute' && JSON.parse(l).requestId)).toBe(true);
    const all = lines.join('\n');
    for (const secret of [password, accessToken, refreshToken, accessToken.split('.')[2]])
      expect(all).not.toContain(secret);
  } finally {
    await app.stop();
  }
});
