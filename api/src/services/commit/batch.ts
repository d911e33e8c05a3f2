/**
 * One dashboard's batch while it is decided under the dashboard lock: the head it builds up
 * (OP1: one version after another), the history it rebases over (OP3) and the documents at
 * the submissions' bases (OP5), the undo-state changes it records (UN1). The helpers below
 * read and extend that state; commit-batch.ts drives them.
 */
import type { JSONOp } from '@collab-dashboards/core';
import { applyCommitted, documentBefore, type HistoryOp } from '../../domain/commit.js';
import type { CommitTx, OperationRow, UndoState } from '../../ports/operation-log.js';
import { estimatedBytes, type Recent } from '../collab-recent.js';
import type { Submission } from '../collab-types.js';

export interface Batch {
  readonly dashboardId: string;
  readonly tx: CommitTx;
  readonly now: Date;
  readonly snapshotEvery: number;
  /** The locked version: the head before this batch. */
  readonly dbVersion: number;
  /** The recent cache's ops, up to dbVersion, when it was warm (else none). */
  readonly history: OperationRow[];
  head: unknown;
  version: number;
  /** Committed in this batch, ascending. */
  readonly rows: OperationRow[];
  /** Estimated bytes of this batch's rows, parallel to them. */
  readonly sizes: number[];
  /** version -> document, for versions this batch knows. */
  readonly docs: Map<number, unknown>;
  /**
   * Every version from `lowest` to the head has its document in `docs`: the cached ones,
   * this batch's, and those rebuilt below the cache for lagging bases.
   */
  lowest: number;
  /** version (before this batch) -> new state */
  readonly stateChanges: Map<number, UndoState>;
  /** Clients whose redo stack in the database an edit of this batch emptied. */
  readonly clearRedoFor: Set<string>;
  readonly snapshots: Array<{ version: number; document: unknown }>;
  /** Ops after some version, loaded once. */
  historyCache: OperationRow[] | null;
  /** Rule OP2: committed before this batch, by submissionKey (screened with the lock). */
  readonly committedBefore: Map<string, OperationRow>;
}

/** What a committed row records besides its op. */
export interface RowExtra {
  kind: OperationRow['kind'];
  undoState: UndoState | null;
  refVersion: number | null;
  undoGroup: number | null;
}

export const submissionKey = (clientId: string, seq: number) => `${clientId}\u0000${seq}`;

/** Starts a batch at the locked version, from the recent cache when it is at that version. */
export async function openBatch(
  dashboardId: string,
  tx: CommitTx,
  warm: Recent | null,
  now: Date,
  snapshotEvery: number,
): Promise<Batch> {
  const dbVersion = tx.version;
  const docs = warm ? new Map(warm.docs) : new Map<number, unknown>([[dbVersion, await tx.document()]]);
  const committedBefore = new Map<string, OperationRow>();
  for (const row of tx.committed) committedBefore.set(submissionKey(row.clientId, row.seq), row);
  return {
    dashboardId,
    tx,
    now,
    snapshotEvery,
    dbVersion,
    history: warm?.rows ?? [],
    head: docs.get(dbVersion),
    version: dbVersion,
    rows: [],
    sizes: [],
    docs,
    lowest: Math.min(...docs.keys()),
    stateChanges: new Map(),
    clearRedoFor: new Set(),
    snapshots: [],
    historyCache: null,
    committedBefore,
  };
}

/** Ops with from < version <= current head, including this batch's. */
export async function later(b: Batch, from: number): Promise<OperationRow[]> {
  const fromDb: OperationRow[] = [];
  if (from < b.dbVersion) {
    const known = b.history[0] && b.history[0].version <= from + 1 ? b.history : b.historyCache;
    if (!known || known.length === 0 || known[0]!.version > from + 1) {
      b.historyCache = await b.tx.operations(from, b.dbVersion);
      for (const row of b.historyCache) if (row.version > from) fromDb.push(row);
    } else {
      for (let i = from + 1 - known[0]!.version; i < known.length; i++) fromDb.push(known[i]!);
    }
  }
  return [...fromDb, ...b.rows.filter((r) => r.version > from)];
}

/**
 * The document at `base`. A lagging base extends the range of known documents downwards,
 * one stored inverse per version, so each inverse is applied at most once per batch however
 * many submissions lag behind (their bases differ).
 */
export function documentAtBase(b: Batch, base: number, newer: OperationRow[]) {
  if (base < b.lowest) {
    // newer: every op after base, ascending and contiguous; down from `lowest`.
    if (newer[0]?.version !== base + 1) throw new Error(`history of ${b.dashboardId} has a gap after ${base}`);
    documentBefore(b.docs.get(b.lowest), newer.slice(0, b.lowest - base) as HistoryOp[], (v, doc) =>
      b.docs.set(v, doc),
    );
    b.lowest = base;
  }
  return b.docs.get(base);
}

/** Applies `op` to the head as the next version and records its row. */
export function commitOp(b: Batch, s: Submission, op: JSONOp | null, extra: RowExtra) {
  const { after, inverse } = applyCommitted(b.head, op);
  b.head = after;
  b.version += 1;
  b.docs.set(b.version, b.head);
  const row: OperationRow = {
    dashboardId: b.dashboardId,
    version: b.version,
    op,
    inverse,
    authorId: s.authorId,
    clientId: s.clientId,
    seq: s.seq,
    createdAt: b.now,
    ...extra,
    undoState: op === null ? null : extra.undoState,
    undoGroup: op === null ? null : extra.undoGroup,
  };
  b.rows.push(row);
  b.sizes.push(estimatedBytes(s, op));
  if (b.version % b.snapshotEvery === 0) b.snapshots.push({ version: b.version, document: b.head });
  return row;
}
