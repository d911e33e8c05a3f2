/**
 * The read side of the history (rule OP1: one linear history, kept as long as the dashboard
 * exists): the document at any version, rebuilt from the newest snapshot at or below it
 * (api/SPEC.md, Snapshots and history), and pages of committed ops. Reads take no lock and
 * never wait on the commit queues.
 */
import { applyOp, type JSONOp } from '@collab-dashboards/core';
import { DomainError, badInput } from '../errors.js';
import type { DashboardStore } from '../ports/dashboard-store.js';
import type { OperationLog, OperationRow } from '../ports/operation-log.js';

/** What history reads. */
type History = DashboardStore & OperationLog;

/** The dashboard's head version, once `version` is checked to be one of its versions (0 to the head). */
export async function checkVersion(store: History, dashboardId: string, version: number): Promise<number> {
  const head = (await store.dashboardVersions([dashboardId])).get(dashboardId);
  if (head === undefined) throw new DomainError('NOT_FOUND', 'Dashboard not found');
  if (!Number.isSafeInteger(version) || version < 0 || version > head) {
    throw badInput(`version must be between 0 and ${head}`);
  }
  return head;
}

/** The document at `version`: the newest snapshot at or below it, plus the ops after it. */
export async function replayTo(store: History, dashboardId: string, version: number): Promise<unknown> {
  const snapshot = await store.latestSnapshot(dashboardId, version);
  if (!snapshot) throw badInput(`No version ${version}`);
  let doc = snapshot.document;
  for (const row of await store.listOperationRange(dashboardId, snapshot.version, version)) {
    if (row.op !== null) doc = applyOp(doc, row.op as JSONOp);
  }
  return doc;
}

export async function documentAt(store: History, dashboardId: string, version: number): Promise<unknown> {
  // Only the head's document is read from the row; an older version (or a head that moved
  // on meanwhile) is rebuilt from its snapshot and ops.
  if (version === (await checkVersion(store, dashboardId, version))) {
    const row = await store.getDashboard(dashboardId);
    if (row?.version === version) return row.document;
  }
  return replayTo(store, dashboardId, version);
}

export async function operations(
  store: History,
  dashboardId: string,
  fromVersion: number,
  limit: number,
): Promise<OperationRow[]> {
  if (!Number.isSafeInteger(fromVersion) || fromVersion < 0)
    throw badInput('fromVersion must be a non-negative integer');
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw badInput('limit must be 1 to 1000');
  return store.listOperations(dashboardId, fromVersion, limit);
}
