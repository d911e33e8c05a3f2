/**
 * The Redis PresenceStore: presence shared by every instance (rule PR1), on its own
 * connection to one Redis or a Redis Cluster (adapters/redis-client.ts), with one key layout
 * and one code path for both.
 *
 * Layout (the prefix lets several deployments share one Redis; it must not contain braces):
 * - `<prefix>{d:<dashboardId>}:presence`: a hash, clientId -> entry as JSON. The JSON always
 *   starts with `{"expiresAt":<number>,` so a script can move the expiry without decoding
 *   and re-encoding the entry (Lua's cjson would turn `[]` into `{}` and round floats).
 * - `<prefix>{d:<dashboardId>}:presence:expiry`: a sorted set, clientId -> expiresAt.
 *   These two are the truth. The hash tag puts both in one slot, so every change to an
 *   entry touches both in one MULTI or script (on a cluster too) and they always agree.
 * - `<prefix>presence:expiry`: one sorted set for all dashboards, member
 *   `<dashboardId>|<clientId>`, score expiresAt: only a hint of where a sweep should look,
 *   written outside those transactions (it lives in another slot). A dashboardId therefore
 *   must not contain `|` (upsert refuses one); a clientId may.
 *
 * Keeping the hint safe without a transaction across slots:
 * - Every live entry has a hint (maybe a late one, never none): `upsert` writes the hint
 *   before the entry, so an upsert cut short leaves at worst a hint without an entry, which
 *   the next sweep finds empty and drops. `refresh` moves the hint (`ZADD GT`) after the
 *   entry's expiry moved: a refresh cut short leaves an early hint, which a sweep corrects.
 * - `sweep(now)` reads the hints due at `now` and runs a script on each dashboard's own keys:
 *   it takes the entry only while ITS expiry is still due (a refresh or upsert that moved it
 *   first wins), so of several sweepers on several instances exactly one gets a given entry.
 *   Then it fixes the hint: for an entry taken or absent it drops the hint only while the
 *   hint is still due (an upsert racing the sweep may have written a fresh one meanwhile);
 *   for a live entry it moves the hint up to the entry's expiry (`GT`: never back).
 * - `remove` is a script on the dashboard's keys (it checks the stored sessionId, so of
 *   several callers one gets the entry); the hint is then dropped unless it is already later
 *   than the removed entry's expiry (a resubscription's own hint), best effort.
 * - `refresh` checks the stored sessionId and only ever pushes the expiry later.
 * - An entry is expired at `now` when `expiresAt <= now`. `list` returns entries ordered by
 *   clientId.
 * An upsert that is already expired when written (its instance's clock far behind the
 * sweeper's) may lose its hint to a racing sweep and stay until the client is seen again.
 *
 * Outages: calls fail fast instead of waiting for Redis: a command gives up after
 * `commandTimeoutMs` (1 s by default), after 2 failed reconnect attempts of one server, or
 * when a cluster is not ready within that time. A command that timed out may still have run.
 * Commands in flight when a connection dropped are not re-sent (their callers already saw
 * them fail), on one server nor on a cluster; a cluster re-sends only those a node refused
 * without running (MOVED, ASK, TRYAGAIN, CLUSTERDOWN).
 *
 * Nothing connects until `createRedisPresenceStore()` is called.
 */
import type { PresenceEntry, PresenceStore } from '../ports/presence-store.js';
import { closeRedisClient, createRedisClient, sendWithin } from './redis-client.js';

export interface RedisPresenceStoreOptions {
  /**
   * `redis://[:password@]host:port[/db]`, `rediss://` for TLS, or a cluster:
   * `redis-cluster://host:port,host:port` (see adapters/redis-client.ts).
   */
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

/** How many due hints one sweep round reads; a sweep runs rounds until none is left. */
const SWEEP_BATCH = 500;
/** Rounds per sweep at most (a guard, not a limit met in practice): the rest waits for the next sweep. */
const SWEEP_MAX_ROUNDS = 200;

// KEYS[1] the dashboard's hash, KEYS[2] its expiry set. ARGV[1] clientId, ARGV[2] sessionId.
// Returns the entry JSON or nil.
const REMOVE_LUA = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return false end
local ok, entry = pcall(cjson.decode, json)
if not ok or type(entry) ~= 'table' or entry.sessionId ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return json
`;

// ARGV[1] clientId, ARGV[2] sessionId, ARGV[3] new expiresAt (as JSON writes it). Returns 1
// when the expiry moved. A plain ZADD (not XX): the entry exists, so it must be in the expiry
// set, or no sweep would ever take it.
const REFRESH_LUA = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
local ok, entry = pcall(cjson.decode, json)
if not ok or type(entry) ~= 'table' or entry.sessionId ~= ARGV[2] then return 0 end
local expiresAt = tonumber(ARGV[3])
if type(entry.expiresAt) == 'number' and entry.expiresAt >= expiresAt then return 0 end
local updated, count = string.gsub(json, '^{"expiresAt":[^,]*,', '{"expiresAt":' .. ARGV[3] .. ',', 1)
if count ~= 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], updated)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`;

// ARGV[1] clientId, ARGV[2] now. Takes the entry only while its own expiry is still due.
// Returns {1, json} when taken, {2, expiresAt} when it lives on (a string: a Lua number
// would be cut to an integer), nil when there is no entry.
const SWEEP_LUA = `
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score then return false end
if tonumber(score) > tonumber(ARGV[2]) then return {2, score} end
redis.call('ZREM', KEYS[2], ARGV[1])
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return {1, json}
`;
const TAKEN = 1;
const ALIVE = 2;

// KEYS[1] the hint index. ARGV[1] member, ARGV[2] a time. Drops the hint only when it is not
// later than that time (a later one was written by an upsert or refresh since). Returns 1 if dropped.
const DROP_HINT_LUA = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`;

type Arg = string | number;
interface PresenceCommands {
  presenceRemove(hashKey: string, expiryKey: string, ...args: Arg[]): Promise<string | null>;
  presenceRefresh(hashKey: string, expiryKey: string, ...args: Arg[]): Promise<number>;
  presenceSweep(hashKey: string, expiryKey: string, ...args: Arg[]): Promise<[number, string] | null>;
  presenceDropHint(indexKey: string, ...args: Arg[]): Promise<number>;
}

export function createRedisPresenceStore(options: RedisPresenceStoreOptions): PresenceStore {
  const prefix = options.prefix ?? 'dash:';
  const timeoutMs = options.commandTimeoutMs ?? 1000;
  const onError = options.onError ?? ((error: unknown) => console.error('redis presence store error', error));

  const client = createRedisClient(options.url, {
    node: {
      connectionName: 'dash:presence',
      retryStrategy: retryDelay,
      maxRetriesPerRequest: 2,
      commandTimeout: timeoutMs,
      autoResendUnfulfilledCommands: false,
      // disconnect() gives a socket this long to close before destroying it (see close()).
      disconnectTimeout: 100,
    },
    // A command whose connection dropped may have run: fail it rather than re-send it.
    cluster: { retryDelayOnFailover: 0 },
  });
  client.defineCommand('presenceRemove', { numberOfKeys: 2, lua: REMOVE_LUA });
  client.defineCommand('presenceRefresh', { numberOfKeys: 2, lua: REFRESH_LUA });
  client.defineCommand('presenceSweep', { numberOfKeys: 2, lua: SWEEP_LUA });
  client.defineCommand('presenceDropHint', { numberOfKeys: 1, lua: DROP_HINT_LUA });
  const commands = client as unknown as PresenceCommands;

  let closed = false;
  let closing: Promise<void> | null = null;
  function check() {
    if (closed) throw new Error('presence store is closed');
  }

  // A cluster reports each node's errors apart ('node error'): several messages per outage.
  const reported = new Set<string>();
  const report = (error: Error) => {
    if (closed || reported.has(error.message)) return;
    if (reported.size >= 20) reported.clear();
    reported.add(error.message);
    try {
      onError(error);
    } catch {
      // a failing reporter must not break the store
    }
  };
  client.on('error', report);
  client.on('node error', report);
  client.on('ready', () => reported.clear());

  /** One command, sent once the connection can route it, failing after `timeoutMs`. */
  const send = <T>(command: () => Promise<T>) => sendWithin(client, timeoutMs, command);

  const indexKey = `${prefix}presence:expiry`;
  const hashKey = (dashboardId: string) => `${prefix}{d:${dashboardId}}:presence`;
  const expiryKey = (dashboardId: string) => `${prefix}{d:${dashboardId}}:presence:expiry`;
  const memberOf = (dashboardId: string, clientId: string) => `${dashboardId}|${clientId}`;

  /** Drops a hint unless it is later than `time`; true when dropped. */
  const dropHint = (member: string, time: string) =>
    send(() => commands.presenceDropHint(indexKey, member, time)).then((n) => n === 1);

  /**
   * Settles one due hint: the entry if this sweep took it, else null. Throws when the entry's
   * own keys could not be reached; a hint that could not be fixed is reported in `hintFailed`.
   */
  async function sweepOne(member: string, at: string, hintFailed: (error: unknown) => void) {
    const split = member.indexOf('|');
    const dashboardId = split < 0 ? member : member.slice(0, split);
    const clientId = split < 0 ? '' : member.slice(split + 1);
    const result = await send(() => commands.presenceSweep(hashKey(dashboardId), expiryKey(dashboardId), clientId, at));
    if (result && result[0] === ALIVE) {
      await send(() => client.zadd(indexKey, 'GT', result[1], member)).catch(hintFailed);
      return null;
    }
    await dropHint(member, at).catch(hintFailed);
    return result && result[0] === TAKEN ? parse(result[1]) : null;
  }

  return {
    async upsert(entry) {
      check();
      if (entry.dashboardId.includes('|')) throw new TypeError('dashboardId must not contain "|"');
      const json = serialize(entry);
      const at = formatTime(entry.expiresAt);
      // The hint first: an entry must never exist without one (nothing would sweep it).
      await send(() => client.zadd(indexKey, at, memberOf(entry.dashboardId, entry.clientId)));
      await send(() =>
        client
          .multi()
          .hset(hashKey(entry.dashboardId), entry.clientId, json)
          .zadd(expiryKey(entry.dashboardId), at, entry.clientId)
          .exec(),
      ).then(throwOnTransactionError);
    },

    async remove(dashboardId, clientId, sessionId) {
      check();
      const json = await send(() =>
        commands.presenceRemove(hashKey(dashboardId), expiryKey(dashboardId), clientId, sessionId),
      );
      if (json === null) return null;
      const entry = parse(json);
      // Best effort: a hint left behind costs the next sweep one look.
      if (entry) await dropHint(memberOf(dashboardId, clientId), formatTime(entry.expiresAt)).catch(() => {});
      return entry;
    },

    async list(dashboardId, now) {
      check();
      const all = await send(() => client.hgetall(hashKey(dashboardId)));
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
      // One command per entry (a cluster takes no pipeline across slots); they travel together.
      const results = await Promise.allSettled(
        keys.map(({ dashboardId, clientId, sessionId }) =>
          send(() => commands.presenceRefresh(hashKey(dashboardId), expiryKey(dashboardId), clientId, sessionId, at)),
        ),
      );
      // The hints of the entries that moved, after them (best effort: a hint left early only
      // makes a sweep look too soon, and that sweep moves it).
      await Promise.all(
        keys.map(({ dashboardId, clientId }, i) => {
          const result = results[i]!;
          if (result.status !== 'fulfilled' || result.value !== 1) return undefined;
          return send(() => client.zadd(indexKey, 'GT', at, memberOf(dashboardId, clientId))).catch(() => {});
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },

    async sweep(now) {
      check();
      const at = formatTime(now);
      const gone: PresenceEntry[] = [];
      let firstError: unknown = null;
      const hintFailed = (error: unknown) => {
        firstError ??= error;
      };
      for (let round = 0; round < SWEEP_MAX_ROUNDS; round++) {
        const members = await send(() => client.zrangebyscore(indexKey, '-inf', at, 'LIMIT', 0, SWEEP_BATCH));
        if (members.length === 0) break;
        const results = await Promise.allSettled(members.map((member) => sweepOne(member, at, hintFailed)));
        for (const result of results) {
          if (result.status === 'rejected') firstError ??= result.reason;
          else if (result.value) gone.push(result.value);
        }
        // The entries taken must reach the caller (nobody else will announce them): fail only
        // when nothing was taken, and stop at the first failing round (its hints are still due).
        if (firstError || members.length < SWEEP_BATCH) break;
      }
      if (firstError && gone.length === 0) throw firstError;
      return gone;
    },

    close() {
      closing ??= (async () => {
        closed = true;
        await closeRedisClient(client);
      })();
      return closing;
    },
  };
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
