/** Picks the storage backend: PostgreSQL when a URL is given, else PGlite in a folder. */
import { mkdir } from 'node:fs/promises';
import type { Store } from '../ports/store.js';
import { createPgDb, createPgliteDb } from './sql-db.js';
import { createSqlStore } from './sql-store.js';

export interface StoreOptions {
  databaseUrl?: string;
  /** PGlite data folder; `memory://` keeps everything in memory (tests). */
  dataDir?: string;
  /** Max pooled connections to PostgreSQL. */
  poolSize?: number;
}

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
    store = createSqlStore(createPgDb(pool));
  } else {
    const { PGlite } = await import('@electric-sql/pglite');
    const dir = options.dataDir ?? './data';
    if (!dir.startsWith('memory://')) await mkdir(dir, { recursive: true });
    store = createSqlStore(createPgliteDb(await PGlite.create(dir)));
  }
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {}); // no pool or PGlite instance outlives a failed open
    throw error;
  }
  return store;
}
