/** Readiness under Kubernetes: the database gates it, Redis does not (SUB2: pub/sub is a hint). */
import { createBackend, startApp, type Backend } from './helpers/harness.js';
import { findRedisServerBinary, startRedisServer } from './helpers/redis-server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { waitFor } from './helpers/wait.js';
import { describeWhen, NEEDS_DATABASE_URL, NEEDS_REDIS_BINARY } from './helpers/skip.js';

let backend: Backend;
beforeAll(async () => {
  backend = await createBackend();
});
afterAll(() => backend.close());

const readyz = (url: string) => fetch(`${url}/readyz`).then(async (r) => ({ status: r.status, body: await r.json() }));

const pg = process.env.DATABASE_URL ? new URL(process.env.DATABASE_URL) : null;
const onPostgres = describeWhen(Boolean(pg), NEEDS_DATABASE_URL);
onPostgres('with PostgreSQL (DATABASE_URL)', () => {
  it('/readyz is 503 while the database is unreachable, 200 again when it is back', async () => {
    const proxy = await startTcpProxy({ host: pg!.hostname, port: Number(pg!.port || 5432) });
    const viaProxy = new URL(pg!.href);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const t = await startApp(backend, { config: { databaseUrl: viaProxy.href } });
    try {
      expect((await readyz(t.url)).status).toBe(200);
      proxy.cut();
      await waitFor(async () => (await readyz(t.url)).status === 503, {
        timeout: 15_000,
        interval: 50,
        description: 'unready',
      });
      expect((await readyz(t.url)).body).toMatchObject({ database: 'down' });
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200); // alive, just not ready
      proxy.restore();
      await waitFor(async () => (await readyz(t.url)).status === 200, {
        timeout: 15_000,
        interval: 50,
        description: 'ready again',
      });
    } finally {
      await t.stop();
      await proxy.close();
    }
  });
});

const redisBinary = findRedisServerBinary();
const withRedis = describeWhen(Boolean(redisBinary), NEEDS_REDIS_BINARY);
withRedis('with a private Redis', () => {
  it('losing Redis shows in dash_redis_up but leaves the instance ready', async () => {
    const redis = await startRedisServer();
    const own = await createBackend({ redisUrl: redis.url });
    const t = await startApp(own);
    try {
      const redisUp = async () => /^dash_redis_up (\d)/m.exec(await (await fetch(`${t.url}/metrics`)).text())?.[1];
      await waitFor(async () => (await redisUp()) === '1', { timeout: 10_000, interval: 50, description: 'redis up' });
      await redis.kill();
      await waitFor(async () => (await redisUp()) === '0', {
        timeout: 10_000,
        interval: 50,
        description: 'redis down in metrics',
      });
      expect(await readyz(t.url)).toMatchObject({ status: 200, body: { bus: 'down' } });
      await redis.restart();
      await waitFor(async () => (await redisUp()) === '1', {
        timeout: 15_000,
        interval: 50,
        description: 'redis back',
      });
    } finally {
      await t.stop();
      await own.close();
      await redis.stop();
    }
  });
});
