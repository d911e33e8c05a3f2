/**
 * The commit scheduler (rules OP1, OP4; publishing after commit: SUB1, SUB2). Submissions
 * wait in one in-process queue per dashboard. A few commit transactions run at a time per
 * instance (as many as the store's `commitConcurrency`); whatever arrives while they run is committed together in the next one, across
 * dashboards (group commit: one transaction, four round trips, for many ops on many
 * dashboards). Across instances the dashboard row lock serialises commits, so the history
 * never forks. Ops are published only after their transaction committed. What one
 * dashboard's batch commits is decided by commit/commit-batch.ts.
 */
import { DomainError, notFound } from '../errors.js';
import { traced } from '../tracing.js';
import type { CommitTx, OperationLog, OperationRow } from '../ports/operation-log.js';
import type { BatchResult } from './commit/commit-batch.js';
import type { RecentCache } from './collab-recent.js';
import type { EngineMetrics, OperationAck, Pending, Submission } from './collab-types.js';

/** Submissions of one dashboard per transaction. */
const MAX_BATCH = 200;
/** Dashboards per transaction. */
const MAX_GROUP = 64;
/** Bytes of ops per transaction (as submitted; each also stores its inverse), at least one op. */
const MAX_GROUP_BYTES = 8 * 1024 * 1024;

/** The store's answer when the database is gone (rule OP4): nothing was committed. */
const isUnavailable = (error: unknown) => error instanceof DomainError && error.code === 'UNAVAILABLE';

/** One dashboard's share of a commit transaction. */
interface Part {
  dashboardId: string;
  batch: Pending[];
}

export interface CommitScheduler {
  /** Queues a submission; resolves with its ack once its transaction committed. */
  enqueue(dashboardId: string, submission: Submission): Promise<OperationAck | null>;
  /** Resolves when queued commits are done (graceful shutdown). */
  drain(): Promise<void>;
}

export function createCommitScheduler(deps: {
  store: OperationLog;
  /** Decides one dashboard's batch under its lock; acks nothing (the transaction may fail). */
  commitBatch(dashboardId: string, batch: Pending[], tx: CommitTx): Promise<BatchResult>;
  recent: RecentCache;
  publish(committed: OperationRow[]): Promise<void>;
  metrics?: EngineMetrics;
  onPublishError?: (error: unknown) => void;
}): CommitScheduler {
  const { store } = deps;
  // dashboardId -> submissions waiting (never empty), the dashboard waiting longest first
  const queues = new Map<string, Pending[]>();
  const committing = new Set<string>(); // dashboards in a running commit transaction
  const inFlight = new Set<Promise<void>>(); // running commit transactions
  let scheduled = false; // a schedule() is due at the end of this loop turn

  function enqueue(dashboardId: string, submission: Submission): Promise<OperationAck | null> {
    return new Promise((resolve, reject) => {
      let queue = queues.get(dashboardId);
      if (!queue) queues.set(dashboardId, (queue = []));
      const bytes =
        submission.kind === 'edit'
          ? submission.bytes
          : submission.kind === 'restore'
            ? JSON.stringify(submission.target).length
            : 64;
      queue.push({ submission, bytes, arrivedAt: performance.now(), resolve, reject });
      if (!scheduled) {
        // At the end of this loop turn: the submissions read from other sockets in this
        // turn join the same transaction, instead of the first starting one of its own.
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          schedule();
        });
      }
    });
  }

  /**
   * Starts commit transactions while fewer than the store's `commitConcurrency` run: each takes the
   * dashboards waiting longest (up to MAX_GROUP of them, MAX_BATCH submissions each).
   * Whatever arrives meanwhile waits for a free slot and goes in together: under load, one
   * transaction commits many submissions to many dashboards.
   */
  function schedule() {
    while (inFlight.size < store.commitConcurrency) {
      const parts = takeGroup();
      if (parts.length === 0) return;
      const run: Promise<void> = runGroup(parts)
        .catch((error) => deps.onPublishError?.(error)) // after the commit: acks are out already
        .finally(() => {
          inFlight.delete(run);
          for (const { dashboardId } of parts) committing.delete(dashboardId);
          schedule();
        });
      inFlight.add(run);
    }
  }

  /** The next transaction's share of the queues of dashboards not committing now. */
  function takeGroup(): Part[] {
    const parts: Part[] = [];
    let bytes = 0;
    for (const [dashboardId, queue] of queues) {
      if (parts.length >= MAX_GROUP || bytes >= MAX_GROUP_BYTES) break;
      if (committing.has(dashboardId)) continue;
      let n = 0;
      while (n < queue.length && n < MAX_BATCH && (bytes === 0 || bytes + queue[n]!.bytes <= MAX_GROUP_BYTES)) {
        bytes += queue[n++]!.bytes;
      }
      if (n === 0) break;
      const batch = queue.splice(0, n);
      if (queue.length === 0) queues.delete(dashboardId);
      committing.add(dashboardId);
      parts.push({ dashboardId, batch });
    }
    return parts;
  }

  async function runGroup(parts: Part[]) {
    const ops = parts.reduce((n, part) => n + part.batch.length, 0);
    await traced('dashboard.commit', { 'dashboard.ops': ops, 'dashboard.count': parts.length }, async () => {
      let results: Map<string, BatchResult>;
      try {
        results = await transact(parts);
      } catch (error) {
        if (parts.length === 1 || isUnavailable(error)) {
          for (const part of parts) for (const p of part.batch) p.reject(error);
          return;
        }
        // Nothing was committed. One dashboard's trouble must not fail the others: each alone
        // (unless the database itself is gone: then the rest fail at once, as UNAVAILABLE).
        let unavailable: unknown = null;
        for (const part of parts) {
          if (unavailable) {
            for (const p of part.batch) p.reject(unavailable);
            continue;
          }
          let alone: Map<string, BatchResult>;
          try {
            alone = await transact([part]);
          } catch (failure) {
            if (isUnavailable(failure)) unavailable = failure;
            for (const p of part.batch) p.reject(failure);
            continue;
          }
          await settle([part], alone);
        }
        return;
      }
      await settle(parts, results);
    });
  }

  /** One transaction for these dashboards' batches. Nothing is acked or published yet. */
  async function transact(parts: Part[]) {
    const results = new Map<string, BatchResult>();
    await store.withDashboardLocks(
      parts.map(({ dashboardId, batch }) => ({
        dashboardId,
        // Every submission (edit, undo, redo, restore, rename) is authorized under the lock,
        // for the whole batch in the lock's round trip: a role changed by the time the batch
        // commits is the role that counts. Rule OP2:
        // what the batch resubmits is found in the same round trip.
        screen: {
          userIds: batch.map((p) => p.submission.authorId),
          keys: batch.map(({ submission: s }) => ({ clientId: s.clientId, seq: s.seq })),
        },
      })),
      async (txs) => {
        for (const { dashboardId, batch } of parts) {
          const tx = txs.get(dashboardId);
          if (tx) results.set(dashboardId, await deps.commitBatch(dashboardId, batch, tx));
        }
      },
    );
    return results;
  }

  /** After the commit: caches, metrics, acks, then the ops go out. */
  async function settle(parts: Part[], results: Map<string, BatchResult>) {
    const done = performance.now();
    for (const { dashboardId, batch } of parts) {
      const result = results.get(dashboardId);
      if (!result) {
        for (const p of batch) p.reject(notFound()); // deleted since its submissions were queued
        continue;
      }
      try {
        deps.recent.remember(dashboardId, result.warm, result.rows, result.sizes, result.docs);
        for (const o of result.outcomes) {
          if (o.ack && !o.ack.duplicate) deps.metrics?.committed((done - o.pending.arrivedAt) / 1000);
        }
        if (result.conflicts > 0) deps.metrics?.conflicts(result.conflicts);
      } catch (error) {
        deps.onPublishError?.(error); // bookkeeping only: the acks below must go out regardless
      }
      for (const o of result.outcomes) {
        if (o.error !== undefined) o.pending.reject(o.error);
        else o.pending.resolve(o.ack ?? null);
      }
    }
    const published = [...results.values()].filter((r) => r.rows.length > 0);
    await traced('bus.publish', { 'dashboard.ops': published.reduce((n, r) => n + r.rows.length, 0) }, () =>
      Promise.all(published.map((r) => deps.publish(r.rows))),
    );
  }

  return {
    enqueue,
    async drain() {
      // Also what is queued for a transaction that starts at the end of this turn.
      while (inFlight.size > 0 || scheduled || queues.size > 0) {
        if (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        else await new Promise((resolve) => setImmediate(resolve));
      }
    },
  };
}
