/**
 * One Redis, or a Redis Cluster (issue #17), from REDIS_URL:
 * - `redis://[user:password@]host:port[/db]`, `rediss://...` (TLS): one server.
 * - `redis-cluster://[user:password@]host:port,host:port,...` (or `rediss-cluster://` for
 *   TLS): a cluster; the listed nodes are seeds, the client discovers the rest and follows
 *   MOVED/ASK redirections and failovers.
 *
 * Every Redis adapter (bus, presence, leases, shared limits) makes its connections here, so
 * each works on both. On a cluster a command that names several keys must keep them in one
 * slot: key names put the part that groups them in braces (a hash tag), e.g.
 * `dash:{d:<dashboardId>}:presence`.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'cluster';
      nodes: Array<{ host: string; port: number }>;
      username?: string;
      password?: string;
      tls: boolean;
    };

export type RedisClient = Redis | Cluster;

export const REDIS_URL_SCHEMES = ['redis:', 'rediss:', 'redis-cluster:', 'rediss-cluster:'] as const;

/** Reads REDIS_URL; throws a TypeError naming what is wrong. */
export function parseRedisUrl(url: string): RedisTarget {
  const scheme = /^([a-z-]+:)\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'redis:' || scheme === 'rediss:') return { kind: 'single', url };
  if (scheme !== 'redis-cluster:' && scheme !== 'rediss-cluster:') {
    throw new TypeError(`expected one of ${REDIS_URL_SCHEMES.join(' ')} (got ${scheme ?? 'no scheme'})`);
  }
  const rest = url.slice(scheme.length + 2);
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? rest.slice(0, at) : '';
  const hostList = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/+$/, '');
  if (/[/?#]/.test(hostList)) {
    throw new TypeError('a cluster URL names nodes only (host:port,host:port), no database, path or query');
  }
  const nodes = hostList.split(',').map((part) => {
    const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+):(\d{1,5})$/i.exec(part.trim());
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) throw new TypeError(`"${part}" is not host:port`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
  if (nodes.length === 0 || (nodes.length === 1 && !nodes[0]))
    throw new TypeError('a cluster URL needs at least one host:port');
  let username: string | undefined;
  let password: string | undefined;
  if (credentials) {
    const colon = credentials.indexOf(':');
    const user = colon >= 0 ? credentials.slice(0, colon) : '';
    const pass = colon >= 0 ? credentials.slice(colon + 1) : credentials;
    username = user ? decodeURIComponent(user) : undefined;
    password = pass ? decodeURIComponent(pass) : undefined;
  }
  return { kind: 'cluster', nodes, username, password, tls: scheme === 'rediss-cluster:' };
}

/** Whether REDIS_URL names a cluster. */
export function isClusterUrl(url: string): boolean {
  return parseRedisUrl(url).kind === 'cluster';
}

export interface RedisClientOptions {
  /** Options of each connection (to the one server, or to every cluster node). */
  node: RedisOptions;
  /** Cluster-only options (ignored for one server). */
  cluster?: Omit<ClusterOptions, 'redisOptions'>;
}

/**
 * Opens a client for `url`. For a cluster, `node.retryStrategy` becomes the cluster's
 * `clusterRetryStrategy` and `node.enableOfflineQueue` the cluster's own queue setting, as
 * ioredis keeps those on the Cluster object, not on its node connections.
 */
export function createRedisClient(url: string, options: RedisClientOptions): RedisClient {
  const target = parseRedisUrl(url);
  if (target.kind === 'single') return new Redis(url, options.node);
  const { retryStrategy, enableOfflineQueue, maxRetriesPerRequest, ...node } = options.node;
  return new Cluster(target.nodes, {
    clusterRetryStrategy: retryStrategy ? (times) => retryStrategy(times) ?? null : undefined,
    enableOfflineQueue: enableOfflineQueue ?? true,
    // A failover takes a node timeout or two: keep re-trying a command that met CLUSTERDOWN
    // or a dead master for a moment instead of failing it at once.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    ...options.cluster,
    redisOptions: {
      ...node,
      maxRetriesPerRequest,
      username: target.username,
      password: target.password,
      ...(target.tls ? { tls: {} } : {}),
    },
  });
}

/**
 * For adapters that fail fast: runs `command` (which sends one command or transaction on
 * `client`) once the client can route it, and fails after `timeoutMs` in all (the command may
 * still have run). A Cluster that is (re)connecting would queue the command in its own
 * offline queue with no time limit and send it whenever it is back, however late: this waits
 * for it to be ready instead, at most `timeoutMs`, and never hands it a command before.
 */
export async function sendWithin<T>(client: RedisClient, timeoutMs: number, command: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  await whenRedisReady(client, timeoutMs);
  return within(command(), Math.max(1, deadline - Date.now()), `Redis command not answered within ${timeoutMs} ms`);
}

/**
 * Resolves once `client` can route commands, or rejects after `timeoutMs` or when it has
 * ended. One server resolves at once (its offline queue is bounded by `maxRetriesPerRequest`
 * and `commandTimeout`).
 */
export async function whenRedisReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (!client.isCluster) return;
  const status = () => client.status; // read afresh after every wait
  const deadline = Date.now() + timeoutMs;
  while (status() !== 'ready') {
    if (status() === 'end') throw new Error('Redis Cluster connection has ended');
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`Redis Cluster not ready within ${timeoutMs} ms (${status()})`);
    await within(nextReadyOrEnd(client as Cluster), left).catch(() => {});
  }
}

// One listener per cluster however many callers wait (cluster -> next 'ready' or 'end').
const readyWaits = new WeakMap<Cluster, Promise<void>>();
function nextReadyOrEnd(cluster: Cluster): Promise<void> {
  let wait = readyWaits.get(cluster);
  if (!wait) {
    wait = new Promise<void>((resolve) => {
      const done = () => {
        cluster.off('ready', done);
        cluster.off('end', done);
        readyWaits.delete(cluster);
        resolve();
      };
      cluster.on('ready', done);
      cluster.on('end', done);
    });
    readyWaits.set(cluster, wait);
  }
  return wait;
}

/**
 * Closes `client` and resolves once nothing of it is left running but sockets finishing
 * their close (each destroyed after `disconnectTimeout` at the latest; nothing reconnects),
 * within about 2 s whatever state it is in: QUIT when connected (replies still pending
 * arrive first), else disconnect().
 */
export function closeRedisClient(client: RedisClient): Promise<void> {
  return client.isCluster ? closeCluster(client as Cluster) : closeServer(client as Redis);
}

async function closeServer(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    const ended = nextEvent(redis, 'end');
    try {
      await within(redis.quit(), 1000, 'QUIT not answered');
      await within(ended, 1000, 'connection not closed after QUIT');
      return;
    } catch {
      // fall through to disconnect()
    }
  }
  const status = redis.status;
  if (status === 'end') return;
  // Between reconnect attempts there is no live socket: disconnect() cancels the retry timer
  // and emits no 'end', but still arms its disconnectTimeout timer on the dead socket.
  const betweenAttempts = status === 'reconnecting' || status === 'close';
  const ended = betweenAttempts ? Promise.resolve() : nextEvent(redis, 'end');
  redis.disconnect();
  await within(ended, 1000, 'connection not closed').catch(() => {});
  // Outlive that timer, so nothing of the client is left running when this resolves.
  if (betweenAttempts) await sleep((redis.options.disconnectTimeout ?? 2000) + 10);
}

/**
 * A Cluster's 'end' says little: it comes once its node connections drained, but not at all
 * when it is closed between reconnect attempts or before it knew any node. What holds
 * sockets and timers are the node connections (they do not reconnect on their own; the
 * cluster replaces them), so this waits for each of those to end, and then for a slot
 * refresh still asking a node (on a connection of its own) to finish.
 */
async function closeCluster(cluster: Cluster): Promise<void> {
  const nodes = cluster.nodes('all');
  const nodesEnded = Promise.all(nodes.map((node) => (node.status === 'end' ? undefined : nextEvent(node, 'end'))));
  let quit = false;
  if (cluster.status === 'ready') {
    try {
      await within(cluster.quit(), 1000, 'QUIT not answered');
      await within(nodesEnded, 1000, 'node connections not closed after QUIT');
      quit = true;
    } catch {
      // fall through to disconnect()
    }
  }
  if (!quit) {
    if (cluster.status !== 'end') cluster.disconnect();
    await within(nodesEnded, 1000, 'node connections not closed').catch(() => {});
  }
  // With no node left this joins the refresh in flight, if any, else returns at once (with a
  // node left it would start one).
  if (cluster.nodes('all').length > 0) return;
  await within(new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve())), 1000).catch(() => {});
}

function nextEvent(emitter: Redis, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`, or a rejection after `ms`; a late rejection of `promise` is ignored. */
export function within<T>(promise: Promise<T>, ms: number, message = `not settled within ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  promise.catch(() => {});
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
