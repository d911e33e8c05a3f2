/**
 * Shared limits (issue #17): with Redis configured, the per-user mutation budget,
 * RATE_LIMIT_POINTS (LD1) and MAX_SOCKETS_PER_USER are spent once across instances, on one
 * redis-server and on a Redis Cluster; a Redis that is down or hangs never fails a request
 * (the call is counted on its instance). Every Redis here is private to the test.
 */
import net from 'node:net';
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import { createRedisLimits } from '../src/adapters/redis-limits.js';
import { createRedisClient } from '../src/adapters/redis-client.js';
import type { SharedLimits } from '../src/ports/shared-limits.js';
import { PruningRateLimitStore } from '../src/transport/guards.js';
import { createPointBudget } from '../src/services/point-budget.js';
import {
  createBackend,
  createDashboard,
  errorCode,
  signUp,
  startApp,
  type Backend,
  type TestApp,
} from './helpers/harness.js';
import { startRedisServer, findRedisServerBinary, type RedisServerHandle } from './helpers/redis-server.js';
import { startRedisCluster, type RedisClusterHandle } from './helpers/redis-cluster.js';
import { describeWhen, NEEDS_REDIS_BINARY } from './helpers/skip.js';
import { waitFor, withTimeout } from './helpers/wait.js';

const describeRedis = describeWhen(findRedisServerBinary() !== null, NEEDS_REDIS_BINARY);

const PUSH = `mutation($d: ID!, $p: [PointInput!]!) { pushPoints(dashboardId: $d, points: $p) { accepted } }`;
const CREATE = `mutation { createDashboard(title: "limits") { id } }`;
const LIMITS = { RATE_LIMIT_MUTATIONS: '6', RATE_LIMIT_POINTS: '100', MAX_SOCKETS_PER_USER: '2' };

/** What a Redis count counts with while Redis does not answer, as the app gives it. */
const local = () => ({ rateLimitStore: new PruningRateLimitStore(60_000), points: createPointBudget(100, Date.now) });

const points = (n: number) => Array.from({ length: n }, (_, i) => ({ series: 'load', t: Date.now() - i, v: i }));

/** Every raw socket a test opened, terminated after the file. */
const sockets = new Set<WebSocket>();
afterAll(() => {
  for (const s of sockets) s.terminate();
});

/** Opens a socket and sends connection_init: 'ack', or the close code it was refused with. */
function connect(app: TestApp, token: string): Promise<{ socket: WebSocket; outcome: 'ack' | number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(app.wsUrl, 'graphql-transport-ws');
    sockets.add(socket);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authToken: token } })));
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve({ socket, outcome: 'ack' });
    });
    socket.once('close', (code) => resolve({ socket, outcome: code }));
    socket.once('error', reject);
  });
}

/** Closes `socket` and waits until the server has seen it close (its close frame came back). */
async function hangUp(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.close(1000);
  await closed;
  sockets.delete(socket);
}

/** `dash_limit_fallbacks_total` of one instance, over every limit. */
async function fallbacks(app: TestApp): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  return [...text.matchAll(/^dash_limit_fallbacks_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

interface Target {
  name: string;
  start(): Promise<{ url: string; kill(): Promise<void>; restart?(): Promise<void>; stop(): Promise<void> }>;
}

const targets: Target[] = [
  {
    name: 'one redis-server',
    async start() {
      const server: RedisServerHandle = await startRedisServer();
      return { url: server.url, kill: () => server.kill(), restart: () => server.restart(), stop: () => server.stop() };
    },
  },
  {
    name: 'a Redis Cluster',
    async start() {
      const cluster: RedisClusterHandle = await startRedisCluster({ replicas: 0 });
      return {
        url: cluster.url,
        // Every master (a key on each), so no count is left in Redis, as with one server.
        async kill() {
          const keyOn = new Map<number, string>(); // master port -> a key it serves
          for (let i = 0; keyOn.size < 3; i++) {
            const port = await cluster.masterOf(`k${i}`);
            if (!keyOn.has(port)) keyOn.set(port, `k${i}`);
          }
          for (const key of keyOn.values()) await cluster.killMasterOf(key);
        },
        stop: () => cluster.stop(),
      };
    },
  },
];

for (const target of targets) {
  describeRedis(`[SO3] shared limits on ${target.name}`, () => {
    let redis: Awaited<ReturnType<Target['start']>>;
    let backend: Backend;
    let a: TestApp;
    let b: TestApp;

    beforeAll(async () => {
      redis = await target.start();
      backend = await createBackend({ redisUrl: redis.url });
      a = await startApp(backend, { env: LIMITS });
      b = await startApp(backend, { env: LIMITS });
    });

    afterAll(async () => {
      // The apps and their connections first: Redis must outlive its clients' goodbyes.
      await a?.stop();
      await b?.stop();
      await backend?.close();
      await redis?.stop();
    });

    it('[SO3] spends the per-user mutation budget once across two instances (RATE_LIMITED with retryAfter)', async () => {
      const user = await signUp(a, 'Mutations');
      for (const app of [a, b, a, b, a, b]) expect(errorCode(await app.gql(CREATE, {}, user.token))).toBeUndefined();
      for (const app of [a, b]) {
        const refused = await app.gql(CREATE, {}, user.token);
        expect(errorCode(refused)).toBe('RATE_LIMITED');
        expect(refused.errors?.[0]?.extensions?.retryAfter).toBe(60);
      }
      // Another user's budget is untouched.
      const other = await signUp(b, 'Other');
      expect(errorCode(await b.gql(CREATE, {}, other.token))).toBeUndefined();
    });

    it('[LD1] spends RATE_LIMIT_POINTS once across two instances and says when the request fits', async () => {
      const user = await signUp(a, 'Points');
      const board = await createDashboard(a, user.token);
      expect((await a.ok(PUSH, { d: board, p: points(60) }, user.token)).pushPoints.accepted).toBe(60);
      expect((await b.ok(PUSH, { d: board, p: points(40) }, user.token)).pushPoints.accepted).toBe(40);
      for (const app of [a, b]) {
        const refused = await app.gql(PUSH, { d: board, p: points(1) }, user.token);
        expect(errorCode(refused)).toBe('RATE_LIMITED');
        const retryAfter = refused.errors?.[0]?.extensions?.retryAfter as number;
        expect(retryAfter).toBeGreaterThanOrEqual(55);
        expect(retryAfter).toBeLessThanOrEqual(60);
        expect(refused.errors?.[0]?.message).toBe(
          `Too many points: the limit is 100 a minute. Retry after ${retryAfter} seconds.`,
        );
      }
    });

    it('[SO3] caps sockets per user across two instances (4429); a closed socket gives its place to the other instance', async () => {
      const user = await signUp(a, 'Sockets');
      const first = await connect(a, user.token);
      const second = await connect(b, user.token);
      expect([first.outcome, second.outcome]).toEqual(['ack', 'ack']);
      expect((await connect(a, user.token)).outcome).toBe(4429);
      expect((await connect(b, user.token)).outcome).toBe(4429);

      await hangUp(first.socket); // open on A
      // Its release reaches Redis on A's connection while B asks on its own: retry until seen.
      const third = await waitFor(
        async () => {
          const attempt = await connect(b, user.token);
          return attempt.outcome === 'ack' ? attempt : null;
        },
        { description: 'a place on B once the socket on A closed', interval: 50 },
      );
      expect((await connect(a, user.token)).outcome).toBe(4429); // two open again: B's two
      await hangUp(second.socket);
      await hangUp(third.socket);
    });

    it('keeps serving when Redis dies, counting on each instance, and says so in dash_limit_fallbacks_total', async () => {
      const user = await signUp(a, 'Outage');
      const board = await createDashboard(a, user.token); // one of the six, in Redis
      const before = await fallbacks(a);
      await redis.kill();

      // Counted on A alone now, from an empty count: six there, then refused.
      for (let i = 0; i < 6; i++) expect(errorCode(await a.gql(CREATE, {}, user.token))).toBeUndefined();
      expect(errorCode(await a.gql(CREATE, {}, user.token))).toBe('RATE_LIMITED');
      expect(errorCode(await b.gql(CREATE, {}, user.token))).toBeUndefined(); // B counts alone
      expect((await a.ok(PUSH, { d: board, p: points(10) }, user.token)).pushPoints.accepted).toBe(10);
      const socket = await withTimeout(connect(b, user.token), 5000, 'a socket while Redis is down');
      expect(socket.outcome).toBe('ack');
      await hangUp(socket.socket);
      expect(await fallbacks(a)).toBeGreaterThan(before);

      if (!redis.restart) return;
      // Back: counted in Redis again (a fresh, empty Redis: no persistence in tests).
      await redis.restart();
      const probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await probe.connect();
        await waitFor(
          async () => {
            await a.gql(PUSH, { d: board, p: points(1) }, user.token);
            return (await probe.keys(`${backend.limitsKeyPrefix}points:${user.userId}`)).length === 1;
          },
          { description: 'points counted in Redis after its restart', timeout: 10_000, interval: 100 },
        );
      } finally {
        probe.disconnect();
      }
    });
  });

  describeRedis(`the Redis socket count on ${target.name}`, () => {
    let redis: Awaited<ReturnType<Target['start']>>;
    const opened: SharedLimits[] = [];
    const open = (options: { socketTtlMs: number; socketRefreshMs: number }) => {
      const limits = createRedisLimits({
        url: redis.url,
        prefix: 'test:',
        pointsPerMinute: 100,
        now: Date.now,
        local: local(),
        rateKeep: 10,
        logger: { warn: () => {}, info: () => {} },
        ...options,
      });
      opened.push(limits);
      return limits;
    };

    beforeAll(async () => {
      redis = await target.start();
    });
    afterAll(async () => {
      for (const limits of opened) await limits.close();
      await redis?.stop();
    });

    it("drops a crashed instance's sockets after their TTL and keeps a live instance's refreshed", async () => {
      const ttl = { socketTtlMs: 400, socketRefreshMs: 100 };
      const live = open(ttl);
      const other = open(ttl);
      const probe = createRedisClient(redis.url, { node: { maxRetriesPerRequest: 1 } });
      const redisNow = async () => {
        const [seconds, micros] = (await probe.time()) as [number, number];
        return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      };
      try {
        // A socket as a crashed instance leaves it: counted, never refreshed, never released.
        const crashedAt = await redisNow();
        await probe.zadd('test:sockets:crash', crashedAt + 400, 'dead-socket');
        expect(await live.sockets.admit('crash', 'live-1', 2)).toBe(true);
        expect(await other.sockets.admit('crash', 'other-1', 2)).toBe(false); // the dead one still counts
        await waitFor(() => other.sockets.admit('crash', 'other-1', 2), {
          description: "the dead socket's place",
          interval: 50,
        });
        // live-1 is refreshed past twice its first expiry: it would have expired long ago.
        await waitFor(async () => Number(await probe.zscore('test:sockets:crash', 'live-1')) > crashedAt + 1200, {
          description: 'live-1 refreshed',
          interval: 50,
        });
        expect(await other.sockets.admit('crash', 'other-2', 2)).toBe(false); // the cap holds
        live.sockets.release('crash', 'live-1');
        await waitFor(() => other.sockets.admit('crash', 'other-2', 2), { description: 'the released place' });
      } finally {
        probe.disconnect();
      }
    });

    it('merges what two instances write for one identity (no lost update)', async () => {
      const one = open({ socketTtlMs: 30_000, socketRefreshMs: 10_000 });
      const two = open({ socketTtlMs: 30_000, socketRefreshMs: 10_000 });
      const identity = { contextIdentity: 'user:merge', fieldIdentity: 'createDashboard' };
      const now = Date.now();
      // Both read the same (empty) history, then each writes it back with its own call.
      expect(await one.rateLimitStore.getForIdentity(identity)).toEqual([]);
      expect(await two.rateLimitStore.getForIdentity(identity)).toEqual([]);
      await one.rateLimitStore.setForIdentity(identity, [now], 60_000);
      await two.rateLimitStore.setForIdentity(identity, [now + 1], 60_000);
      expect(await one.rateLimitStore.getForIdentity(identity)).toEqual([now, now + 1]);
      // Timestamps out of the window are dropped; the newest rateKeep (10) are kept.
      const many = Array.from({ length: 12 }, (_, i) => now + 10 + i);
      await one.rateLimitStore.setForIdentity(identity, [now - 61_000, ...many], 60_000);
      expect(await two.rateLimitStore.getForIdentity(identity)).toEqual(many.slice(2));
    });
  });
}

describe('a Redis that accepts connections and never answers', () => {
  let blackHole: net.Server;
  const held = new Set<net.Socket>();
  let limits: SharedLimits;
  const warnings: string[] = [];
  const fellBack: string[] = [];

  beforeAll(async () => {
    blackHole = net.createServer((socket) => {
      held.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const { port } = blackHole.address() as net.AddressInfo;
    limits = createRedisLimits({
      url: `redis://127.0.0.1:${port}`,
      pointsPerMinute: 100,
      now: Date.now,
      local: local(),
      rateKeep: 10,
      logger: { warn: (_: unknown, message?: string) => void warnings.push(String(message)), info: () => {} },
      onFallback: (limit) => fellBack.push(limit),
    });
  });
  afterAll(async () => {
    await limits.close();
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => blackHole.close(() => resolve()));
  });

  it('counts each call on this instance, within the command timeout, and logs the outage once', async () => {
    const started = Date.now();
    await limits.points.take('u', 60);
    await expect(limits.points.take('u', 50)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await limits.points.take('u', 40);
    expect(await limits.sockets.admit('u', 's1', 1)).toBe(true);
    expect(await limits.sockets.admit('u', 's2', 1)).toBe(false);
    const identity = { contextIdentity: 'user:u', fieldIdentity: 'createDashboard' };
    await limits.rateLimitStore.setForIdentity(identity, [started], 60_000);
    expect(await limits.rateLimitStore.getForIdentity(identity)).toEqual([started]);
    // One wait for the first call (300 ms), the rest counted here at once.
    expect(Date.now() - started).toBeLessThan(1500);
    expect(fellBack).toEqual(['points', 'points', 'points', 'sockets', 'sockets', 'rate', 'rate']);
    expect(warnings).toHaveLength(1);
  });
});
