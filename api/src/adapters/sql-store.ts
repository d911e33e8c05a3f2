/**
 * The Store on SQL, written once for PostgreSQL (`pg`) and PGlite: one part per port under
 * `./sql/`, each a factory over the shared `SqlDb`, composed here into the one Store. A new
 * kind of data joins as its own port and part. Every part sees the database through
 * `withStoreErrors` (`./sql/errors.ts`), so each reports a lost database as UNAVAILABLE.
 */
import type { Store } from '../ports/store.js';
import type { SqlDb } from './sql-db.js';
import { createSqlAccounts } from './sql/accounts.js';
import { createSqlAudit } from './sql/audit.js';
import { createSqlCheckpoints } from './sql/checkpoints.js';
import { createSqlDashboards } from './sql/dashboards.js';
import { withStoreErrors } from './sql/errors.js';
import { createSqlLeases } from './sql/leases.js';
import { migrate } from './sql/migrations.js';
import { createSqlOperationLog } from './sql/operation-log.js';
import { createSqlSeries } from './sql/series.js';
import { createSqlSettings } from './sql/settings.js';

export function createSqlStore(driver: SqlDb): Store {
  const db = withStoreErrors(driver);
  return {
    migrate: () => migrate(db),

    async ping() {
      await db.query('SELECT 1');
    },

    close: () => db.close(),

    ...createSqlSettings(db),
    ...createSqlAccounts(db),
    ...createSqlDashboards(db),
    ...createSqlOperationLog(db),
    ...createSqlCheckpoints(db),
    ...createSqlAudit(db),
    ...createSqlSeries(db),
    ...createSqlLeases(db),
  };
}
