/**
 * A start() that fails half-way closes what it had opened (database pool, Redis connections,
 * timers) in reverse order and rethrows, so a process that retries or exits does not hold a
 * database connection it will never use.
 *
 * Needs PostgreSQL (DATABASE_URL): its connections to a fresh database are counted in
 * pg_stat_activity. With REDIS_URL, the bus and presence store reach Redis through a TCP proxy
 * whose open connections are counted too.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { buildApp } from '../src/app.js';
import { openStore } from '../src/adapters/create-store.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { waitFor } from './helpers/wait.js';
import { describeWhen, NEEDS_DATABASE_URL } from './helpers/skip.js';

const DATABASE_URL = process.env.DATABASE_URL || undefined;
const REDIS_URL = process.env.REDIS_URL || undefined;
const DB = `start_fail_${randomBytes(4).toString('hex')}`;

let admin: pg.Client;
let freshUrl: string;
let redisProxy: TcpProxy | undefined;
let redisUrl: string | undefined;

const describePg = describeWhen(Boolean(DATABASE_URL), NEEDS_DATABASE_URL);

describePg('a failed start() closes what it opened', () => {
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DB}`);
    const url = new URL(DATABASE_URL!);
    url.pathname = `/${DB}`;
    freshUrl = url.toString();
    // Migrations applied once up front, so the tests can break the settings table.
    const store = await openStore({ databaseUrl: freshUrl });
    await store.close();
    if (REDIS_URL) {
      const redis = new URL(REDIS_URL);
      redisProxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
      redis.host = `127.0.0.1:${redisProxy.port}`;
      redisUrl = redis.toString();
    }
  });

  afterAll(async () => {
    await redisProxy?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await admin.end();
  });

  const connectionsToDb = async () =>
    Number(
      (await admin.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1`, [DB])).rows[0].n as string,
    );

  /** Everything closed: no session on the database, no connection to Redis (well before pg's 10 s idle timeout). */
  async function expectAllClosed() {
    const counts = async () => ({ database: await connectionsToDb(), redis: redisProxy?.connections() ?? 0 });
    try {
      await waitFor(async () => JSON.stringify(await counts()) === '{"database":0,"redis":0}', {
        timeout: 3000,
        interval: 50,
      });
    } catch (error) {
      throw new Error(
        `connections left open: ${JSON.stringify(await counts())}${redisProxy ? ` ${JSON.stringify(redisProxy.describeOpen())}` : ''}`,
        {
          cause: error,
        },
      );
    }
  }

  const appOn = (env: Record<string, string> = {}) =>
    buildApp({
      config: loadConfig({ LOG_LEVEL: 'silent', ...env }, { databaseUrl: freshUrl, redisUrl }),
    });

  /** Runs `sql` on the fresh database, on a connection of its own that is closed at once. */
  async function onFreshDb(sql: string) {
    const client = new pg.Client({ connectionString: freshUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  it('the settings step fails after the store and the bus opened: both are closed and the error rethrown', async () => {
    await onFreshDb(`ALTER TABLE settings RENAME TO settings_away`);
    try {
      const app = appOn();
      await expect(app.start(0, '127.0.0.1')).rejects.toThrow(/settings/);
      await expectAllClosed();
    } finally {
      await onFreshDb(`ALTER TABLE settings_away RENAME TO settings`);
    }
  });

  it('listening fails (port taken) after everything opened: all of it is closed and the error rethrown', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const app = appOn();
      await expect(app.start(taken, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
      await expectAllClosed();
      // Stopping an app whose start failed is harmless.
      await app.stop();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    // The same database serves a new start at once.
    const app = appOn();
    const { port } = await app.start(0, '127.0.0.1');
    try {
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      if (redisProxy) {
        // Each Redis connection names itself (CLIENT SETNAME), so CLIENT LIST shows whose it is.
        const names = () => redisProxy!.describeOpen().map((line) => /setname \$\d+ (dash:[\w:]+)/i.exec(line)?.[1]);
        // A connection that is still opening has sent nothing yet.
        await waitFor(() => !names().includes(undefined), {
          timeout: 3000,
          description: `every Redis connection named: ${JSON.stringify(redisProxy.describeOpen())}`,
        });
        for (const name of ['dash:bus:pub', 'dash:bus:sub', 'dash:presence', 'dash:limits']) {
          expect(names()).toContain(name);
        }
      }
    } finally {
      await app.stop();
    }
    await expectAllClosed();
  });
});
