/**
 * What the Store contract's tests (`./store-contract.ts`, `./operation-log-contract.ts`,
 * `./series-store-contract.ts`) build on.
 */
import { randomUUID } from 'node:crypto';
import { canonicalLabels, seriesKey, type Labels } from '../../src/domain/series.js';
import { DomainError } from '../../src/errors.js';
import type { AccountStore } from '../../src/ports/account-store.js';
import type { AuditLog } from '../../src/ports/audit-log.js';
import type { CheckpointStore } from '../../src/ports/checkpoint-store.js';
import type { DashboardStore } from '../../src/ports/dashboard-store.js';
import type { CommitScreen, CommitTx, CommitWrite, OperationLog, OperationRow } from '../../src/ports/operation-log.js';
import type { PointWrite, SeriesStore } from '../../src/ports/series-store.js';
import type { SettingsStore } from '../../src/ports/settings-store.js';
import type { StoreLifecycle } from '../../src/ports/store.js';

/** One Store seen as its ports: the contract reaches each aggregate through its own. */
export interface StorePorts {
  lifecycle: StoreLifecycle;
  settings: SettingsStore;
  accounts: AccountStore;
  dashboards: DashboardStore;
  log: OperationLog;
  checkpoints: CheckpointStore;
  audit: AuditLog;
  series: SeriesStore;
}

export async function newUser(accounts: AccountStore, name = 'U') {
  const id = randomUUID();
  const user = await accounts.createUser({
    id,
    email: `${id}@example.com`,
    name,
    color: '#123456',
    passwordHash: 'h',
  });
  return user!;
}

export const newDashboard = (dashboards: DashboardStore, ownerId: string) =>
  dashboards.createDashboard({
    id: randomUUID(),
    ownerId,
    title: 'T',
    document: { title: 'T', widgets: {}, layout: [] },
    now: new Date(),
  });

export const op = (d: string, version: number, over: Partial<OperationRow> = {}): OperationRow => ({
  dashboardId: d,
  version,
  op: ['widgets', `w${version}`, { i: version }],
  inverse: ['widgets', `w${version}`, { r: true }],
  authorId: over.authorId!,
  clientId: 'c1',
  seq: version,
  kind: 'edit',
  undoState: 'active',
  refVersion: null,
  undoGroup: version,
  createdAt: new Date(),
  ...over,
});

/** A commit's writes with nothing but ops and the head. */
export const writeOf = (rows: OperationRow[], version: number, extra: Partial<CommitWrite> = {}): CommitWrite => ({
  clearRedo: [],
  undoStates: [],
  operations: rows,
  snapshots: [],
  head: { version, document: { title: 'T', widgets: {}, layout: [] }, title: 'T', at: new Date() },
  ...extra,
});

/** A commit transaction of one dashboard (a group of one); fails when it is not there to lock. */
export function lockOne<T>(
  log: OperationLog,
  dashboardId: string,
  fn: (tx: CommitTx) => Promise<T>,
  screen?: CommitScreen,
): Promise<T> {
  return log.withDashboardLocks([{ dashboardId, screen }], (txs) => {
    const tx = txs.get(dashboardId);
    if (!tx) throw new Error(`dashboard ${dashboardId} is not there to lock`);
    return fn(tx);
  });
}

/** Series tests: an hour ago on a minute, recent enough that no retention prunes it meanwhile. */
export const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
export const DAY = 86_400_000;
export const CAP = { maxSeries: 100 };

/** A point as domain/series.ts validatePoints makes it (sorted labels, the series key). */
export function point(name: string, labels: Labels, t: number, v: number): PointWrite {
  const sorted = canonicalLabels(labels);
  return { name, labels: sorted, key: seriesKey(name, sorted), t, v };
}

/** The DomainError `pending` fails with. */
export async function refusal(pending: Promise<unknown>): Promise<DomainError> {
  try {
    await pending;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('accepted');
}
