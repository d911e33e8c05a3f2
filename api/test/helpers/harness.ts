/**
 * Boots the real app for tests (CONVENTIONS.md 9): port 0, real HTTP, real graphql-ws.
 *
 * Backend: PostgreSQL when DATABASE_URL is set (the suites then run against the real
 * services; REDIS_URL likewise switches the bus to Redis), else PGlite in memory and the
 * memory bus. `createBackend()` gives what several app instances share, so one test can run
 * two instances on one database.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp, type App } from '../../src/app.js';
import { openStore } from '../../src/adapters/create-store.js';
import { pgliteTemplate } from './pglite-template.js';
import { createMemoryEventBus } from '../../src/adapters/memory-event-bus.js';
import { createRedisEventBus } from '../../src/adapters/redis-event-bus.js';
import type { EventBus } from '../../src/ports/event-bus.js';
import type { Store } from '../../src/ports/store.js';
import type { LeaseStore } from '../../src/ports/lease-store.js';
import type { PresenceStore } from '../../src/ports/presence-store.js';
import { createMemoryPresenceStore } from '../../src/adapters/memory-presence-store.js';
import { createRedisPresenceStore } from '../../src/adapters/redis-presence-store.js';
import type { Clock } from '../../src/ports/clock.js';
import { EVENTS } from './events-query.js';

export interface Backend {
  /** The store instances share (PGlite: one object; PostgreSQL: one per instance is made by the app). */
  store: Store;
  /** A bus for one instance: on Redis, its own connections; in memory, the shared bus. */
  newBus(): EventBus;
  /** A presence store for one instance: on Redis its own connection; in memory, shared. */
  newPresenceStore(): PresenceStore;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** The instances' shared limits in Redis: their own keys, never another backend's counts. */
  limitsKeyPrefix: string;
  close(): Promise<void>;
}

export async function createBackend(options: { redisUrl?: string } = {}): Promise<Backend> {
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const redisUrl = options.redisUrl ?? (process.env.REDIS_URL || undefined);
  const store = await openStore(
    databaseUrl ? { databaseUrl } : { dataDir: 'memory://', loadDataDir: await pgliteTemplate() },
  );
  const buses: EventBus[] = [];
  const shared = createMemoryEventBus();
  const sharedPresence = createMemoryPresenceStore();
  const presenceStores: PresenceStore[] = [];
  const prefix = `test-${randomUUID().slice(0, 8)}:`;
  const close = once(async () => {
    await Promise.all(buses.map((b) => b.close()));
    await Promise.all(presenceStores.map((p) => p.close()));
    await shared.close();
    await store.close();
  });
  started.push(close);
  return {
    store,
    databaseUrl,
    redisUrl,
    limitsKeyPrefix: `${prefix}limit:`,
    newBus() {
      const bus = redisUrl ? createRedisEventBus({ url: redisUrl, onError: () => {} }) : shared;
      if (redisUrl) buses.push(bus);
      return bus;
    },
    newPresenceStore() {
      if (!redisUrl) return sharedPresence;
      const store = createRedisPresenceStore({ url: redisUrl, prefix, onError: () => {} });
      presenceStores.push(store);
      return store;
    },
    close,
  };
}

export interface TestApp {
  app: App;
  url: string;
  wsUrl: string;
  /** POSTs a GraphQL operation. */
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<{ data?: T; errors?: GqlError[] }>;
  /** Like gql, but throws on errors and returns data. */
  ok<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<T>;
  wsClient(token: string | undefined, options?: Partial<ClientOptions>): Client;
  stop(): Promise<void>;
}

export interface GqlError {
  message: string;
  extensions?: { code?: string; [k: string]: unknown };
  path?: Array<string | number>;
}

const clients = new Set<Client>();

/**
 * Everything the test file started (backends, apps), disposed of after its tests, newest
 * first: a file calls createBackend and startApp and never needs its own afterAll to stop
 * them. Stopping one earlier (a test that stops an instance on purpose) is fine: each stops
 * once.
 */
const started: Array<() => Promise<void>> = [];
afterAll(async () => {
  while (started.length > 0) await started.pop()!();
});
const once = (fn: () => Promise<void>) => {
  let done: Promise<void> | null = null;
  return () => (done ??= fn());
};

/** Starts an app on port 0 over the backend (a fresh one when omitted). */
export async function startApp(
  backend: Backend,
  options: {
    config?: Partial<Config>;
    clock?: Clock;
    bus?: EventBus;
    env?: Record<string, string>;
    store?: Store;
    leases?: LeaseStore;
  } = {},
): Promise<TestApp> {
  const config = loadConfig(
    // Many users sign up from 127.0.0.1 in one test file: raise the per-IP auth limit
    // (tests of the limits themselves set it back through `env`).
    { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', RATE_LIMIT_AUTH_PER_IP: '10000', ...options.env },
    {
      databaseUrl: backend.databaseUrl,
      redisUrl: backend.redisUrl,
      limitsKeyPrefix: backend.limitsKeyPrefix,
      ...options.config,
    },
  );
  // PostgreSQL: each instance has its own pool, like separate processes. PGlite: shared.
  const app = buildApp({
    config,
    clock: options.clock,
    store: options.store ?? (backend.databaseUrl ? undefined : backend.store),
    bus: options.bus ?? backend.newBus(),
    presenceStore: backend.newPresenceStore(),
    leases: options.leases,
  });
  const { port } = await app.start(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port}/graphql`;
  const mine = new Set<Client>();
  const stop = once(async () => {
    await Promise.all([...mine].map((c) => c.dispose()));
    await app.stop();
  });
  started.push(stop);

  async function gql(query: string, variables?: Record<string, unknown>, token?: string) {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: any; errors?: GqlError[] };
  }

  return {
    app,
    url,
    wsUrl,
    gql,
    async ok(query, variables, token) {
      const result = await gql(query, variables, token);
      if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
    wsClient(token, clientOptions = {}) {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: token === undefined ? {} : { authToken: token },
        retryAttempts: 0,
        lazy: true,
        ...clientOptions,
      });
      clients.add(client);
      mine.add(client);
      return client;
    },
    stop,
  };
}

/**
 * `Promise.all(items.map(fn))` that keeps the length in the type: `const [a, b] = await
 * mapAll(['A', 'B'], (n) => signUp(t, n))` gives two users, not two maybe-undefined ones.
 */
export function mapAll<const N extends readonly unknown[], R>(
  items: N,
  fn: (item: N[number]) => Promise<R>,
): Promise<{ -readonly [K in keyof N]: R }> {
  return Promise.all(items.map(fn)) as Promise<{ -readonly [K in keyof N]: R }>;
}

/** Signs up a fresh user; returns the token and user id. */
export async function signUp(
  t: TestApp,
  name = 'User',
): Promise<{ token: string; refreshToken: string; userId: string; email: string }> {
  const email = `${name.toLowerCase().replace(/\W/g, '')}-${randomUUID().slice(0, 8)}@example.com`;
  const data = await t.ok(
    `mutation($e: String!, $n: String!, $p: String!) { signUp(email: $e, name: $n, password: $p) { accessToken refreshToken user { id } } }`,
    { e: email, n: name, p: 'correct-horse-9' },
  );
  return { token: data.signUp.accessToken, refreshToken: data.signUp.refreshToken, userId: data.signUp.user.id, email };
}

export async function createDashboard(t: TestApp, token: string, title = 'Board'): Promise<string> {
  const data = await t.ok(`mutation($t: String!) { createDashboard(title: $t) { id } }`, { t: title }, token);
  return data.createDashboard.id;
}

export const errorCode = (result: { errors?: GqlError[] }) => result.errors?.[0]?.extensions?.code;

export { EVENTS };

export interface EventLog {
  events: any[];
  errors: unknown[];
  completed: boolean;
  /** Resolves when `predicate` holds for the events so far. */
  until(predicate: (events: any[]) => boolean, timeout?: number): Promise<any[]>;
  dispose(): void;
}

/** Subscribes to dashboardEvents and records everything that arrives. */
export function subscribeEvents(client: Client, variables: { d: string; c: string; f?: number | null }): EventLog {
  return subscribeLog(client, EVENTS, variables, 'dashboardEvents');
}

/** Subscribes to `query` and records every `data[field]` that arrives. */
export function subscribeLog(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  field: string,
): EventLog {
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const check of [...waiters]) check();
  };
  const log: EventLog = {
    events: [],
    errors: [],
    completed: false,
    until(predicate, timeout = 10_000) {
      return new Promise((resolve, reject) => {
        const finish = (error?: Error) => {
          waiters.delete(check);
          clearTimeout(limit);
          if (error) reject(error);
          else resolve(log.events);
        };
        const check = () => {
          if (predicate(log.events)) finish();
          else if (log.errors.length > 0 || log.completed) {
            finish(new Error(`stream ended: ${JSON.stringify({ errors: log.errors, last: log.events.slice(-5) })}`));
          }
        };
        const limit = setTimeout(
          () => finish(new Error(`timed out; last events ${JSON.stringify(log.events.slice(-5))}`)),
          timeout,
        );
        waiters.add(check);
        check();
      });
    },
    dispose: () => dispose(),
  };
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) log.errors.push(...result.errors);
        else log.events.push((result.data as any)[field]);
        changed();
      },
      error: (error) => {
        log.errors.push(error);
        changed();
      },
      complete: () => {
        log.completed = true;
        changed();
      },
    },
  );
  return log;
}

export const SUBMIT = `mutation($d: ID!, $c: ID!, $s: Int!, $b: Int!, $op: JSON!) {
  submitOperation(dashboardId: $d, clientId: $c, seq: $s, baseVersion: $b, op: $op) { version op duplicate }
}`;
