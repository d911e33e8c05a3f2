/**
 * The Redis LeaseStore (rule LD5): `<prefix>lease:<name>` holds the holder's id with a PX
 * expiry. Acquire and release are scripts, so a renewal never extends someone else's lease
 * and a release never deletes one taken over meanwhile. Redis's clock decides expiry.
 *
 * Outages: a command fails after `commandTimeoutMs` (1 s by default) or one failed reconnect;
 * the caller counts that as not acquired, and a holder that cannot renew loses the lease
 * when it expires, as a dead one would.
 */
import { Redis } from 'ioredis';
import type { LeaseStore } from '../ports/lease-store.js';

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
  const redis = new Redis(options.url, {
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    commandTimeout: options.commandTimeoutMs ?? 1000,
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    disconnectTimeout: 100,
  });
  let lastError = '';
  redis.on('error', (error: Error) => {
    if (error.message === lastError) return;
    lastError = error.message;
    (options.onError ?? console.error)(error);
  });
  redis.on('ready', () => (lastError = ''));
  const key = (name: string) => `${prefix}lease:${name}`;
  return {
    async acquireLease(name, holder, ttlMs) {
      const result = await redis.eval(ACQUIRE, 1, key(name), holder, Math.max(1, Math.round(ttlMs)));
      return result === 1;
    },
    async releaseLease(name, holder) {
      await redis.eval(RELEASE, 1, key(name), holder);
    },
    async close() {
      redis.disconnect();
    },
  };
}
