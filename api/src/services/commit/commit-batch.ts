/**
 * The commit step: decides one dashboard's batch under its lock, like ShareDB's
 * submit-request next to the backend that schedules it (collab-scheduler.ts). In order, for
 * each submission: authorization with the roles the lock read (AC1, RO1), the duplicate check
 * (OP2), then by kind: an edit validated at its base (OP5), rebased over the later ops (OP3)
 * and given its undo step (UN2); an undo, redo or restore (UN1, UN2); a rename. Then the
 * layout fix-up (LY2) and the writes. Nothing is acked here: the transaction may still fail.
 */
import { setTitle, type DashboardDocument, type JSONOp } from '@collab-dashboards/core';
import { DomainError, badInput, forbidden, notFound } from '../../errors.js';
import { rebase, validateSubmittedOp, type HistoryOp } from '../../domain/commit.js';
import { diffDocuments } from '../../domain/restore.js';
import { can } from '../../domain/permissions.js';
import type { Clock } from '../../ports/clock.js';
import type { CommitTx, OperationRow } from '../../ports/operation-log.js';
import type { Recent, RecentCache } from '../collab-recent.js';
import type { OperationAck, Pending } from '../collab-types.js';
import { commitOp, documentAtBase, later, openBatch } from './batch.js';
import { fixLayout } from './layout-fixup.js';
import { existing, sameSubmission, seqReused } from './resubmission.js';
import { clearRedo, redoStep, undoGroupFor, undoStep } from './undo-steps.js';

/** What deciding one dashboard's batch produced, applied once the transaction commits. */
export interface BatchResult {
  rows: OperationRow[];
  outcomes: Array<{ pending: Pending; ack?: OperationAck | null; error?: unknown }>;
  conflicts: number;
  /** The recent cache the batch started from, when it was at the locked version. */
  warm: Recent | null;
  docs: Map<number, unknown>;
  sizes: number[];
}

const ackOf = (row: OperationRow, duplicate = false): OperationAck => ({
  version: row.version,
  op: row.op as JSONOp | null,
  duplicate,
});

/**
 * Decides one dashboard's batch under its lock: authorization, duplicates, validation,
 * rebase, undo bookkeeping; records the writes on `tx`. Nothing is acked here: the
 * transaction may still fail.
 */
export async function commitBatch(
  deps: { clock: Clock; recent: RecentCache; snapshotEvery: number },
  dashboardId: string,
  batch: Pending[],
  tx: CommitTx,
): Promise<BatchResult> {
  const outcomes: BatchResult['outcomes'] = [];
  let conflicts = 0;
  const cached = deps.recent.take(dashboardId); // set again once this batch has committed
  const now = deps.clock.now();
  const warm = cached?.version === tx.version ? cached : null; // the cache, when it is at the locked version
  const b = await openBatch(dashboardId, tx, warm, now, deps.snapshotEvery);
  const { roles } = tx;

  for (const pending of batch) {
    const s = pending.submission;
    try {
      // AC1 first: a non-member learns nothing, not even that an old op was acked.
      const role = roles.get(s.authorId);
      if (!role) throw notFound();
      if (!can(role, 'edit')) throw forbidden();
      const dup = existing(b, s.clientId, s.seq);
      if (dup) {
        if (!(await sameSubmission(b, s, dup))) throw seqReused(s, dup);
        outcomes.push({ pending, ack: ackOf(dup, true) });
        continue;
      }
      if (s.kind === 'edit') {
        if (s.baseVersion > b.version) {
          throw badInput(`baseVersion ${s.baseVersion} is ahead of the current version ${b.version}`);
        }
        const newer = await later(b, s.baseVersion);
        const docAtBase = documentAtBase(b, s.baseVersion, newer);
        const valid = validateSubmittedOp(s.op, docAtBase);
        if (!valid.ok) throw new DomainError('BAD_OPERATION', valid.message);
        const rebased = rebase(s.op, newer as HistoryOp[]);
        conflicts += rebased.conflicts;
        const row = commitOp(b, s, rebased.op, {
          kind: 'edit',
          undoState: 'active',
          refVersion: null,
          undoGroup: undoGroupFor(b, s.clientId, rebased.op, b.version + 1),
        });
        clearRedo(b, s.clientId, row.version);
        outcomes.push({ pending, ack: ackOf(row) });
      } else if (s.kind === 'undo' || s.kind === 'redo') {
        const step = s.kind === 'undo' ? await undoStep(b, s.clientId) : await redoStep(b, s.clientId);
        if (!step) {
          outcomes.push({ pending, ack: null });
          continue;
        }
        outcomes.push({ pending, ack: ackOf(commitOp(b, s, step.op, step.extra)) });
      } else if (s.kind === 'restore') {
        const row = commitOp(b, s, diffDocuments(b.head, s.target), {
          kind: 'restore',
          undoState: 'active',
          refVersion: s.version,
          undoGroup: b.version + 1,
        });
        clearRedo(b, s.clientId, row.version);
        outcomes.push({ pending, ack: ackOf(row) });
      } else if (s.kind === 'rename') {
        const head = b.head as DashboardDocument;
        const op = head.title === s.title ? null : setTitle(head, s.title);
        const row = commitOp(b, s, op, { kind: 'rename', undoState: null, refVersion: null, undoGroup: null });
        outcomes.push({ pending, ack: ackOf(row) });
      }
    } catch (error) {
      // A database failure aborts the transaction: fail the whole group. That is the store's
      // UNAVAILABLE (the database is gone) or an error carrying a SQLSTATE (a statement
      // refused). Anything else fails this submission only.
      const aborted =
        error instanceof DomainError
          ? error.code === 'UNAVAILABLE'
          : typeof (error as { code?: unknown })?.code === 'string';
      if (aborted) throw error;
      outcomes.push({ pending, error });
    }
  }

  fixLayout(b);

  if (b.rows.length > 0) {
    tx.write({
      clearRedo: [...b.clearRedoFor],
      undoStates: [...b.stateChanges],
      operations: b.rows,
      snapshots: b.snapshots,
      head: { version: b.version, document: b.head, title: (b.head as { title: string }).title, at: now },
    });
    // The cache is dropped if the transaction fails (it was taken out above).
    for (const [v, state] of b.stateChanges) {
      const row = b.history.find((r) => r.version === v);
      if (row) row.undoState = state;
    }
  }
  return { rows: b.rows, outcomes, conflicts, warm, docs: b.docs, sizes: b.sizes };
}
