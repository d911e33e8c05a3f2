/**
 * The Redis LeaseStore (rule LD5): `<prefix>lease:<name>` holds the holder's id with a PX
 * expiry. Acquire and release are scripts, so a renewal never extends someone else's lease
 * and a release never deletes one taken over meanwhile. Redis's clock decides expiry. Each
 * script names one key, so it runs on one Redis and on a Redis Cluster alike (`url` may be
 * `redis-cluster://...`, see adapters/redis-client.ts).
 *
 * Outages: a command fails after `commandTimeoutMs` (1 s by default), after one failed
 * reconnect of one server, or when a cluster is not ready within that time; it is never
 * re-sent later. The caller counts that as not acquired, and a holder that cannot renew
 * loses the lease when it expires, as a dead one would.
 */
import type { LeaseStore } from '../ports/lease-store.js';
import { closeRedisClient, createRedisClient, sendWithin } from './redis-client.js';

export interface RedisLeaseStoreOptions {
  url: string;
  /** Prepended to every key. Default `dash:`. */
  prefix?: string;
  commandTimeoutMs?: number;
  onError?: (error: unknown) => void;
}

const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export function createRedisLeaseStore(options: RedisLeaseStoreOptions): LeaseStore & { close(): Promise<void> } {
  const prefix = options.prefix ?? 'dash:';
  const timeoutMs = options.commandTimeoutMs ?? 1000;
  const client = createRedisClient(options.url, {
    node: {
      connectionName: 'dash:leases',
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 1,
      autoResendUnfulfilledCommands: false,
      disconnectTimeout: 100,
    },
    // A command whose connection dropped may have run: fail it rather than re-send it.
    cluster: { retryDelayOnFailover: 0 },
  });
  let closing: Promise<void> | null = null;
  // A cluster reports each node's errors apart ('node error'): several messages per outage.
  const reported = new Set<string>();
  const report = (error: Error) => {
    if (closing || reported.has(error.message)) return;
    if (reported.size >= 20) reported.clear();
    reported.add(error.message);
    (options.onError ?? console.error)(error);
  };
  client.on('error', report);
  client.on('node error', report);
  client.on('ready', () => reported.clear());
  const key = (name: string) => `${prefix}lease:${name}`;
  /** Sent only once the connection can route it (a cluster would queue it for later). */
  const evaluate = async (script: string, name: string, ...args: Array<string | number>) => {
    if (closing) throw new Error('lease store is closed');
    return sendWithin(client, timeoutMs, () => client.eval(script, 1, key(name), ...args));
  };
  return {
    async acquireLease(name, holder, ttlMs) {
      const result = await evaluate(ACQUIRE, name, holder, Math.max(1, Math.round(ttlMs)));
      return result === 1;
    },
    async releaseLease(name, holder) {
      await evaluate(RELEASE, name, holder);
    },
    close() {
      closing ??= closeRedisClient(client);
      return closing;
    },
  };
}
