/**
 * Shared limits in Redis (issue #17, ports/shared-limits.ts): every instance counts in the
 * same keys, so the deployment allows each budget once, not once per instance. Works on one
 * Redis and on a Redis Cluster alike: every command and script names one key.
 *
 * Keys (`<prefix>` is `dash:limit:` unless configured):
 * - `<prefix>rate:<contextIdentity>|<fieldIdentity>`: the rate limiter's call timestamps
 *   (ms) of one identity and field, comma-separated, oldest first, PX the window. The
 *   library reads them, decides, then writes back what it read plus this call. A write is a
 *   script that MERGES the written timestamps into the stored ones (each value counted as
 *   often as the larger side has it), drops those out of the window and keeps the newest
 *   `rateKeep`, so a call another instance stored meanwhile is never overwritten.
 *   Residual race: the library reads, then writes. Two instances that both read the budget
 *   one short of full, at the same moment, both admit their call: the limit can be passed
 *   by one call per instance racing for the last place, never more, and both calls still
 *   count for the rest of the window. Two calls of one identity stamped with the same
 *   millisecond on two instances count once.
 * - `<prefix>points:<userId>`: a sorted set of this minute's pushes (RATE_LIMIT_POINTS,
 *   LD1), member `<at>:<points>:<random>`, score `at`. One script prunes the minute, sums
 *   it and spends or refuses (with when the request would fit) atomically. The minute is
 *   measured with each instance's clock (the app's injected clock): instances are assumed
 *   to agree on the time, as they do for token expiry.
 * - `<prefix>sockets:<socketBudget>`: a sorted set of open socket ids, score the time (by
 *   Redis's clock) after which the socket no longer counts. Admitting is one script (drop
 *   the expired, refuse at the cap, else add); a socket that closes is removed at once.
 *   Every `socketRefreshMs` (10 s) each instance pushes its own sockets' expiry
 *   `socketTtlMs` (30 s) ahead, and adds back any Redis lost (a restart) or never had (one
 *   admitted during an outage), so a crashed instance's sockets stop counting within 30 s.
 *
 * Outages: a call that Redis does not answer within `commandTimeoutMs` (300 ms), or fails,
 * is counted on this instance instead (`local`, and the sockets open here), and for the next
 * `retryAfterFailureMs` (1 s) calls go there without asking Redis, so a dead or hung Redis
 * never fails a request and costs at most one wait a second. A command that timed out may
 * still have run (its call then counts twice: in Redis and here). One warning is logged
 * per outage, and a line when Redis answers again; `onFallback` counts each call counted
 * here (the `dash_limit_fallbacks_total` metric).
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '@envelop/rate-limiter';
import type { Logger } from '../logger.js';
import type { LimitKind, PointBudget, RateLimitStore, SharedLimits } from '../ports/shared-limits.js';
import { POINT_WINDOW_MS, pointsRefused } from '../domain/point-budget.js';
import { createLocalSocketCount } from './memory-limits.js';
import { closeRedisClient, createRedisClient, whenRedisReady, within, type RedisClient } from './redis-client.js';

export interface RedisLimitsOptions {
  /** REDIS_URL: `redis://...` or `redis-cluster://h:p,h:p` (redis-client.ts). */
  url: string;
  pointsPerMinute: number;
  /** The clock RATE_LIMIT_POINTS is measured with (the app's). */
  now: () => number;
  /** What counts a call on this instance while Redis does not answer. */
  local: { rateLimitStore: RateLimitStore; points: PointBudget };
  /** Timestamps kept per rate-limit key: the largest `max` of any field is enough. */
  rateKeep: number;
  /** Prepended to every key. Default `dash:limit:`. */
  prefix?: string;
  /** How long a call waits for Redis before it is counted here. Default 300 ms. */
  commandTimeoutMs?: number;
  /** After a failure, calls are counted here without asking Redis for this long. Default 1 s. */
  retryAfterFailureMs?: number;
  /** A socket not refreshed for this long stops counting. Default 30 s. */
  socketTtlMs?: number;
  /** How often this instance refreshes its sockets. Default 10 s. */
  socketRefreshMs?: number;
  logger: Pick<Logger, 'warn' | 'info'>;
  /** A call was counted on this instance because Redis did not answer. */
  onFallback?: (limit: LimitKind) => void;
}

// KEYS[1] the rate key. ARGV[1] the cutoff (a timestamp at or before it is out of the
// window), ARGV[2] the window (ms, the key's PX), ARGV[3] how many to keep, ARGV[4..] the
// timestamps the library wrote. Integers only: %d keeps 13-digit ms exact.
const RATE_MERGE_LUA = `
local cutoff = tonumber(ARGV[1])
local counts = {}
local stored = redis.call('GET', KEYS[1])
if stored then
  for t in string.gmatch(stored, '[^,]+') do
    local n = tonumber(t)
    if n and n > cutoff then counts[n] = (counts[n] or 0) + 1 end
  end
end
local written = {}
for i = 4, #ARGV do
  local n = tonumber(ARGV[i])
  if n and n > cutoff then written[n] = (written[n] or 0) + 1 end
end
for n, c in pairs(written) do
  if c > (counts[n] or 0) then counts[n] = c end
end
local merged = {}
for n, c in pairs(counts) do
  for _ = 1, c do merged[#merged + 1] = n end
end
if #merged == 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
table.sort(merged)
local out = {}
for i = math.max(1, #merged - tonumber(ARGV[3]) + 1), #merged do
  out[#out + 1] = string.format('%d', merged[i])
end
redis.call('SET', KEYS[1], table.concat(out, ','), 'PX', ARGV[2])
return #out
`;

// KEYS[1] the user's points set. ARGV[1] at, ARGV[2] points, ARGV[3] per minute, ARGV[4]
// the window (ms), ARGV[5] the member to add. Returns 0 when spent, else when the request
// would fit (ms; a whole window ahead for one larger than the budget): services/point-budget.ts.
const POINTS_TAKE_LUA = `
local at = tonumber(ARGV[1])
local points = tonumber(ARGV[2])
local perMinute = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', at - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local function pointsOf(member) return tonumber(string.match(member, '^[^:]+:(%d+):')) or 0 end
local used = 0
for i = 1, #entries, 2 do used = used + pointsOf(entries[i]) end
if used + points > perMinute then
  if points <= perMinute then
    for i = 1, #entries, 2 do
      used = used - pointsOf(entries[i])
      if used + points <= perMinute then return tonumber(entries[i + 1]) + window end
    end
  end
  return at + window
end
if points > 0 then
  redis.call('ZADD', KEYS[1], at, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], window)
end
return 0
`;

// KEYS[1] the user's points set, ARGV[1] points. Removes the newest entry of that many
// points (as the local budget does); returns 1 when there was one.
const POINTS_GIVE_BACK_LUA = `
for _, member in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  if string.match(member, '^[^:]+:(%d+):') == ARGV[1] then
    redis.call('ZREM', KEYS[1], member)
    return 1
  end
end
return 0
`;

// Redis's clock in ms, so every instance's sockets expire by one clock.
const REDIS_NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

// KEYS[1] the budget's socket set. ARGV[1] socket id, ARGV[2] the cap, ARGV[3] ttl (ms).
// Returns 1 when counted (or already counted), 0 at the cap.
const SOCKET_ADMIT_LUA = `${REDIS_NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

// KEYS[1] the budget's socket set. ARGV[1] ttl (ms), ARGV[2..] this instance's socket ids
// in that budget: each counts for another ttl (and is added back if Redis lost it).
const SOCKET_REFRESH_LUA = `${REDIS_NOW}
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return #ARGV - 1
`;

type Script = (key: string, ...args: Array<string | number>) => Promise<unknown>;

/** A Lua script sent by EVALSHA (EVAL once a node does not know it yet). */
function defineScript(client: RedisClient, name: string, lua: string): Script {
  client.defineCommand(name, { numberOfKeys: 1, lua });
  const commands = client as unknown as Record<string, Script>;
  return (key, ...args) => commands[name]!(key, ...args);
}

/** Client states in which a command would only wait in the offline queue. */
const UNREACHABLE = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

export function createRedisLimits(options: RedisLimitsOptions): SharedLimits {
  const prefix = options.prefix ?? 'dash:limit:';
  const timeoutMs = options.commandTimeoutMs ?? 300;
  const pauseMs = options.retryAfterFailureMs ?? 1000;
  const socketTtlMs = options.socketTtlMs ?? 30_000;
  const { logger, pointsPerMinute, now } = options;

  const client = createRedisClient(options.url, {
    node: {
      connectionName: 'dash:limits',
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
      // Queued while (re)connecting, but never longer than a call is willing to wait.
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      disconnectTimeout: 100,
    },
  });
  // Connection errors are reported through the outage log below, once per outage.
  client.on('error', () => {});

  const rateMerge = defineScript(client, 'dashLimitRateMerge', RATE_MERGE_LUA);
  const pointsTake = defineScript(client, 'dashLimitPointsTake', POINTS_TAKE_LUA);
  const pointsGiveBack = defineScript(client, 'dashLimitPointsGiveBack', POINTS_GIVE_BACK_LUA);
  const socketAdmit = defineScript(client, 'dashLimitSocketAdmit', SOCKET_ADMIT_LUA);

  const { rateLimitStore: localRate, points: localPoints } = options.local;
  const here = createLocalSocketCount(); // every socket open here, however it was admitted

  let down = false;
  let askAgainAt = 0;
  // Right after start a cluster client still discovers its nodes (slower than a call's budget on
  // a loaded machine): the first calls wait for it to be ready (one shared wait of at most 2 s)
  // rather than counting here for a second.
  let everReady = !client.isCluster;
  let startupWait: Promise<void> | null = null;

  function failed(error: unknown) {
    askAgainAt = Date.now() + pauseMs;
    if (down) return;
    down = true;
    logger.warn({ err: error }, 'shared limits: Redis unreachable or slow, counting on this instance until it answers');
  }

  /** `remote()` in Redis, or `local()` here when Redis does not answer in time. */
  async function counted<T>(limit: LimitKind, remote: () => Promise<T>, local: () => T | Promise<T>): Promise<T> {
    if (!everReady) {
      await (startupWait ??= whenRedisReady(client, 2000)
        .catch(() => {})
        .then(() => {
          everReady = true;
        }));
    }
    if (Date.now() >= askAgainAt) {
      if (UNREACHABLE.has(client.status)) {
        failed(new Error(`Redis connection ${client.status}`));
      } else {
        try {
          const result = await within(remote(), timeoutMs);
          if (down) {
            down = false;
            logger.info('shared limits: Redis answers again, counting for every instance');
          }
          return result;
        } catch (error) {
          failed(error);
        }
      }
    }
    options.onFallback?.(limit);
    return local();
  }

  const rateKey = (identity: Identity) => `${prefix}rate:${identity.contextIdentity}|${identity.fieldIdentity}`;
  const pointsKey = (userId: string) => `${prefix}points:${userId}`;
  const socketsKey = (budget: string) => `${prefix}sockets:${budget}`;

  let refreshing = false;
  async function refreshSockets() {
    if (refreshing || UNREACHABLE.has(client.status)) return;
    refreshing = true;
    try {
      // Plain EVAL, not EVALSHA: a NOSCRIPT retry would be sent after a release queued
      // meanwhile and add the released socket back.
      await Promise.all(
        [...here.open].map(([budget, ids]) =>
          within(client.eval(SOCKET_REFRESH_LUA, 1, socketsKey(budget), socketTtlMs, ...ids), timeoutMs).catch(
            () => {}, // not refreshed: counts until its expiry, and again at the next refresh
          ),
        ),
      );
    } finally {
      refreshing = false;
    }
  }
  const refresher = setInterval(() => void refreshSockets(), options.socketRefreshMs ?? 10_000);
  refresher.unref();

  return {
    rateLimitStore: {
      getForIdentity: (identity) =>
        counted(
          'rate',
          async () => {
            const stored = await client.get(rateKey(identity));
            return stored ? stored.split(',').map(Number) : [];
          },
          () => localRate.getForIdentity(identity),
        ),
      async setForIdentity(identity, timestamps, windowMs = 60_000) {
        await counted(
          'rate',
          () => rateMerge(rateKey(identity), Date.now() - windowMs, windowMs, options.rateKeep, ...timestamps),
          () => localRate.setForIdentity(identity, timestamps, windowMs),
        );
      },
    },

    points: {
      async take(userId, points) {
        const at = now();
        const member = `${at}:${points}:${randomBytes(6).toString('base64url')}`;
        const retryAt = await counted(
          'points',
          async () => Number(await pointsTake(pointsKey(userId), at, points, pointsPerMinute, POINT_WINDOW_MS, member)),
          async () => {
            await localPoints.take(userId, points); // throws RATE_LIMITED itself
            return 0;
          },
        );
        if (retryAt > 0) throw pointsRefused(pointsPerMinute, retryAt, at);
      },
      async giveBack(userId, points) {
        const found = await counted(
          'points',
          async () => (await pointsGiveBack(pointsKey(userId), points)) === 1,
          () => false,
        );
        // Not in Redis: it was spent here, during an outage.
        if (!found) await localPoints.giveBack(userId, points);
      },
    },

    sockets: {
      async admit(budget, socketId, cap) {
        return counted(
          'sockets',
          async () => {
            const admitted = (await socketAdmit(socketsKey(budget), socketId, cap, socketTtlMs)) === 1;
            if (admitted) here.add(budget, socketId);
            return admitted;
          },
          // This instance's own sockets against the cap: the best it can know alone.
          () => here.admit(budget, socketId, cap),
        );
      },
      release(budget, socketId) {
        here.release(budget, socketId);
        // If this fails the socket stops counting at its expiry (it is refreshed no more).
        if (client.status !== 'end') within(client.zrem(socketsKey(budget), socketId), timeoutMs).catch(() => {});
      },
    },

    async close() {
      clearInterval(refresher);
      // Sockets still counted here (a stop normally released them all) stop counting now.
      await Promise.all(
        [...here.open].map(([budget, ids]) =>
          within(client.zrem(socketsKey(budget), ...ids), timeoutMs).catch(() => {}),
        ),
      );
      await closeRedisClient(client);
    },
  };
}
