/**
 * The Redis PresenceStore: presence shared by every instance (rule PR1), on its own ioredis
 * connection.
 *
 * Layout (the prefix lets several deployments share one Redis):
 * - `<prefix>presence:<dashboardId>`: a hash, clientId -> entry as JSON. The JSON always
 *   starts with `{"expiresAt":<number>,` so a script can move the expiry without decoding
 *   and re-encoding the entry (Lua's cjson would turn `[]` into `{}` and round floats).
 * - `<prefix>presence:expiry`: one sorted set for all dashboards, member
 *   `<dashboardId>|<clientId>`, score expiresAt. A dashboardId therefore must not contain
 *   `|` (upsert refuses one); a clientId may.
 *
 * Every change to an entry touches the hash and the sorted set together (MULTI or a Lua
 * script), so they always agree:
 * - `remove` and `sweep` are scripts: of several callers on several instances, exactly one
 *   gets a given entry. A sweep takes an entry only while its score is still expired, so a
 *   refresh or upsert that moved it first wins.
 * - `refresh` is a script per entry: it checks the stored sessionId and only ever pushes the
 *   expiry later.
 * - An entry is expired at `now` when `expiresAt <= now`. `list` returns entries ordered by
 *   clientId.
 *
 * Outages: calls fail fast instead of waiting for Redis (a command gives up after
 * `commandTimeoutMs`, 1 s by default, or after 2 failed reconnect attempts). A command that
 * timed out may still have run. Commands that were in flight when the connection dropped
 * are not re-sent after the reconnect (their callers already saw them fail).
 *
 * Nothing connects until `createRedisPresenceStore()` is called.
 */
import { Redis, type ChainableCommander } from 'ioredis';
import type { PresenceEntry, PresenceStore } from '../ports/presence-store.js';

export interface RedisPresenceStoreOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://` for TLS. */
  url: string;
  /** Prepended to every key. Default `dash:`. */
  prefix?: string;
  /** Upper bound on how long one Redis command may take before it fails, in ms. Default 1000. */
  commandTimeoutMs?: number;
  /** Connection errors reported by ioredis, each distinct message once per outage. Default console.error. */
  onError?: (error: unknown) => void;
}

/** Reconnect forever, backing off 100 ms, 200 ms, ... up to 2 s between attempts. */
function retryDelay(attempt: number): number {
  return Math.min(attempt * 100, 2000);
}

/** How many expired members one sweep round reads; a sweep runs rounds until none is left. */
const SWEEP_BATCH = 500;
const DISCONNECT_TIMEOUT_MS = 100;

// KEYS[1] the dashboard's hash, KEYS[2] the expiry set.
// ARGV[1] clientId, ARGV[2] expiry member, ARGV[3] sessionId. Returns the entry JSON or nil.
const REMOVE_LUA = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return false end
local ok, entry = pcall(cjson.decode, json)
if not ok or type(entry) ~= 'table' or entry.sessionId ~= ARGV[3] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return json
`;

// ARGV[1] clientId, ARGV[2] expiry member, ARGV[3] sessionId, ARGV[4] new expiresAt (as JSON
// writes it). Returns 1 when the expiry moved. A plain ZADD (not XX): the entry exists, so it
// must be in the expiry set, or no sweep would ever find it.
const REFRESH_LUA = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
local ok, entry = pcall(cjson.decode, json)
if not ok or type(entry) ~= 'table' or entry.sessionId ~= ARGV[3] then return 0 end
local expiresAt = tonumber(ARGV[4])
if type(entry.expiresAt) == 'number' and entry.expiresAt >= expiresAt then return 0 end
local updated, count = string.gsub(json, '^{"expiresAt":[^,]*,', '{"expiresAt":' .. ARGV[4] .. ',', 1)
if count ~= 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], updated)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1
`;

// ARGV[1] clientId, ARGV[2] expiry member, ARGV[3] now. Takes the entry only when the member
// is still in the set and still expired (a concurrent sweep, remove, refresh or upsert may
// have got there first); returns its JSON or nil.
const SWEEP_LUA = `
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not score or tonumber(score) > tonumber(ARGV[3]) then return false end
redis.call('ZREM', KEYS[2], ARGV[2])
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return json
`;

type Arg = string | number;
interface PresenceCommands {
  presenceRemove(hashKey: string, expiryKey: string, ...args: Arg[]): Promise<string | null>;
  presenceRefresh(hashKey: string, expiryKey: string, ...args: Arg[]): Promise<number>;
}
interface PresencePipeline extends ChainableCommander {
  presenceRefresh(hashKey: string, expiryKey: string, ...args: Arg[]): PresencePipeline;
  presenceSweep(hashKey: string, expiryKey: string, ...args: Arg[]): PresencePipeline;
}

export function createRedisPresenceStore(options: RedisPresenceStoreOptions): PresenceStore {
  const prefix = options.prefix ?? 'dash:';
  const onError = options.onError ?? ((error: unknown) => console.error('redis presence store error', error));

  const redis = new Redis(options.url, {
    retryStrategy: retryDelay,
    maxRetriesPerRequest: 2,
    commandTimeout: options.commandTimeoutMs ?? 1000,
    autoResendUnfulfilledCommands: false,
    // disconnect() gives a socket this long to close before destroying it (see close()).
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
  });
  redis.defineCommand('presenceRemove', { numberOfKeys: 2, lua: REMOVE_LUA });
  redis.defineCommand('presenceRefresh', { numberOfKeys: 2, lua: REFRESH_LUA });
  redis.defineCommand('presenceSweep', { numberOfKeys: 2, lua: SWEEP_LUA });
  const commands = redis as unknown as PresenceCommands;
  const pipeline = () => redis.pipeline() as PresencePipeline;

  let closed = false;
  let closing: Promise<void> | null = null;
  function check() {
    if (closed) throw new Error('presence store is closed');
  }

  let lastErrorMessage = '';
  redis.on('error', (error: Error) => {
    if (closed || error.message === lastErrorMessage) return;
    lastErrorMessage = error.message;
    try {
      onError(error);
    } catch {
      // a failing reporter must not break the store
    }
  });
  redis.on('ready', () => {
    lastErrorMessage = '';
  });

  const expiryKey = `${prefix}presence:expiry`;
  const hashKey = (dashboardId: string) => `${prefix}presence:${dashboardId}`;
  const memberOf = (dashboardId: string, clientId: string) => `${dashboardId}|${clientId}`;

  return {
    async upsert(entry) {
      check();
      if (entry.dashboardId.includes('|')) throw new TypeError('dashboardId must not contain "|"');
      const json = serialize(entry);
      await redis
        .multi()
        .hset(hashKey(entry.dashboardId), entry.clientId, json)
        .zadd(expiryKey, String(entry.expiresAt), memberOf(entry.dashboardId, entry.clientId))
        .exec()
        .then(throwOnTransactionError);
    },

    async remove(dashboardId, clientId, sessionId) {
      check();
      const json = await commands.presenceRemove(
        hashKey(dashboardId),
        expiryKey,
        clientId,
        memberOf(dashboardId, clientId),
        sessionId,
      );
      return json === null ? null : parse(json);
    },

    async list(dashboardId, now) {
      check();
      const all = await redis.hgetall(hashKey(dashboardId));
      const entries: PresenceEntry[] = [];
      for (const json of Object.values(all)) {
        const entry = parse(json);
        if (entry && entry.expiresAt > now) entries.push(entry);
      }
      return entries.sort(byClientId);
    },

    async refresh(keys, expiresAt) {
      check();
      const at = formatTime(expiresAt);
      if (keys.length === 0) return;
      const batch = pipeline();
      for (const { dashboardId, clientId, sessionId } of keys) {
        batch.presenceRefresh(
          hashKey(dashboardId),
          expiryKey,
          clientId,
          memberOf(dashboardId, clientId),
          sessionId,
          at,
        );
      }
      const results = await batch.exec();
      const failed = results?.find(([error]) => error);
      if (!results) throw new Error('presence refresh: pipeline discarded');
      if (failed) throw failed[0];
    },

    async sweep(now) {
      check();
      const at = String(now);
      const gone: PresenceEntry[] = [];
      let firstError: unknown = null;
      for (;;) {
        const members = await redis.zrangebyscore(expiryKey, '-inf', at, 'LIMIT', 0, SWEEP_BATCH);
        if (members.length === 0) break;
        const batch = pipeline();
        for (const member of members) {
          const split = member.indexOf('|');
          const dashboardId = split < 0 ? member : member.slice(0, split);
          const clientId = split < 0 ? '' : member.slice(split + 1);
          batch.presenceSweep(hashKey(dashboardId), expiryKey, clientId, member, at);
        }
        const results = await batch.exec();
        if (!results) throw new Error('presence sweep: pipeline discarded');
        for (const [error, json] of results) {
          if (error) firstError ??= error;
          else if (typeof json === 'string') {
            const entry = parse(json);
            if (entry) gone.push(entry);
          }
        }
        // The entries taken must reach the caller (nobody else will announce them): fail only
        // when nothing was taken, and stop at the first failing round.
        if (firstError || members.length < SWEEP_BATCH) break;
      }
      if (firstError && gone.length === 0) throw firstError;
      return gone;
    },

    close() {
      closing ??= closeConnection();
      return closing;
    },
  };

  async function closeConnection(): Promise<void> {
    closed = true;
    if (redis.status === 'ready') {
      // The graceful path: QUIT is answered after the replies still pending.
      const ended = nextEnd(redis);
      try {
        await withTimeout(redis.quit(), 1000, 'QUIT not answered');
        await withTimeout(ended, 1000, 'connection not closed after QUIT');
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
    const ended = betweenAttempts ? Promise.resolve() : nextEnd(redis);
    redis.disconnect();
    await withTimeout(ended, 1000, 'connection not closed').catch(() => {});
    // Outlive that timer, so nothing of this store is left running when close() resolves.
    if (betweenAttempts) await sleep(DISCONNECT_TIMEOUT_MS + 10);
  }
}

/** The entry's fields only, `expiresAt` first (REFRESH_LUA rewrites it in place). */
function serialize(entry: PresenceEntry): string {
  formatTime(entry.expiresAt);
  return JSON.stringify({
    expiresAt: entry.expiresAt,
    sessionId: entry.sessionId,
    dashboardId: entry.dashboardId,
    clientId: entry.clientId,
    userId: entry.userId,
    cursor: entry.cursor,
    selection: entry.selection,
    version: entry.version,
    status: entry.status,
    lastSeen: entry.lastSeen,
  });
}

/** A stored entry, or null for one that is not valid JSON (written by something else). */
function parse(json: string): PresenceEntry | null {
  try {
    const entry = JSON.parse(json) as PresenceEntry;
    return entry !== null && typeof entry === 'object' && typeof entry.expiresAt === 'number' ? entry : null;
  } catch {
    return null;
  }
}

/** A time as JSON and Redis both read it; refuses NaN and infinities (JSON has no such number). */
function formatTime(time: number): string {
  if (!Number.isFinite(time)) throw new TypeError(`expiresAt must be a finite number, got ${time}`);
  return JSON.stringify(time);
}

function throwOnTransactionError(results: [Error | null, unknown][] | null): void {
  if (!results) throw new Error('presence upsert: transaction discarded');
  const failed = results.find(([error]) => error);
  if (failed) throw failed[0];
}

const byClientId = (a: PresenceEntry, b: PresenceEntry) =>
  a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function nextEnd(client: Redis): Promise<void> {
  return new Promise((resolve) => client.once('end', () => resolve()));
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
