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
