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

export type OperationKind = 'edit' | 'undo' | 'redo' | 'restore' | 'rename';
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
  refVersion: number | null;
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

/** The dashboard row locked for one commit transaction, with what a commit needs. */
export interface CommitTx {
  readonly version: number;
  /** The head document at `version` (read on demand: a warm commit path does not need it). */
  document(): Promise<unknown>;
  /** Ops with from < version <= to, ascending. */
  operations(from: number, to: number): Promise<OperationRow[]>;
  /** The roles of these users on the locked dashboard (non-members are absent), in one query. */
  roles(userIds: readonly string[]): Promise<Map<string, Role>>;
  /** The committed ops among these (clientId, seq) pairs (rule OP2), in one query. */
  findOperations(keys: ReadonlyArray<{ clientId: string; seq: number }>): Promise<OperationRow[]>;
  /**
   * The client's newest op in `state`: 'active' is the top of its undo stack, 'redoable'
   * the top of its redo stack (rule UN1). `exclude` lists versions to skip.
   */
  stackTop(clientId: string, state: 'active' | 'redoable', exclude: number[]): Promise<OperationRow | null>;
  setUndoState(version: number, state: UndoState): Promise<void>;
  /** A new edit empties its client's redo stack: these clients' stacks, in one statement. */
  clearRedo(clientIds: readonly string[]): Promise<void>;
  insertOperations(rows: OperationRow[]): Promise<void>;
  insertSnapshot(version: number, document: unknown): Promise<void>;
  /** Moves the head; title mirrors document.title. */
  updateHead(version: number, document: unknown, title: string, at: Date): Promise<void>;
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
  /** Runs `fn` with the dashboard row locked (commits for one dashboard are serialised). */
  withDashboardLock<T>(dashboardId: string, fn: (tx: CommitTx) => Promise<T>): Promise<T>;

  insertCheckpoint(row: Omit<CheckpointRow, 'createdAt'> & { createdAt: Date }): Promise<CheckpointRow>;
  listCheckpoints(dashboardId: string): Promise<CheckpointRow[]>;
  getCheckpoint(id: string): Promise<CheckpointRow | null>;

  insertAudit(entry: Omit<AuditRow, 'id' | 'at'> & { at: Date }): Promise<void>;
  listAudit(dashboardId: string, limit: number): Promise<AuditRow[]>;
}
