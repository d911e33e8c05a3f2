/**
 * Checkpoints: named versions of a dashboard, to find and restore later (rule UN1: a restore
 * is an op of its own). Part of the Store (`./store.ts`); errors as described there.
 */

export interface CheckpointRow {
  id: string;
  dashboardId: string;
  name: string;
  version: number;
  createdBy: string;
  createdAt: Date;
}

export interface CheckpointStore {
  insertCheckpoint(row: CheckpointRow): Promise<CheckpointRow>;
  /** The dashboard's checkpoints, newest first. */
  listCheckpoints(dashboardId: string): Promise<CheckpointRow[]>;
  getCheckpoint(id: string): Promise<CheckpointRow | null>;
}
