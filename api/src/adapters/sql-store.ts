/**
 * The Store on SQL, written once for PostgreSQL (`pg`) and PGlite: one part per port under
 * `./sql/`, each a factory over the shared `SqlDb`, composed here into the one Store. A new
 * kind of data joins as its own port and part. Every part sees the database through
 * `withStoreErrors` (`./sql/errors.ts`), so each reports a lost database as UNAVAILABLE.
 * With read replicas (PostgreSQL only), a few reads are answered from them, exactly as the
 * primary would answer (`./sql/replica-reads.ts`); the store's lifecycle is the primary's.
 */
import type { Store } from '../ports/store.js';
import type { ReplicaPool, SqlDb } from './sql-db.js';
import { createSqlAccounts } from './sql/accounts.js';
import { createSqlAudit } from './sql/audit.js';
import { createSqlCheckpoints } from './sql/checkpoints.js';
import { createSqlDashboards } from './sql/dashboards.js';
import { withStoreErrors } from './sql/errors.js';
import { createSqlLeases } from './sql/leases.js';
import { migrate } from './sql/migrations.js';
import { createSqlOperationLog } from './sql/operation-log.js';
import { createReplicaReads, type OnRead } from './sql/replica-reads.js';
import { createReplicaSet } from './sql/replica-set.js';
import { createSqlSeries } from './sql/series.js';
import { createSqlSettings } from './sql/settings.js';

export interface ReplicaOptions {
  replicas: readonly ReplicaPool[];
  /** Each routed read, by who answered it and why (the dash_db_reads_total counter). */
  onRead?: OnRead;
  /** A replica left the rotation (it is probed back in after a backoff). */
  onReplicaDown?: (name: string, error: unknown) => void;
}

export function createSqlStore(driver: SqlDb, options?: ReplicaOptions): Store {
  const db = withStoreErrors(driver);
  const replicas =
    options && options.replicas.length > 0
      ? createReplicaSet({ replicas: options.replicas, primary: db, onDown: options.onReplicaDown })
      : null;
  const store: Store = {
    migrate: () => migrate(db),

    // The primary's only: a replica that is down takes nothing out of service.
    async ping() {
      await db.query('SELECT 1');
    },

    async close() {
      await replicas?.close();
      await db.close();
    },

    ...createSqlSettings(db),
    ...createSqlAccounts(db),
    ...createSqlDashboards(db),
    ...createSqlOperationLog(db),
    ...createSqlCheckpoints(db),
    ...createSqlAudit(db),
    ...createSqlSeries(db),
    ...createSqlLeases(db),
  };
  if (!replicas) return store;
  return {
    ...store,
    ...createReplicaReads({ primary: store, primaryDb: db, replicas, onRead: options?.onRead }),
  };
}
