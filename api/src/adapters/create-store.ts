/**
 * Picks the storage backend: PostgreSQL when a URL is given (with its read replicas, if any),
 * else PGlite in a folder.
 */
import { mkdir } from 'node:fs/promises';
import type { ClientConfig } from 'pg';
import type { Store } from '../ports/store.js';
import { createPgDb, createPgliteDb, createPgReplicaPool } from './sql-db.js';
import { createSqlStore } from './sql-store.js';
import type { OnRead } from './sql/replica-reads.js';

export interface StoreOptions {
  databaseUrl?: string;
  /**
   * Streaming replicas of `databaseUrl` (DATABASE_REPLICA_URLS): history, catch-up, cold
   * opens, snapshots, audit and series reads may be answered there (adapters/sql/replica-reads.ts).
   */
  replicaUrls?: readonly string[];
  /** PGlite data folder; `memory://` keeps everything in memory (tests). */
  dataDir?: string;
  /**
   * PGlite only: start from this data folder (a `dumpDataDir()` tarball) instead of running
   * initdb (5-10 s of CPU); tests load a migrated empty database made once.
   */
  loadDataDir?: Blob;
  /** Max pooled connections to PostgreSQL (to the primary, and to each replica). */
  poolSize?: number;
  /** Each read routed to a replica or back to the primary (dash_db_reads_total). */
  onRead?: OnRead;
  /** A replica left the rotation: `name` is its host:port. */
  onReplicaDown?: (name: string, error: unknown) => void;
}

/** A replica that does not answer within these is out of rotation; the primary answers the read. */
export const REPLICA_TIMEOUTS = { connectMs: 1000, queryMs: 2000 };

/** Opens the store and applies migrations. */
export async function openStore(options: StoreOptions): Promise<Store> {
  let store: Store;
  if (options.databaseUrl) {
    const pg = (await import('pg')).default;
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 5000,
    });
    // An idle client that loses its server emits 'error' on the pool: without a listener
    // that would crash the process. Queries that fail report through their promise.
    pool.on('error', () => {});
    // The connect timeout on the connection only: the pool's would also end a read's wait for
    // a busy pool (a catch-up storm), and a busy replica is not a replica that is down.
    class ReplicaClient extends pg.Client {
      constructor(config?: ClientConfig) {
        super({ ...config, connectionTimeoutMillis: REPLICA_TIMEOUTS.connectMs });
      }
    }
    const replicas = (options.replicaUrls ?? []).map((url) => {
      const replica = new pg.Pool({
        connectionString: url,
        max: options.poolSize ?? 10,
        query_timeout: REPLICA_TIMEOUTS.queryMs,
        Client: ReplicaClient,
      });
      replica.on('error', () => {});
      return createPgReplicaPool(replica, new URL(url).host);
    });
    store = createSqlStore(createPgDb(pool), {
      replicas,
      onRead: options.onRead,
      onReplicaDown: options.onReplicaDown,
    });
  } else {
    const { PGlite } = await import('@electric-sql/pglite');
    const dir = options.dataDir ?? './data';
    if (!dir.startsWith('memory://')) await mkdir(dir, { recursive: true });
    const pglite = await PGlite.create(dir, options.loadDataDir ? { loadDataDir: options.loadDataDir } : {});
    store = createSqlStore(createPgliteDb(pglite));
  }
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {}); // no pool or PGlite instance outlives a failed open
    throw error;
  }
  return store;
}
