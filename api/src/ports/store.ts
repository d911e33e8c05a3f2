/**
 * The storage port: one small interface per aggregate, each in its own file (accounts,
 * dashboards and members, the op log with its commit transaction, checkpoints, the audit log,
 * settings, series and their points, leases), and the database's lifecycle here. A service declares
 * only the parts it uses; the app holds the whole Store. One implementation
 * (`createSqlStore`, adapters/sql-store.ts) runs on PostgreSQL (`pg`) and on PGlite; both pass
 * `registerStoreContract`. A new kind of data joins as one more part.
 *
 * Errors (rule OP4): when the database cannot be reached, every member (and every read of a
 * CommitTx) throws `DomainError('UNAVAILABLE')` with `retryAfter`: nothing was committed, the
 * caller may retry. The driver's error is its `cause`. Expected outcomes (an email taken, a
 * dashboard gone) are return values; anything else the database refuses is thrown as it is
 * (a bug, masked at the boundaries).
 */
import type { AccountStore } from './account-store.js';
import type { AuditLog } from './audit-log.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { DashboardStore } from './dashboard-store.js';
import type { LeaseStore } from './lease-store.js';
import type { OperationLog } from './operation-log.js';
import type { SeriesStore } from './series-store.js';
import type { SettingsStore } from './settings-store.js';

/** The database itself. */
export interface StoreLifecycle {
  /** Applies pending migrations (idempotent, safe with several instances starting). */
  migrate(): Promise<void>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Store
  extends
    StoreLifecycle,
    AccountStore,
    DashboardStore,
    OperationLog,
    CheckpointStore,
    AuditLog,
    SettingsStore,
    SeriesStore,
    LeaseStore {}
