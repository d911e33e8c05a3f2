/**
 * The storage port (DESIGN.md section 6). One implementation (`createSqlStore`) runs on
 * PostgreSQL (`pg`) and on PGlite; both pass `registerStoreContract`.
 */
import type { Role } from '../domain/permissions.js';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  color: string;
  passwordHash: string;
  createdAt: Date;
}

export interface DashboardRow {
  id: string;
  ownerId: string;
  title: string;
  version: number;
  document: unknown;
  createdAt: Date;
  updatedAt: Date;
}

export interface CollaboratorRow {
  dashboardId: string;
  userId: string;
  role: Role;
  addedAt: Date;
}

export interface ApiTokenRow {
  id: string;
  userId: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

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

export interface CheckpointRow {
  id: string;
  dashboardId: string;
  name: string;
  version: number;
  createdBy: string;
  createdAt: Date;
}

export interface AuditRow {
  id: string;
  at: Date;
  dashboardId: string | null;
  userId: string | null;
  action: string;
  details: unknown;
  ip: string | null;
}

export type RefreshOutcome =
  | { status: 'rotated'; userId: string; familyId: string }
  /** Presented again within the grace window: the caller re-issues the same successor. */
  | { status: 'grace'; userId: string; familyId: string }
  /** Presented again after the grace window: the family has been revoked. */
  | { status: 'reused' }
  | { status: 'invalid' };

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

export interface Store {
  readonly kind: 'postgres' | 'pglite';
  /** Applies pending migrations (idempotent, safe with several instances starting). */
  migrate(): Promise<void>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Returns the stored value, or stores `create()` if absent; every caller agrees. */
  getOrCreateSetting(key: string, create: () => string): Promise<string>;

  createUser(user: Omit<UserRow, 'createdAt'>): Promise<UserRow | null>; // null: email taken
  findUserByEmail(email: string): Promise<UserRow | null>;
  findUsersByIds(ids: readonly string[]): Promise<UserRow[]>;

  insertRefreshToken(row: {
    id: string;
    userId: string;
    familyId: string;
    tokenHash: string;
    expiresAt: Date;
  }): Promise<void>;
  /**
   * Exchanges a refresh token for `successor` (same family), atomically. Within `graceMs`
   * of a previous rotation it reports 'grace' (the caller returns the same successor);
   * later it revokes the family and reports 'reused'.
   */
  rotateRefreshToken(
    tokenHash: string,
    successor: { id: string; tokenHash: string; expiresAt: Date },
    now: Date,
    graceMs: number,
  ): Promise<RefreshOutcome>;
  /** Revokes the family of the token; returns its user, or null when unknown. */
  revokeRefreshFamily(tokenHash: string, now: Date): Promise<string | null>;

  insertApiToken(row: { id: string; userId: string; name: string; tokenHash: string }): Promise<ApiTokenRow>;
  listApiTokens(userId: string): Promise<ApiTokenRow[]>;
  revokeApiToken(userId: string, id: string, now: Date): Promise<boolean>;
  /** Finds a live token and records its use. */
  useApiToken(tokenHash: string, now: Date): Promise<{ id: string; userId: string } | null>;

  createDashboard(row: {
    id: string;
    ownerId: string;
    title: string;
    document: unknown;
    now: Date;
  }): Promise<DashboardRow>;
  /** A live (not deleted) dashboard. */
  getDashboard(id: string): Promise<DashboardRow | null>;
  /** dashboardId -> current version, for the given live dashboards. */
  dashboardVersions(ids: readonly string[]): Promise<Map<string, number>>;
  /** A live dashboard with the user's role on it, or null (not a member, or deleted): one read. */
  findDashboardForUser(id: string, userId: string): Promise<(DashboardRow & { role: Role }) | null>;
  listDashboardsForUser(userId: string): Promise<Array<DashboardRow & { role: Role }>>;
  softDeleteDashboard(id: string, now: Date): Promise<boolean>;

  /** The user's role on a live dashboard, or null (not a member, or deleted). */
  getRole(dashboardId: string, userId: string): Promise<Role | null>;
  listCollaborators(dashboardId: string): Promise<CollaboratorRow[]>;
  /** null when the user is already a collaborator. */
  addCollaborator(dashboardId: string, userId: string, role: Role, now: Date): Promise<CollaboratorRow | null>;
  updateCollaboratorRole(dashboardId: string, userId: string, role: Role): Promise<CollaboratorRow | null>;
  removeCollaborator(dashboardId: string, userId: string): Promise<boolean>;

  /** Claims a clientId for a user (rule OP2); returns the owner, who may be someone else. */
  claimClientId(clientId: string, userId: string): Promise<string>;
  findOperation(dashboardId: string, clientId: string, seq: number): Promise<OperationRow | null>;
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
   * statement. All of it commits, or none.
   */
  withDashboardLocks<T>(
    requests: readonly CommitRequest[],
    fn: (txs: ReadonlyMap<string, CommitTx>) => Promise<T>,
  ): Promise<T>;
  /** The same for one dashboard; NOT_FOUND when it does not exist. */
  withDashboardLock<T>(dashboardId: string, fn: (tx: CommitTx) => Promise<T>, screen?: CommitScreen): Promise<T>;

  insertCheckpoint(row: Omit<CheckpointRow, 'createdAt'> & { createdAt: Date }): Promise<CheckpointRow>;
  listCheckpoints(dashboardId: string): Promise<CheckpointRow[]>;
  getCheckpoint(id: string): Promise<CheckpointRow | null>;

  insertAudit(entry: Omit<AuditRow, 'id' | 'at'> & { at: Date }): Promise<void>;
  listAudit(dashboardId: string, limit: number): Promise<AuditRow[]>;
}
