/**
 * The collaboration engine: commits ops (rules OP1-OP5, UN1) and serves history.
 *
 * Submissions wait in one in-process queue per dashboard. A few commit transactions run at
 * a time per instance; whatever arrives while they run is committed together in the next
 * one, across dashboards (group commit: one transaction, four round trips, for many ops on
 * many dashboards). Across instances the dashboard row lock serialises commits, so the
 * history never forks. Ops are published only after their transaction committed.
 */
import { randomUUID } from 'node:crypto';
import {
  SEQ_REUSED,
  applyOp,
  composeOps,
  jsonEqual,
  layoutChangesOp,
  resolveOverlaps,
  setTitle,
  type DashboardDocument,
  type JSONOp,
} from '../../../core/src/index.js';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { traced } from '../tracing.js';
import {
  applyCommitted,
  documentBefore,
  rebase,
  textEditTarget,
  validateSubmittedOp,
  withoutCancelledPairs,
  type HistoryOp,
} from '../domain/commit.js';
import { diffDocuments } from '../domain/restore.js';
import { checkClientId, checkSeq, checkTitle, isId } from '../domain/validation.js';
import { can } from '../domain/permissions.js';
import type { Clock } from '../ports/clock.js';
import type { DashboardMessage, EventBus } from '../ports/event-bus.js';
import type { CheckpointRow, CommitTx, DashboardRow, OperationRow, Store, UndoState } from '../ports/store.js';
import type { DashboardService } from './dashboard-service.js';
import type { Actor } from './services.js';

export const MAX_OP_BYTES = 256 * 1024;
/** Submissions of one dashboard per transaction. */
const MAX_BATCH = 200;
/** Dashboards per transaction. */
const MAX_GROUP = 64;
/** Bytes of ops per transaction (as submitted; each also stores its inverse), at least one op. */
const MAX_GROUP_BYTES = 8 * 1024 * 1024;
/**
 * Commit transactions in flight per instance: on PostgreSQL each holds a pooled connection;
 * embedded PGlite runs one transaction at a time in this thread, so a second would only
 * wait for the first and split what the next group could take.
 */
const CONCURRENT_GROUPS = { postgres: 2, pglite: 1 } as const;
/**
 * Recent versions kept in memory per dashboard: ops (at most RECENT_OPS of them and
 * RECENT_OP_BYTES of op and inverse JSON), documents (RECENT_DOCS: a text edit copies the
 * string it edits, so documents are the costly part), for at most RECENT_DASHBOARDS.
 */
const RECENT_OPS = 256;
const RECENT_OP_BYTES = 4 * 1024 * 1024;
const RECENT_DOCS = 32;
const RECENT_DASHBOARDS = 64;
/**
 * Rule UN2: a client's text edits of one widget join one undo step while each follows the
 * one before within RUN_GAP_MS, for at most RUN_SPAN_MS from the step's first op.
 */
export const RUN_GAP_MS = 2_000;

export const RUN_SPAN_MS = 20_000;
/** The clientId of the server's layout fix-ups (rule LY2); their seq is their version. */
export const LAYOUT_CLIENT = 'server:layout';

/**
 * Whether an op may change where widgets stand: anything but an edit of a widget's text,
 * config or title, or of the dashboard's title (those never move a widget).
 */
function mayMoveWidgets(op: JSONOp): boolean {
  if (!Array.isArray(op)) return true;
  if (op[0] === 'title') return false;
  return !(op[0] === 'widgets' && typeof op[1] === 'string' && ['text', 'config', 'title'].includes(op[2] as string));
}

/**
 * What this instance last committed to a dashboard: the newest ops and the document after
 * each (ot-json1 documents share structure, so a version costs little more than the path
 * its op touched). Valid only while the dashboard is still at `version`: a commit from
 * another instance makes the next batch fall back to the database.
 */
interface Recent {
  version: number;
  /** Ascending and contiguous, ending at `version`. */
  rows: OperationRow[];
  /** Estimated bytes of each row's op and inverse, parallel to `rows`. */
  sizes: number[];
  /** version -> document at that version. */
  docs: Map<number, unknown>;
}

export interface OperationAck {
  version: number;
  op: JSONOp | null;
  duplicate: boolean;
}

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

export interface EngineMetrics {
  /** One call per committed op: seconds from its arrival to its commit. */
  committed(seconds: number): void;
  conflicts(count: number): void;
}

type Submission =
  | {
      kind: 'edit';
      clientId: string;
      seq: number;
      authorId: string;
      baseVersion: number;
      op: JSONOp;
      /** Its JSON size, measured once when it arrived. */
      bytes: number;
    }
  | { kind: 'undo' | 'redo'; clientId: string; seq: number; authorId: string }
  | { kind: 'restore'; clientId: string; seq: number; authorId: string; version: number; target: unknown }
  | { kind: 'rename'; clientId: string; seq: number; authorId: string; title: string }
  /** Rule LY2: the server's own fix-up when a batch left widgets overlapping. */
  | { kind: 'layout'; clientId: string; seq: number; authorId: string };

/** One dashboard's share of a commit transaction. */
interface Part {
  dashboardId: string;
  batch: Pending[];
}

/** What deciding one dashboard's batch produced, applied once the transaction commits. */
interface BatchResult {
  rows: OperationRow[];
  outcomes: Array<{ pending: Pending; ack?: OperationAck | null; error?: unknown }>;
  conflicts: number;
  /** The recent cache the batch started from, when it was at the locked version. */
  warm: Recent | null;
  docs: Map<number, unknown>;
  sizes: number[];
}

interface Pending {
  submission: Submission;
  /** Its size for the group's byte budget. */
  bytes: number;
  /** performance.now() when it arrived, for dash_op_commit_seconds. */
  arrivedAt: number;
  resolve(ack: OperationAck | null): void;
  reject(error: unknown): void;
}

/** Rough bytes a committed row holds: its op and inverse (about equal in size). Edits were
 * measured on arrival; the rarer server-made ops (undo, restore, rename) are measured here. */
const estimatedBytes = (s: Submission, op: JSONOp | null) =>
  2 * (s.kind === 'edit' ? s.bytes : (JSON.stringify(op)?.length ?? 4)) + 200;

export function createCollabEngine(deps: {
  store: Store;
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
  // dashboardId -> submissions waiting (never empty), the dashboard waiting longest first
  const queues = new Map<string, Pending[]>();
  const committing = new Set<string>(); // dashboards in a running commit transaction
  const inFlight = new Set<Promise<void>>(); // running commit transactions
  let scheduled = false; // a schedule() is due at the end of this loop turn
  const clientOwners = new Map<string, string>(); // clientId -> userId (immutable once set)
  const recent = new Map<string, Recent>(); // dashboardId -> recent versions, least recent first

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
   * Starts commit transactions while fewer than CONCURRENT_GROUPS run: each takes the
   * dashboards waiting longest (up to MAX_GROUP of them, MAX_BATCH submissions each).
   * Whatever arrives meanwhile waits for a free slot and goes in together: under load, one
   * transaction commits many submissions to many dashboards.
   */
  function schedule() {
    while (inFlight.size < CONCURRENT_GROUPS[store.kind]) {
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
        const mapped = mapStorageError(error);
        if (parts.length === 1 || (mapped instanceof DomainError && mapped.code === 'UNAVAILABLE')) {
          for (const part of parts) for (const p of part.batch) p.reject(mapped);
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
            const reason = mapStorageError(failure);
            if (reason instanceof DomainError && reason.code === 'UNAVAILABLE') unavailable = reason;
            for (const p of part.batch) p.reject(reason);
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
          if (tx) results.set(dashboardId, await commitBatch(dashboardId, batch, tx));
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
        remember(dashboardId, result.warm, result.rows, result.sizes, result.docs);
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
      Promise.all(published.map((r) => publishCommitted(r.rows))),
    );
  }

  /**
   * Decides one dashboard's batch under its lock: authorization, duplicates, validation,
   * rebase, undo bookkeeping; records the writes on `tx`. Nothing is acked here: the
   * transaction may still fail.
   */
  async function commitBatch(dashboardId: string, batch: Pending[], tx: CommitTx): Promise<BatchResult> {
    const outcomes: BatchResult['outcomes'] = [];
    let conflicts = 0;
    const cached = recent.get(dashboardId);
    recent.delete(dashboardId); // set again once this batch has committed
    const sizes: number[] = []; // estimated bytes of this batch's rows, parallel to them
    const now = clock.now();
    const dbVersion = tx.version;
    const warm = cached?.version === dbVersion ? cached : null; // the cache, when it is at the locked version
    // version -> document, for versions this batch knows
    const docs = warm ? new Map(warm.docs) : new Map<number, unknown>([[dbVersion, await tx.document()]]);
    const history = warm?.rows ?? [];
    let head = docs.get(dbVersion);
    let version = dbVersion;
    const rows: OperationRow[] = []; // committed in this batch, ascending
    const stateChanges = new Map<number, UndoState>(); // version (before this batch) -> new state
    const clearRedoFor = new Set<string>();
    const snapshots: Array<{ version: number; document: unknown }> = [];
    let historyCache: OperationRow[] | null = null; // ops after some version, loaded once

    /** Ops with from < version <= current head, including this batch's. */
    async function later(from: number): Promise<OperationRow[]> {
      const fromDb: OperationRow[] = [];
      if (from < dbVersion) {
        const known = history[0] && history[0].version <= from + 1 ? history : historyCache;
        if (!known || known.length === 0 || known[0]!.version > from + 1) {
          historyCache = await tx.operations(from, dbVersion);
          for (const row of historyCache) if (row.version > from) fromDb.push(row);
        } else {
          for (let i = from + 1 - known[0]!.version; i < known.length; i++) fromDb.push(known[i]!);
        }
      }
      return [...fromDb, ...rows.filter((r) => r.version > from)];
    }

    const { roles } = tx;
    /** Committed before this batch, by clientId and seq (this batch's own rows come first). */
    const committedBefore = new Map<string, OperationRow>();
    for (const row of tx.committed) committedBefore.set(`${row.clientId}\u0000${row.seq}`, row);
    function existing(clientId: string, seq: number) {
      return (
        rows.find((r) => r.clientId === clientId && r.seq === seq) ?? committedBefore.get(`${clientId}\u0000${seq}`)
      );
    }

    /**
     * Every version from `lowest` to the head has its document here: the cached ones, this
     * batch's, and those rebuilt below the cache for lagging bases. A lagging base extends
     * the range downwards, one stored inverse per version, so each inverse is applied at
     * most once per batch however many submissions lag behind (their bases differ).
     */
    let lowest = Math.min(...docs.keys());
    function documentAt(base: number, newer: OperationRow[]) {
      if (base < lowest) {
        // newer: every op after base, ascending and contiguous; down from `lowest`.
        if (newer[0]?.version !== base + 1) throw new Error(`history of ${dashboardId} has a gap after ${base}`);
        documentBefore(docs.get(lowest), newer.slice(0, lowest - base) as HistoryOp[], (v, doc) => docs.set(v, doc));
        lowest = base;
      }
      return docs.get(base);
    }

    function commit(
      s: Submission,
      op: JSONOp | null,
      extra: {
        kind: OperationRow['kind'];
        undoState: UndoState | null;
        refVersion: number | null;
        undoGroup: number | null;
      },
    ) {
      const { after, inverse } = applyCommitted(head, op);
      head = after;
      version += 1;
      docs.set(version, head);
      const row: OperationRow = {
        dashboardId,
        version,
        op,
        inverse,
        authorId: s.authorId,
        clientId: s.clientId,
        seq: s.seq,
        createdAt: now,
        ...extra,
        undoState: op === null ? null : extra.undoState,
        undoGroup: op === null ? null : extra.undoGroup,
      };
      rows.push(row);
      sizes.push(estimatedBytes(s, op));
      if (version % deps.snapshotEvery === 0) snapshots.push({ version, document: head });
      return row;
    }

    function setState(row: OperationRow, state: UndoState) {
      if (row.version > dbVersion) row.undoState = state;
      else stateChanges.set(row.version, state);
    }

    /** The top of the client's undo ('active') or redo ('redoable') stack, this batch first. */
    async function stackTop(clientId: string, state: 'active' | 'redoable') {
      for (let i = rows.length - 1; i >= 0; i--) {
        const r = rows[i]!;
        if (r.clientId === clientId && r.undoState === state) return r;
      }
      // An edit earlier in this batch emptied the redo stack kept in the database.
      if (state === 'redoable' && clearRedoFor.has(clientId)) return null;
      return tx.stackTop(clientId, state, [...stateChanges.keys()]);
    }

    /** The client's newest op this batch knows (its own, then the recent cache), if any. */
    function lastOf(clientId: string): OperationRow | undefined {
      for (let i = rows.length - 1; i >= 0; i--) if (rows[i]!.clientId === clientId) return rows[i];
      for (let i = history.length - 1; i >= 0; i--) if (history[i]!.clientId === clientId) return history[i];
      return undefined;
    }
    function known(version: number): OperationRow | undefined {
      return rows.find((r) => r.version === version) ?? history.find((r) => r.version === version);
    }

    /**
     * Rule UN2: the undo step an edit committed now as `at` joins. A text edit joins its
     * client's previous op when that is an active edit of the same widget's text, made less
     * than RUN_GAP_MS ago, in a step begun less than RUN_SPAN_MS ago. Decided from what this
     * instance remembers: when it does not know the previous op, the edit starts a step.
     */
    function undoGroupFor(clientId: string, op: JSONOp | null, at: number): number | null {
      if (op === null) return null;
      const target = textEditTarget(op);
      const previous = target === null ? undefined : lastOf(clientId);
      if (!previous || previous.kind !== 'edit' || previous.undoState !== 'active' || previous.op === null) return at;
      if (textEditTarget(previous.op) !== target || now.getTime() - previous.createdAt.getTime() > RUN_GAP_MS) {
        return at;
      }
      const group = previous.undoGroup ?? previous.version;
      const first = group === previous.version ? previous : known(group);
      return first && now.getTime() - first.createdAt.getTime() <= RUN_SPAN_MS ? group : at;
    }

    /**
     * Rule OP2: whether a resubmitted `(clientId, seq)` asks for what was committed under it.
     * An edit matches when its op, transformed from its base to the version before the
     * committed one, is the committed op (a client that rebased its op over what it received
     * since, as the sync engine does, resends exactly that). Anything else is a second live
     * editor sharing the clientId (two tabs restoring one saved state), never a duplicate.
     */
    async function sameSubmission(s: Submission, committed: OperationRow): Promise<boolean> {
      if (s.kind === 'rename') return committed.kind === 'rename';
      if (s.kind !== committed.kind) return false;
      if (s.kind === 'restore') return committed.refVersion === null || committed.refVersion === s.version;
      if (s.kind !== 'edit') return true;
      if (s.baseVersion >= committed.version) return false;
      try {
        const between = (await later(s.baseVersion)).filter((r) => r.version < committed.version);
        return jsonEqual(rebase(s.op, between as HistoryOp[]).op, committed.op);
      } catch {
        return false; // it does not even transform: not the op that was committed
      }
    }

    /**
     * Rule UN1/UN2: reverts the client's newest undo step (every op of it still active,
     * newest first) as one op: each op's inverse is rebased over everything after it,
     * including the reverts already made for the newer ops of the step, and the reverts are
     * composed. Null when the stack is empty.
     */
    async function undoStep(clientId: string) {
      const top = await stackTop(clientId, 'active');
      if (!top) return null;
      const group = top.undoGroup;
      const members: OperationRow[] = [top];
      if (group !== null && group !== top.version) {
        for (let i = rows.length - 1; i >= 0; i--) {
          const r = rows[i]!;
          if (r !== top && r.clientId === clientId && r.undoState === 'active' && r.undoGroup === group) {
            members.push(r);
          }
        }
        if (group <= dbVersion) {
          const exclude = [...stateChanges.keys(), ...members.map((r) => r.version)];
          members.push(...(await tx.undoStep(clientId, group, exclude)));
        }
        members.sort((a, b) => b.version - a.version);
      }
      const reverts: HistoryOp[] = []; // made for the newer members, as if committed after the head
      let reverted: JSONOp | null = null;
      for (const member of members) {
        const history = [...((await later(member.version)) as unknown as HistoryOp[]), ...reverts];
        const revert = rebase(member.inverse as JSONOp | null, withoutCancelledPairs(history)).op;
        if (revert !== null) reverted = reverted === null ? revert : composeOps(reverted, revert);
        // Only its op and what it reverts matter to the rebases of the older members.
        reverts.push({
          version: version + 1 + reverts.length,
          op: revert,
          inverse: null,
          kind: 'undo',
          refVersion: member.version,
        });
        setState(member, 'undone');
      }
      return { top, group, op: reverted };
    }

    for (const pending of batch) {
      const s = pending.submission;
      try {
        // AC1 first: a non-member learns nothing, not even that an old op was acked.
        const role = roles.get(s.authorId);
        if (!role) throw notFound();
        if (!can(role, 'edit')) throw forbidden();
        const dup = existing(s.clientId, s.seq);
        if (dup) {
          if (!(await sameSubmission(s, dup))) {
            // `reason` lets a client tell this from other bad input: its identity is shared by
            // another live editor, so it takes a new clientId and resends (core's sync engine).
            throw new DomainError(
              'BAD_USER_INPUT',
              `(clientId ${s.clientId}, seq ${s.seq}) was already used for a different ${dup.kind} at version ` +
                `${dup.version}: a clientId belongs to one live editor (one tab, one process), and seqs never repeat`,
              { reason: SEQ_REUSED },
            );
          }
          outcomes.push({ pending, ack: { version: dup.version, op: dup.op as JSONOp | null, duplicate: true } });
          continue;
        }
        if (s.kind === 'edit') {
          if (s.baseVersion > version) {
            throw badInput(`baseVersion ${s.baseVersion} is ahead of the current version ${version}`);
          }
          const newer = await later(s.baseVersion);
          const docAtBase = documentAt(s.baseVersion, newer);
          const valid = validateSubmittedOp(s.op, docAtBase);
          if (!valid.ok) throw new DomainError('BAD_OPERATION', valid.message);
          const rebased = rebase(s.op, newer as HistoryOp[]);
          conflicts += rebased.conflicts;
          const row = commit(s, rebased.op, {
            kind: 'edit',
            undoState: 'active',
            refVersion: null,
            undoGroup: undoGroupFor(s.clientId, rebased.op, version + 1),
          });
          clearRedo(s.clientId, row.version);
          outcomes.push({ pending, ack: { version: row.version, op: row.op as JSONOp | null, duplicate: false } });
        } else if (s.kind === 'undo') {
          const step = await undoStep(s.clientId);
          if (!step) {
            outcomes.push({ pending, ack: null });
            continue;
          }
          const row = commit(s, step.op, {
            kind: 'undo',
            undoState: 'redoable',
            refVersion: step.top.version,
            undoGroup: step.group,
          });
          outcomes.push({ pending, ack: { version: row.version, op: row.op as JSONOp | null, duplicate: false } });
        } else if (s.kind === 'redo') {
          const target = await stackTop(s.clientId, 'redoable');
          if (!target) {
            outcomes.push({ pending, ack: null });
            continue;
          }
          const history = (await later(target.version)) as unknown as HistoryOp[];
          const rebased = rebase(target.inverse as JSONOp | null, withoutCancelledPairs(history));
          setState(target, 'redone');
          const row = commit(s, rebased.op, {
            kind: 'redo',
            undoState: 'active',
            refVersion: target.version,
            undoGroup: version + 1,
          });
          outcomes.push({ pending, ack: { version: row.version, op: row.op as JSONOp | null, duplicate: false } });
        } else if (s.kind === 'restore') {
          const row = commit(s, diffDocuments(head, s.target), {
            kind: 'restore',
            undoState: 'active',
            refVersion: s.version,
            undoGroup: version + 1,
          });
          clearRedo(s.clientId, row.version);
          outcomes.push({ pending, ack: { version: row.version, op: row.op as JSONOp | null, duplicate: false } });
        } else if (s.kind === 'rename') {
          const op =
            (head as DashboardDocument).title === s.title ? null : setTitle(head as DashboardDocument, s.title);
          const row = commit(s, op, { kind: 'rename', undoState: null, refVersion: null, undoGroup: null });
          outcomes.push({ pending, ack: { version: row.version, op: row.op as JSONOp | null, duplicate: false } });
        }
      } catch (error) {
        // A database error (it carries a SQLSTATE or errno code) aborts the transaction:
        // fail the whole group, as UNAVAILABLE. Anything else fails this submission only.
        if (!(error instanceof DomainError) && typeof (error as { code?: unknown })?.code === 'string') throw error;
        outcomes.push({ pending, error });
      }
    }

    // Rules LY1, LY2: widgets never hide one another. A client pushes widgets out of the way of
    // the one it moves, in the same op; what concurrent moves (or an undo putting a widget
    // back where another now stands) still leave overlapping, the server pushes apart in
    // one more op, committed with the batch, so every client sees the same layout.
    const mover = [...rows].reverse().find((r) => r.op !== null && mayMoveWidgets(r.op as JSONOp));
    if (mover) {
      const changes = resolveOverlaps(head as DashboardDocument);
      if (changes.size > 0) {
        const op = layoutChangesOp(head as DashboardDocument, changes);
        const fix = { kind: 'layout', clientId: LAYOUT_CLIENT, seq: version + 1, authorId: mover.authorId } as const;
        commit(fix, op, { kind: 'layout', undoState: null, refVersion: null, undoGroup: null });
      }
    }

    function clearRedo(clientId: string, fromVersion: number) {
      clearRedoFor.add(clientId);
      for (const r of rows) {
        if (r.clientId === clientId && r.undoState === 'redoable' && r.version < fromVersion) r.undoState = 'cleared';
      }
    }

    if (rows.length > 0) {
      tx.write({
        clearRedo: [...clearRedoFor],
        undoStates: [...stateChanges],
        operations: rows,
        snapshots,
        head: { version, document: head, title: (head as { title: string }).title, at: now },
      });
      // The cache is dropped if the transaction fails (it was taken out above).
      for (const [v, state] of stateChanges) {
        const row = history.find((r) => r.version === v);
        if (row) row.undoState = state;
      }
    }
    return { rows, outcomes, conflicts, warm, docs, sizes };
  }

  /** Keeps the newest versions of a dashboard this batch just committed, within bounds. */
  function remember(
    dashboardId: string,
    previous: Recent | null,
    committed: OperationRow[],
    committedSizes: number[],
    docs: Map<number, unknown>,
  ) {
    const rows = [...(previous?.rows ?? []), ...committed];
    const sizes = [...(previous?.sizes ?? []), ...committedSizes];
    let bytes = sizes.reduce((sum, n) => sum + n, 0);
    let drop = Math.max(0, rows.length - RECENT_OPS);
    for (let i = 0; i < drop; i++) bytes -= sizes[i]!;
    while (drop < rows.length && bytes > RECENT_OP_BYTES) bytes -= sizes[drop++]!;
    const version = rows.at(-1)?.version ?? Math.max(...docs.keys());
    for (const v of docs.keys()) if (v <= version - RECENT_DOCS) docs.delete(v);
    recent.set(dashboardId, { version, rows: rows.slice(drop), sizes: sizes.slice(drop), docs });
    if (recent.size > RECENT_DASHBOARDS) recent.delete(recent.keys().next().value!);
  }

  async function publishCommitted(committed: OperationRow[]) {
    if (committed.length === 0) return;
    const dashboardId = committed[0]!.dashboardId;
    const committedAt = Date.now();
    // Issued together: one connection keeps them in order, and a group commit does not pay a
    // round trip per op.
    const messages: DashboardMessage[] = committed.map((row) => ({
      type: 'op',
      dashboardId,
      version: row.version,
      op: row.op,
      clientId: row.clientId,
      seq: row.seq,
      authorId: row.authorId,
      createdAt: row.createdAt.toISOString(),
      kind: row.kind,
      refVersion: row.refVersion,
      undoGroup: row.undoGroup,
      committedAt,
    }));
    try {
      for (const message of messages) deps.deliverLocally?.(message);
    } catch (error) {
      deps.onPublishError?.(error); // committed all the same: other instances still get them
    }
    await Promise.all(
      messages.map((message) =>
        bus.publish(`dashboard:${dashboardId}`, message).catch((error) => deps.onPublishError?.(error)),
      ),
    );
  }

  /** Checks what can be checked before queueing; edits are authorized in their batch. */
  async function prepare(actor: Actor, dashboardId: string, clientId: string, seq: number, authorizeNow = true) {
    checkSeq(seq);
    if (authorizeNow) await dashboards.authorize(actor.userId, dashboardId, 'edit');
    else if (!isId(dashboardId)) throw notFound();
    await claim(clientId, actor.userId);
  }

  async function documentAt(dashboardId: string, version: number): Promise<unknown> {
    const snapshot = await store.latestSnapshot(dashboardId, version);
    if (!snapshot) throw badInput(`No version ${version}`);
    let doc = snapshot.document;
    for (const row of await store.listOperationRange(dashboardId, snapshot.version, version)) {
      if (row.op !== null) doc = applyOp(doc, row.op as JSONOp);
    }
    return doc;
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
      const current = await store.getDashboard(input.dashboardId);
      if (!current) throw new DomainError('NOT_FOUND', 'Dashboard not found');
      if (!Number.isSafeInteger(input.version) || input.version < 0 || input.version > current.version) {
        throw badInput(`version must be between 0 and ${current.version}`);
      }
      const target = await documentAt(input.dashboardId, input.version);
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

    async documentAt(dashboardId, version) {
      const current = await store.getDashboard(dashboardId);
      if (!current) throw new DomainError('NOT_FOUND', 'Dashboard not found');
      if (!Number.isSafeInteger(version) || version < 0 || version > current.version) {
        throw badInput(`version must be between 0 and ${current.version}`);
      }
      if (version === current.version) return current.document;
      return documentAt(dashboardId, version);
    },

    async operations(dashboardId, fromVersion, limit) {
      if (!Number.isSafeInteger(fromVersion) || fromVersion < 0)
        throw badInput('fromVersion must be a non-negative integer');
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw badInput('limit must be 1 to 1000');
      return store.listOperations(dashboardId, fromVersion, limit);
    },

    async drain() {
      // Also what is queued for a transaction that starts at the end of this turn.
      while (inFlight.size > 0 || scheduled || queues.size > 0) {
        if (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        else await new Promise((resolve) => setImmediate(resolve));
      }
    },
  };
}

/** Connection-level failures: the database did not answer, nothing was committed. */
const CONNECTION_FAILURE =
  /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|Connection terminated|Connection ended|connection error|timeout exceeded when trying to connect|terminating connection/i;

/** Database trouble means nothing was committed and the caller may retry (UNAVAILABLE). */
export function mapStorageError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const message = (error as Error | null)?.message ?? '';
  // SQLSTATE classes: 08 connection, 53 resources, 57P shutdown, 40 rollback (serialization,
  // deadlock), 25P02 aborted transaction; plus socket errors, with or without a code.
  if (/^(08|57P|53|40|25P02)/.test(code) || /^E[A-Z]+$/.test(code) || CONNECTION_FAILURE.test(message)) {
    return new DomainError('UNAVAILABLE', 'The database is unavailable; nothing was committed. Retry shortly.', {
      retryAfter: 1,
    });
  }
  return error;
}
