/**
 * Configuration from environment variables, validated once at start (DESIGN.md section 3).
 * Every variable is optional; a bad value throws a ConfigError naming the variable.
 */
import { parseRedisUrl } from './adapters/redis-client.js';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /** One Redis (`redis://`, `rediss://`) or a cluster (`redis-cluster://h:p,h:p`, adapters/redis-client.ts). */
  redisUrl: string | undefined;
  /**
   * Where the shared limits keep their keys in Redis (adapters/redis-limits.ts); default
   * `dash:limit:`. Not read from the environment: tests give each backend its own.
   */
  limitsKeyPrefix?: string;
  /** DATABASE_REPLICA_URLS: read replicas of DATABASE_URL (reads that may lag, topped up from the primary). */
  databaseReplicaUrls: string[];
  /** When unset, generated once and stored in the database (settings table). */
  jwtSecret: string | undefined;
  accessTokenTtl: number; // seconds
  refreshTokenTtl: number; // seconds
  snapshotEvery: number; // ops
  presenceTtl: number; // seconds
  idleAfter: number; // seconds
  graphiql: boolean;
  introspection: boolean;
  corsOrigins: string[] | undefined;
  /**
   * Origins (scheme://host[:port]) that may frame the Vue viewer and post it a token, besides
   * the viewer's own origin; `*` allows any. Defaults to CORS_ORIGINS, else none (rule EM2).
   */
  embedOrigins: string[];
  trustProxy: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  rateLimits: {
    /** Mutations per user per minute (submitOperation and updatePresence have their own). */
    mutationsPerMinute: number;
    submitsPerMinute: number;
    presencePerMinute: number;
    /** signUp/logIn per IP per minute. */
    authPerIpPerMinute: number;
    /** Points pushed per user per minute, whatever the transport (rule LD1). */
    pointsPerMinute: number;
    subscriptionsPerSocket: number;
    socketsPerUser: number;
  };
  /** Query limits (graphql-armor): selection depth, aliases, tokens, cost. */
  queryLimits: { maxDepth: number; maxAliases: number; maxTokens: number; maxCost: number };
  /** Max size of one WebSocket message or HTTP body, bytes. */
  maxMessageBytes: number;
  /** Ping interval (ms); a socket that misses a pong by the next ping is closed. */
  keepAliveMs: number;
  /** Bytes a WebSocket may have queued unsent before it is closed as a slow consumer (1013). */
  wsMaxBufferedBytes: number;
  /** Seconds a socket may stay open without connection_init. */
  connectionInitTimeout: number;
  /** How often (ms) live subscriptions re-check the database for ops the bus lost. */
  recheckIntervalMs: number;
  /** OTLP/HTTP collector base URL (e.g. http://jaeger:4318); tracing is off when unset. */
  otelEndpoint: string | undefined;
  /** Where the built web UI lives (served at `/` when present). */
  webDist: string;
  /** Live data (DESIGN.md section 10). */
  series: {
    /** How long points are kept (ms); older ones are pruned in the background. */
    retentionMs: number;
    /** Series one dashboard may hold. */
    maxPerDashboard: number;
    /** At most one live batch per subscription per this many ms (rule LD3). */
    batchMs: number;
  };
  /** Upstream data sources by name (DATASOURCES, rule LD5): the only URLs ever fetched. */
  datasources: Record<string, DatasourceConfig>;
}

/** One entry of DATASOURCES. Secrets stay on the server: `datasources` shows name and type. */
export interface DatasourceConfig {
  type: 'prometheus';
  /** Base URL: the query API lives under it (`<url>/api/v1/query_range`). */
  url: string;
  basicAuth?: { username: string; password: string };
  bearerToken?: string;
  /** How long one upstream request may take (ms). */
  timeoutMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  }
  return raw;
}

function redisUrl(env: Env): string | undefined {
  const raw = env.REDIS_URL;
  if (raw === undefined || raw === '') return undefined;
  try {
    const target = parseRedisUrl(raw);
    if (target.kind === 'single') return url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  } catch (error) {
    throw new ConfigError('REDIS_URL', (error as Error).message);
  }
  return raw;
}

/** DATABASE_REPLICA_URLS: comma-separated postgres URLs; only with DATABASE_URL. */
function replicaUrls(env: Env): string[] {
  const raw = env.DATABASE_REPLICA_URLS?.trim();
  if (!raw) return [];
  if (!env.DATABASE_URL)
    throw new ConfigError('DATABASE_REPLICA_URLS', 'needs DATABASE_URL (replicas of that primary)');
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => url({ DATABASE_REPLICA_URLS: entry }, 'DATABASE_REPLICA_URLS', ['postgres:', 'postgresql:'])!);
}

/** `scheme://host[:port]` of an http(s) origin written without a path, or null. */
function asOrigin(entry: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(entry);
  } catch {
    return null;
  }
  const bare = parsed.pathname === '/' && !parsed.search && !parsed.hash && !parsed.username && !parsed.password;
  // No wildcard hosts: the viewer compares a message's origin exactly.
  const exact = !parsed.hostname.includes('*');
  return ['http:', 'https:'].includes(parsed.protocol) && bare && exact ? parsed.origin : null;
}

/**
 * A comma-separated list of origins, each normalised to `scheme://host[:port]`, or `*` alone
 * for any origin. Strict: a bad entry is an error naming `name`; lenient: it is skipped.
 */
function origins(name: string, raw: string, strict: boolean): string[] {
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.includes('*')) {
    if (strict && entries.length > 1) throw new ConfigError(name, 'must be * alone or a list of origins');
    return ['*'];
  }
  const result = new Set<string>();
  for (const entry of entries) {
    const origin = asOrigin(entry);
    if (origin) result.add(origin);
    else if (strict) throw new ConfigError(name, `must list origins like https://example.com, got "${entry}"`);
  }
  return [...result];
}

const DATASOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const DATASOURCE_KEYS = new Set(['type', 'url', 'basicAuth', 'bearerToken', 'timeout']);

/**
 * DATASOURCES: JSON, name -> { type: "prometheus", url, basicAuth?: { username, password },
 * bearerToken?, timeout? (ms, default 10000) }. Strict: anything else is a ConfigError, so a
 * typo cannot silently leave a source unconfigured or unauthenticated.
 */
export function parseDatasources(raw: string | undefined): Record<string, DatasourceConfig> {
  if (raw === undefined || raw.trim() === '') return {};
  const fail = (message: string) => new ConfigError('DATASOURCES', message);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw fail('must be JSON: {"name": {"type": "prometheus", "url": "http://..."}}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail('must be a JSON object');
  const result: Record<string, DatasourceConfig> = Object.create(null);
  for (const [name, entry] of Object.entries(parsed)) {
    if (!DATASOURCE_NAME.test(name)) throw fail(`name "${name}" must be letters, digits, _ . - (at most 64)`);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw fail(`"${name}" must be an object`);
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !DATASOURCE_KEYS.has(k));
    if (unknown.length > 0) throw fail(`"${name}" has unknown keys: ${unknown.join(', ')}`);
    if (e.type !== 'prometheus') throw fail(`"${name}".type must be "prometheus"`);
    let base: URL;
    try {
      base = new URL(String(e.url));
    } catch {
      throw fail(`"${name}".url must be an http(s) URL`);
    }
    if (!['http:', 'https:'].includes(base.protocol) || base.username || base.password || base.search || base.hash) {
      throw fail(`"${name}".url must be an http(s) URL without credentials, query or fragment (use basicAuth)`);
    }
    const source: DatasourceConfig = { type: 'prometheus', url: base.href.replace(/\/+$/, ''), timeoutMs: 10_000 };
    if (e.timeout !== undefined) {
      if (!Number.isInteger(e.timeout) || (e.timeout as number) < 100 || (e.timeout as number) > 120_000) {
        throw fail(`"${name}".timeout must be whole ms between 100 and 120000`);
      }
      source.timeoutMs = e.timeout as number;
    }
    if (e.basicAuth !== undefined) {
      const auth = e.basicAuth as Record<string, unknown> | null;
      if (typeof auth?.username !== 'string' || typeof auth.password !== 'string') {
        throw fail(`"${name}".basicAuth must be { "username": "...", "password": "..." }`);
      }
      source.basicAuth = { username: auth.username, password: auth.password };
    }
    if (e.bearerToken !== undefined) {
      if (typeof e.bearerToken !== 'string' || e.bearerToken === '')
        throw fail(`"${name}".bearerToken must be a string`);
      if (source.basicAuth) throw fail(`"${name}" may have basicAuth or bearerToken, not both`);
      source.bearerToken = e.bearerToken;
    }
    result[name] = source;
  }
  return result;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Reads and validates the configuration. `overrides` win over `env` (tests use them). */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const jwtSecret = env.JWT_SECRET || undefined;
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 characters');
  }
  const logLevel = (env.LOG_LEVEL || 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const cors = env.CORS_ORIGINS?.trim();
  const config: Config = {
    port: int(env, 'PORT', 4000, 0, 65535),
    host: env.HOST || '0.0.0.0',
    dataDir: env.DATA_DIR || './data',
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: redisUrl(env),
    databaseReplicaUrls: replicaUrls(env),
    jwtSecret,
    accessTokenTtl: int(env, 'ACCESS_TOKEN_TTL', 900, 1),
    refreshTokenTtl: int(env, 'REFRESH_TOKEN_TTL', 30 * 24 * 3600, 60),
    snapshotEvery: int(env, 'SNAPSHOT_EVERY', 100, 1, 100_000),
    presenceTtl: int(env, 'PRESENCE_TTL', 30, 1),
    idleAfter: int(env, 'IDLE_AFTER', 60, 1),
    graphiql: bool(env, 'GRAPHIQL', true),
    introspection: bool(env, 'INTROSPECTION', true),
    corsOrigins: cors
      ? cors
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined,
    // Unset: CORS_ORIGINS, whose entries are not validated (an entry that is no origin
    // could match no frame anyway, so it is skipped rather than stopping the process).
    embedOrigins: env.EMBED_ORIGINS?.trim()
      ? origins('EMBED_ORIGINS', env.EMBED_ORIGINS, true)
      : origins('CORS_ORIGINS', cors ?? '', false),
    trustProxy: bool(env, 'TRUST_PROXY', false),
    logLevel: logLevel as Config['logLevel'],
    rateLimits: {
      mutationsPerMinute: int(env, 'RATE_LIMIT_MUTATIONS', 600, 1),
      submitsPerMinute: int(env, 'RATE_LIMIT_SUBMITS', 6000, 1),
      presencePerMinute: int(env, 'RATE_LIMIT_PRESENCE', 12000, 1),
      authPerIpPerMinute: int(env, 'RATE_LIMIT_AUTH_PER_IP', 30, 1),
      pointsPerMinute: int(env, 'RATE_LIMIT_POINTS', 600_000, 1),
      subscriptionsPerSocket: int(env, 'MAX_SUBSCRIPTIONS_PER_SOCKET', 50, 1),
      socketsPerUser: int(env, 'MAX_SOCKETS_PER_USER', 50, 1),
    },
    queryLimits: {
      maxDepth: int(env, 'QUERY_MAX_DEPTH', 12, 1),
      maxAliases: int(env, 'QUERY_MAX_ALIASES', 20, 1),
      maxTokens: int(env, 'QUERY_MAX_TOKENS', 4000, 10),
      maxCost: int(env, 'QUERY_MAX_COST', 20_000, 10),
    },
    maxMessageBytes: int(env, 'MAX_MESSAGE_BYTES', 1024 * 1024, 1024),
    connectionInitTimeout: int(env, 'CONNECTION_INIT_TIMEOUT', 10, 1),
    keepAliveMs: int(env, 'KEEPALIVE_MS', 12_000, 100),
    wsMaxBufferedBytes: int(env, 'WS_MAX_BUFFERED_BYTES', 8 * 1024 * 1024, 1024),
    recheckIntervalMs: int(env, 'RECHECK_INTERVAL_MS', 5000, 0),
    otelEndpoint: url(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']),
    webDist: env.WEB_DIST || 'web/dist',
    series: {
      retentionMs: int(env, 'SERIES_RETENTION', 7 * 86_400, 60) * 1000,
      maxPerDashboard: int(env, 'MAX_SERIES_PER_DASHBOARD', 10_000, 1, 1_000_000),
      batchMs: int(env, 'SERIES_BATCH_MS', 100, 10, 60_000),
    },
    datasources: parseDatasources(env.DATASOURCES),
  };
  return {
    ...config,
    ...overrides,
    rateLimits: { ...config.rateLimits, ...overrides.rateLimits },
    queryLimits: { ...config.queryLimits, ...overrides.queryLimits },
    series: { ...config.series, ...overrides.series },
  };
}
