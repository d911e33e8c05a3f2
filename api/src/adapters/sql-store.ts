/**
 * The Store on SQL, written once for PostgreSQL (`pg`) and PGlite: one part per aggregate
 * under `./sql/`, each a factory over the shared `SqlDb`, composed here into the one Store. A
 * new kind of data joins as its own part.
 */
import type { Store } from '../ports/store.js';
import type { SqlDb } from './sql-db.js';
import { createSqlAccounts } from './sql/accounts.js';
import { createSqlAudit } from './sql/audit.js';
import { createSqlDashboards } from './sql/dashboards.js';
import { createSqlOperationLog } from './sql/operation-log.js';
import { createSqlSettings } from './sql/settings.js';

export function createSqlStore(db: SqlDb): Store {
  return {
    kind: db.kind,

    async ping() {
      await db.query('SELECT 1');
    },

    close: () => db.close(),

    ...createSqlSettings(db),
    ...createSqlAccounts(db),
    ...createSqlDashboards(db),
    ...createSqlOperationLog(db),
    ...createSqlAudit(db),
  };
}
