/**
 * The op log: each dashboard's history of ops (rule OP1: versions 1, 2, 3, ... without gaps;
 * OP1a: an absorbed op is stored as null), with snapshots of the document, the undo state of
 * each op (UN1, UN2), the clientIds claimed by their users (OP2), and the commit transaction
 * that locks dashboards and appends to their histories (OP1: all of a commit or none; OP4).
 * Part of the Store (`./store.ts`); errors as described there.
 */
import type { Role } from '../domain/permissions.js';

/** 'layout': a fix-up the server commits itself when widgets overlap (rule LY2). */
export type OperationKind = 'edit' | 'undo' | 'redo' | 'restore' | 'rename' | 'layout';
export type UndoState = 'active' | 'undone' | 'redoable' | 'redone' | 'cleared';

export interface OperationRow {
  dashboardId: string;
  version: number;
  op: unknown; // null when absorbed (rule OP1a)
  inverse: unknown;
  authorId: string;
  clientId: string;
  seq: number;
  kind: OperationKind;
  undoState: UndoState | null;
  /**
   * undo and redo: the version of the op they revert; restore: the version restored.
   */
  refVersion: number | null;
  /**
   * Rule UN2: the version of the first op of the undo step this op belongs to (its own
   * version when it starts one); on an undo op, the step it reverted. Null: a step alone.
   */
  undoGroup: number | null;
  createdAt: Date;
}

/**
 * What a commit wants to know about its submissions, read together with the lock (one round
 * trip): the roles of their authors and which of their (clientId, seq) pairs are already
 * committed (rule OP2).
 */
export interface CommitScreen {
  userIds: readonly string[];
  keys: ReadonlyArray<{ clientId: string; seq: number }>;
}

/** Everything one commit writes, applied in one statement (rule OP1: all of it or none). */
export interface CommitWrite {
  /** These clients made a new edit: their redo stacks (stored before this commit) empty. */
  clearRedo: readonly string[];
  /** Undo-state changes of ops stored before this commit (they win over clearRedo). */
  undoStates: ReadonlyArray<readonly [version: number, state: UndoState]>;
  operations: readonly OperationRow[];
  snapshots: ReadonlyArray<{ version: number; document: unknown }>;
  /** The new head; title mirrors document.title. */
  head: { version: number; document: unknown; title: string; at: Date };
}

/** One dashboard of a commit group, with what to screen as of its lock. */
export interface CommitRequest {
  dashboardId: string;
  screen?: CommitScreen;
}

/** The dashboard row locked for one commit transaction, with what a commit needs. */
export interface CommitTx {
  readonly version: number;
  /** The screened authors' roles on the locked dashboard (non-members are absent). */
  readonly roles: ReadonlyMap<string, Role>;
  /** The screened (clientId, seq) pairs that are already committed. */
  readonly committed: readonly OperationRow[];
  /** The head document at `version` (read on demand: a warm commit path does not need it). */
  document(): Promise<unknown>;
  /** Ops with from < version <= to, ascending. */
  operations(from: number, to: number): Promise<OperationRow[]>;
  /**
   * The client's newest op in `state`: 'active' is the top of its undo stack, 'redoable'
   * the top of its redo stack (rule UN1). `exclude` lists versions to skip.
   */
  stackTop(clientId: string, state: 'active' | 'redoable', exclude: number[]): Promise<OperationRow | null>;
  /**
   * The client's ops still on its undo stack ('active') in undo step `group` (rule UN2),
   * newest first. `exclude` lists versions to skip.
   */
  undoStep(clientId: string, group: number, exclude: number[]): Promise<OperationRow[]>;
  /**
   * Records the commit (at most once). The writes of every dashboard in the transaction are
   * applied together, in one statement, when the transaction's function returns.
   */
  write(changes: CommitWrite): void;
}

export interface OperationLog {
  /**
   * How many `withDashboardLocks` transactions are worth running at once on this backend
   * (more only wait for each other).
   */
  readonly commitConcurrency: number;
  /** Claims a clientId for a user (rule OP2); returns the owner, who may be someone else. */
  claimClientId(clientId: string, userId: string): Promise<string>;
  /** Ops with version > fromVersion, ascending, at most `limit`. */
  listOperations(dashboardId: string, fromVersion: number, limit: number): Promise<OperationRow[]>;
  /** Ops with from < version <= to, ascending. */
  listOperationRange(dashboardId: string, from: number, to: number): Promise<OperationRow[]>;
  /** The newest snapshot at or before `version`. */
  latestSnapshot(dashboardId: string, atOrBefore: number): Promise<{ version: number; document: unknown } | null>;
  /**
   * Group commit across dashboards: one transaction that locks these dashboard rows (in id
   * order, so concurrent groups cannot deadlock; commits to one dashboard are serialised),
   * screens each as of its lock, runs `fn` with a CommitTx per dashboard that exists
   * (deleted or unknown ones are absent), then applies every recorded write in one
   * statement. All of it commits, or none. The CommitTx reads report a lost database as
   * the Store's other members do (UNAVAILABLE); `fn` lets that error out.
   */
  withDashboardLocks<T>(
    requests: readonly CommitRequest[],
    fn: (txs: ReadonlyMap<string, CommitTx>) => Promise<T>,
  ): Promise<T>;
}
