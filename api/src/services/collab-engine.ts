/**
 * The collaboration engine's public API: commits ops (rules OP1-OP5, UN1, UN2, LY2) and serves
 * history (OP1). It checks what can be checked before queueing (OP2: a clientId belongs to the
 * user who first used it; OP5: an op's size) and composes the pieces, split the way ShareDB
 * splits its backend from the request it commits:
 * - collab-scheduler.ts: per-dashboard queues and group commit transactions;
 * - commit/: deciding one dashboard's batch under its lock (commit-batch.ts, with batch.ts,
 *   resubmission.ts for OP2, undo-steps.ts for UN1/UN2, layout-fixup.ts for LY2);
 * - collab-recent.ts: the recent versions this instance committed;
 * - collab-publish.ts: publishing after commit; collab-history.ts: reads.
 */
import { randomUUID } from 'node:crypto';
import type { JSONOp } from '@collab-dashboards/core';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { checkClientId, checkSeq, checkTitle, isId } from '../domain/validation.js';
import type { Clock } from '../ports/clock.js';
import type { DashboardMessage, EventBus } from '../ports/event-bus.js';
import type { CheckpointRow, CheckpointStore } from '../ports/checkpoint-store.js';
import type { DashboardRow, DashboardStore } from '../ports/dashboard-store.js';
import type { OperationLog, OperationRow } from '../ports/operation-log.js';
import { commitBatch } from './commit/commit-batch.js';
import { createCommitScheduler } from './collab-scheduler.js';
import { createRecentCache } from './collab-recent.js';
import { createPublisher } from './collab-publish.js';
import { checkVersion, documentAt, operations, replayTo } from './collab-history.js';
import type { EngineMetrics, OperationAck } from './collab-types.js';
import type { DashboardService } from './dashboard-service.js';
import type { Actor } from './actor.js';

export type { EngineMetrics, OperationAck } from './collab-types.js';
export { RUN_GAP_MS, RUN_SPAN_MS } from './commit/undo-steps.js';
export { LAYOUT_CLIENT } from './commit/layout-fixup.js';

export const MAX_OP_BYTES = 256 * 1024;

export interface CollabEngine {
  submit(
    actor: Actor,
    input: { dashboardId: string; clientId: string; seq: number; baseVersion: number; op: unknown },
  ): Promise<OperationAck>;
  undo(actor: Actor, input: { dashboardId: string; clientId: string; seq: number }): Promise<OperationAck | null>;
  redo(actor: Actor, input: { dashboardId: string; clientId: string; seq: number }): Promise<OperationAck | null>;
  restore(
    actor: Actor,
    input: { dashboardId: string; clientId: string; seq: number; version: number },
  ): Promise<OperationAck>;
  /** Commits a title change as an op (Dashboard.title always equals document.title). */
  rename(actor: Actor, dashboardId: string, title: string): Promise<DashboardRow>;
  createCheckpoint(actor: Actor, dashboardId: string, name: string): Promise<CheckpointRow>;
  documentAt(dashboardId: string, version: number): Promise<unknown>;
  operations(dashboardId: string, fromVersion: number, limit: number): Promise<OperationRow[]>;
  /** Resolves when queued commits are done (graceful shutdown). */
  drain(): Promise<void>;
}

export function createCollabEngine(deps: {
  store: DashboardStore & OperationLog & CheckpointStore;
  bus: EventBus;
  clock: Clock;
  dashboards: DashboardService;
  snapshotEvery: number;
  metrics?: EngineMetrics;
  onPublishError?: (error: unknown) => void;
  /**
   * Hands committed ops to this instance's own subscribers at once, so they never wait on
   * the bus (which may be down: SUB2); the bus still carries them to other instances.
   */
  deliverLocally?: (message: DashboardMessage) => void;
}): CollabEngine {
  const { store, bus, clock, dashboards } = deps;
  const clientOwners = new Map<string, string>(); // clientId -> userId (immutable once set)
  const recent = createRecentCache();
  const scheduler = createCommitScheduler({
    store,
    commitBatch: (dashboardId, batch, tx) =>
      commitBatch({ clock, recent, snapshotEvery: deps.snapshotEvery }, dashboardId, batch, tx),
    recent,
    publish: createPublisher({ bus, onPublishError: deps.onPublishError, deliverLocally: deps.deliverLocally }),
    metrics: deps.metrics,
    onPublishError: deps.onPublishError,
  });
  const { enqueue } = scheduler;

  /** Rule OP2: a clientId belongs to the user who first used it. */
  async function claim(clientId: string, userId: string) {
    checkClientId(clientId);
    if (clientId.startsWith('server:')) throw badInput('clientIds starting with "server:" are the server\'s own');
    let owner = clientOwners.get(clientId);
    if (owner === undefined) {
      owner = await store.claimClientId(clientId, userId);
      if (clientOwners.size > 100_000) clientOwners.clear();
      clientOwners.set(clientId, owner);
    }
    if (owner !== userId) throw forbidden('This clientId belongs to another user');
  }

  /** Checks what can be checked before queueing; edits are authorized in their batch. */
  async function prepare(actor: Actor, dashboardId: string, clientId: string, seq: number, authorizeNow = true) {
    checkSeq(seq);
    if (authorizeNow) await dashboards.authorize(actor.userId, dashboardId, 'edit');
    else if (!isId(dashboardId)) throw notFound();
    await claim(clientId, actor.userId);
  }

  return {
    async submit(actor, input) {
      const json = JSON.stringify(input.op ?? null);
      const size = Buffer.byteLength(json);
      if (size > MAX_OP_BYTES) {
        throw new DomainError('PAYLOAD_TOO_LARGE', `op is ${size} bytes; the limit is ${MAX_OP_BYTES}`);
      }
      // PostgreSQL's jsonb cannot hold U+0000: in JSON, the escape \u0000 whose backslash is
      // not itself escaped.
      if (/(?:^|[^\\])(?:\\\\)*\\u0000/.test(json)) {
        throw new DomainError('BAD_OPERATION', 'op contains the character U+0000, which cannot be stored');
      }
      if (!Number.isSafeInteger(input.baseVersion) || input.baseVersion < 0) {
        throw badInput('baseVersion must be a non-negative integer');
      }
      await prepare(actor, input.dashboardId, input.clientId, input.seq, false);
      const ack = await enqueue(input.dashboardId, {
        kind: 'edit',
        clientId: input.clientId,
        seq: input.seq,
        authorId: actor.userId,
        baseVersion: input.baseVersion,
        op: input.op as JSONOp,
        bytes: size,
      });
      return ack!;
    },

    async undo(actor, input) {
      await prepare(actor, input.dashboardId, input.clientId, input.seq);
      const ack = await enqueue(input.dashboardId, {
        kind: 'undo',
        clientId: input.clientId,
        seq: input.seq,
        authorId: actor.userId,
      });
      if (ack) await dashboards.audit(actor, 'undo', input.dashboardId, { version: ack.version });
      return ack;
    },

    async redo(actor, input) {
      await prepare(actor, input.dashboardId, input.clientId, input.seq);
      const ack = await enqueue(input.dashboardId, {
        kind: 'redo',
        clientId: input.clientId,
        seq: input.seq,
        authorId: actor.userId,
      });
      if (ack) await dashboards.audit(actor, 'redo', input.dashboardId, { version: ack.version });
      return ack;
    },

    async restore(actor, input) {
      await prepare(actor, input.dashboardId, input.clientId, input.seq);
      await checkVersion(store, input.dashboardId, input.version);
      const target = await replayTo(store, input.dashboardId, input.version);
      const ack = await enqueue(input.dashboardId, {
        kind: 'restore',
        clientId: input.clientId,
        seq: input.seq,
        authorId: actor.userId,
        version: input.version,
        target,
      });
      await dashboards.audit(actor, 'restoreVersion', input.dashboardId, {
        version: input.version,
        committed: ack!.version,
      });
      return ack!;
    },

    async rename(actor, dashboardId, title) {
      const clean = checkTitle(title);
      await dashboards.authorize(actor.userId, dashboardId, 'edit');
      // Renames are server-made ops: a fresh clientId of the caller's, so OP2 holds.
      const clientId = `rename:${randomUUID()}`;
      await claim(clientId, actor.userId);
      await enqueue(dashboardId, { kind: 'rename', clientId, seq: 1, authorId: actor.userId, title: clean });
      await dashboards.audit(actor, 'renameDashboard', dashboardId, { title: clean });
      const row = await store.getDashboard(dashboardId);
      if (!row) throw new DomainError('NOT_FOUND', 'Dashboard not found');
      return row;
    },

    async createCheckpoint(actor, dashboardId, name) {
      await dashboards.authorize(actor.userId, dashboardId, 'edit');
      const clean = name.trim();
      if (clean.length < 1 || clean.length > 200) throw badInput('Checkpoint name must be 1 to 200 characters');
      const dashboard = await store.getDashboard(dashboardId);
      if (!dashboard) throw new DomainError('NOT_FOUND', 'Dashboard not found');
      const checkpoint = await store.insertCheckpoint({
        id: randomUUID(),
        dashboardId,
        name: clean,
        version: dashboard.version,
        createdBy: actor.userId,
        createdAt: clock.now(),
      });
      await dashboards.audit(actor, 'createCheckpoint', dashboardId, { name: clean, version: checkpoint.version });
      await bus
        .publish(`dashboard:${dashboardId}`, { type: 'checkpoint', dashboardId, checkpointId: checkpoint.id })
        .catch((error) => deps.onPublishError?.(error));
      return checkpoint;
    },

    documentAt: (dashboardId, version) => documentAt(store, dashboardId, version),
    operations: (dashboardId, fromVersion, limit) => operations(store, dashboardId, fromVersion, limit),
    drain: () => scheduler.drain(),
  };
}
