/**
 * The smallest SQL surface both backends share: `pg` (a Pool on PostgreSQL) and PGlite
 * (PostgreSQL in WASM, embedded). The store is written once against it; it reports the
 * drivers' failures through `./sql/errors.ts`.
 */
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number }>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface SqlDb extends Queryable {
  /** Runs `fn` in one transaction; rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** How many commit transactions are worth running at once (the Store's `commitConcurrency`). */
  readonly commitConcurrency: number;
}

/**
 * A read replica's connections (DATABASE_REPLICA_URLS): a read checks out one connection, so
 * the check of how far the replica has replayed and the read it guards run on the same server,
 * in that order (adapters/sql/replica-set.ts).
 */
export interface ReplicaPool {
  /** host:port, for the log (never the URL: it may hold a password). */
  readonly name: string;
  connect(): Promise<ReplicaConnection>;
  close(): Promise<void>;
}

export interface ReplicaConnection {
  readonly db: Queryable;
  /** The same object for as long as the underlying connection lives (one server process). */
  readonly identity: object;
  /** Gives the connection back; `broken` closes it instead (it failed or timed out). */
  release(broken: boolean): void;
}

function clientQueryable(client: pg.PoolClient): Queryable {
  return {
    async query<R>(sql: string, params?: unknown[]) {
      const result = await client.query(sql, params as unknown[]);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  };
}

/** A replica through its own `pg` Pool. */
export function createPgReplicaPool(pool: pg.Pool, name: string): ReplicaPool {
  return {
    name,
    async connect() {
      const client = await pool.connect();
      let broken = false;
      // As in a transaction: a checked-out client has no pool listener for its errors.
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      return {
        db: clientQueryable(client),
        identity: client,
        release(failed) {
          client.off('error', onError);
          client.release(failed || broken);
        },
      };
    },
    close: () => pool.end(),
  };
}

/** PostgreSQL through a `pg` Pool. */
export function createPgDb(pool: pg.Pool): SqlDb {
  return {
    // Two per instance, each holding a pooled connection.
    commitConcurrency: 2,
    async query<T>(sql: string, params?: unknown[]) {
      const result = await pool.query(sql, params as unknown[]);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      // A checked-out client has no pool listener: a backend that dies mid-transaction
      // would emit an unhandled 'error' and crash the process. The failing query rejects.
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const value = await fn(clientQueryable(client));
        await client.query('COMMIT');
        return value;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection itself failed: do not hand it back to the pool
        }
        throw error;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}

/** PGlite: one embedded connection; PGlite serialises transactions itself. */
export function createPgliteDb(db: PGlite): SqlDb {
  return {
    // PGlite runs one transaction at a time in this thread: a second would only wait for the
    // first and split what the next group could take.
    commitConcurrency: 1,
    async query<T>(sql: string, params?: unknown[]) {
      const result = await db.query<T>(sql, params as unknown[]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction(async (t) =>
        fn({
          async query<R>(sql: string, params?: unknown[]) {
            const result = await t.query<R>(sql, params as unknown[]);
            return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
          },
          async exec(sql: string) {
            await t.exec(sql);
          },
        }),
      );
    },
    async close() {
      await db.close();
    },
  };
}
