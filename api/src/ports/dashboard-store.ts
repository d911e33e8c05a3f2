/**
 * Dashboards and their members (rules AC1, RO1): reads see live (not deleted) dashboards only,
 * and a user who is not a member sees none; the maker is the one OWNER. A dashboard's history
 * and its head's changes are the op log's (`./operation-log.ts`). Part of the Store
 * (`./store.ts`); errors as described there.
 */
import type { Role } from '../domain/permissions.js';

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
  /** SC2: the membership ends by itself at this time (null: it does not). */
  expiresAt: Date | null;
}

export interface DashboardStore {
  /** Creates a dashboard at version 0 (with its version-0 snapshot) and its OWNER. */
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
  /** The user's live dashboards with their role, most recently updated first. */
  listDashboardsForUser(userId: string): Promise<Array<DashboardRow & { role: Role }>>;
  /** false when it was already deleted (or never existed). */
  softDeleteDashboard(id: string, now: Date): Promise<boolean>;

  /**
   * The user's role on a live dashboard, or null (not a member, or deleted). A membership past
   * its expiresAt (by the database's clock) is no membership, here and in every read below,
   * whether or not the sweep (`expireCollaborators`) has removed it yet (SC2).
   */
  getRole(dashboardId: string, userId: string): Promise<Role | null>;
  /** OWNER first, then EDITORs, then VIEWERs, each in the order they were added. */
  listCollaborators(dashboardId: string): Promise<CollaboratorRow[]>;
  /** null when the user is already a collaborator. */
  addCollaborator(
    dashboardId: string,
    userId: string,
    role: Role,
    now: Date,
    expiresAt?: Date | null,
  ): Promise<CollaboratorRow | null>;
  /** null when the user is not a collaborator. `expiresAt` undefined keeps it; null clears it. */
  updateCollaboratorRole(
    dashboardId: string,
    userId: string,
    role: Role,
    expiresAt?: Date | null,
  ): Promise<CollaboratorRow | null>;
  /** Removes the memberships past their expiresAt and returns them, each to one caller only (SC2). */
  expireCollaborators(): Promise<CollaboratorRow[]>;
  /** false when the user was not a collaborator. */
  removeCollaborator(dashboardId: string, userId: string): Promise<boolean>;
}
