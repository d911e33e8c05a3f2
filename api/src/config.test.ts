import { parseRedisUrl } from './adapters/redis-client.js';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has embedded defaults for everything', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      dataDir: './data',
      databaseUrl: undefined,
      redisUrl: undefined,
      jwtSecret: undefined,
      accessTokenTtl: 900,
      refreshTokenTtl: 30 * 24 * 3600,
      snapshotEvery: 100,
      presenceTtl: 30,
      idleAfter: 60,
      graphiql: true,
      introspection: true,
    });
  });

  it('reads the variables', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u@h:5432/db',
      REDIS_URL: 'redis://h:6379',
      GRAPHIQL: 'off',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      SNAPSHOT_EVERY: '50',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u@h:5432/db',
      redisUrl: 'redis://h:6379',
      graphiql: false,
      corsOrigins: ['https://a.example', 'https://b.example'],
      snapshotEvery: 50,
    });
  });

  it('[#17] reads a Redis Cluster URL and read replicas', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u@p:5432/db',
      DATABASE_REPLICA_URLS: ' postgres://u@r1:5432/db , postgresql://u@r2/db,',
      REDIS_URL: 'redis-cluster://u:s%40cret@n1:6379,n2:6380,[::1]:7000',
    });
    expect(config.databaseReplicaUrls).toEqual(['postgres://u@r1:5432/db', 'postgresql://u@r2/db']);
    expect(config.redisUrl).toBe('redis-cluster://u:s%40cret@n1:6379,n2:6380,[::1]:7000');
    expect(parseRedisUrl(config.redisUrl!)).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 6379 },
        { host: 'n2', port: 6380 },
        { host: '::1', port: 7000 },
      ],
      username: 'u',
      password: 's@cret',
      tls: false,
    });
    expect(parseRedisUrl('rediss-cluster://n1:6379')).toMatchObject({ kind: 'cluster', tls: true });
    expect(parseRedisUrl('redis://h:6379/2')).toEqual({ kind: 'single', url: 'redis://h:6379/2' });
    expect(loadConfig({}).databaseReplicaUrls).toEqual([]);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://p/db', DATABASE_REPLICA_URLS: 'mysql://r/db' })).toThrow(
      /DATABASE_REPLICA_URLS/,
    );
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'not a url'],
    ['REDIS_URL', 'redis-cluster://h1:6379,h2'],
    ['REDIS_URL', 'redis-cluster://h1:6379/0'],
    ['REDIS_URL', 'memcached://h:1'],
    ['DATABASE_REPLICA_URLS', 'postgres://r1/db'],
    ['JWT_SECRET', 'short'],
    ['ACCESS_TOKEN_TTL', '0'],
    ['GRAPHIQL', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['SNAPSHOT_EVERY', '-1'],
    ['EMBED_ORIGINS', 'example.com'],
    ['EMBED_ORIGINS', 'https://a.example/path'],
    ['EMBED_ORIGINS', 'ftp://a.example'],
    ['EMBED_ORIGINS', 'https://*.example.com'],
    ['EMBED_ORIGINS', '*, https://a.example'],
  ])('refuses a bad %s (%s) with a message naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(name));
  });

  describe('[EM2] EMBED_ORIGINS', () => {
    it('lists normalised origins', () => {
      expect(
        loadConfig({ EMBED_ORIGINS: 'https://A.example:443/, http://b.example:8080,https://a.example' }).embedOrigins,
      ).toEqual(['https://a.example', 'http://b.example:8080']);
      expect(loadConfig({ EMBED_ORIGINS: '*' }).embedOrigins).toEqual(['*']);
    });

    it('defaults to the origins of CORS_ORIGINS, else none', () => {
      expect(loadConfig({}).embedOrigins).toEqual([]);
      expect(loadConfig({ CORS_ORIGINS: 'https://a.example, not-an-origin' }).embedOrigins).toEqual([
        'https://a.example',
      ]);
      expect(
        loadConfig({ CORS_ORIGINS: 'https://a.example', EMBED_ORIGINS: 'https://c.example' }).embedOrigins,
      ).toEqual(['https://c.example']);
    });
  });
});

describe('[LD5] DATASOURCES', () => {
  const load = (value: unknown) =>
    loadConfig({ DATASOURCES: typeof value === 'string' ? value : JSON.stringify(value) });

  it('is empty when unset, and reads names, URLs, credentials and timeouts', () => {
    expect(loadConfig({}).datasources).toEqual({});
    const { datasources } = load({
      prom: { type: 'prometheus', url: 'http://prometheus:9090/' },
      'thanos.eu-1': {
        type: 'prometheus',
        url: 'https://thanos.example/prefix',
        basicAuth: { username: 'u', password: 'p' },
        timeout: 3000,
      },
      cloud: { type: 'prometheus', url: 'https://prom.example', bearerToken: 'secret' },
    });
    expect(datasources).toEqual({
      prom: { type: 'prometheus', url: 'http://prometheus:9090', timeoutMs: 10_000 },
      'thanos.eu-1': {
        type: 'prometheus',
        url: 'https://thanos.example/prefix',
        basicAuth: { username: 'u', password: 'p' },
        timeoutMs: 3000,
      },
      cloud: { type: 'prometheus', url: 'https://prom.example', bearerToken: 'secret', timeoutMs: 10_000 },
    });
  });

  it.each([
    ['not JSON', '{prom:'],
    ['an array', []],
    ['another type', { prom: { type: 'influx', url: 'http://a' } }],
    ['no URL', { prom: { type: 'prometheus' } }],
    ['a URL that is not http(s)', { prom: { type: 'prometheus', url: 'file:///etc/passwd' } }],
    ['credentials in the URL', { prom: { type: 'prometheus', url: 'http://u:p@a' } }],
    ['a query in the URL', { prom: { type: 'prometheus', url: 'http://a/?x=1' } }],
    ['an unknown key (a typo)', { prom: { type: 'prometheus', url: 'http://a', bearertoken: 'x' } }],
    [
      'both kinds of auth',
      { prom: { type: 'prometheus', url: 'http://a', basicAuth: { username: 'u', password: 'p' }, bearerToken: 't' } },
    ],
    ['a bad timeout', { prom: { type: 'prometheus', url: 'http://a', timeout: 0 } }],
    ['a bad name', { 'a b': { type: 'prometheus', url: 'http://a' } }],
  ])('refuses %s, naming the variable', (_why, value) => {
    expect(() => load(value)).toThrow(ConfigError);
    expect(() => load(value)).toThrow(/DATASOURCES/);
  });
});
