/**
 * The audit log: an append-only record of state-changing mutations, read newest first. Rule
 * RO1: only a dashboard's OWNER reads it (checked by the caller). Part of the Store
 * (`./store.ts`); errors as described there.
 */

export interface AuditRow {
  id: string;
  at: Date;
  dashboardId: string | null;
  userId: string | null;
  action: string;
  details: unknown;
  ip: string | null;
}

export interface AuditLog {
  insertAudit(entry: Omit<AuditRow, 'id' | 'at'> & { at: Date }): Promise<void>;
  /** The dashboard's newest `limit` entries, newest first. */
  listAudit(dashboardId: string, limit: number): Promise<AuditRow[]>;
}
