/**
 * Dashboards and their collaborators (rules RO1, AC1). Every check goes through
 * `can(role, action)`; a non-member gets NOT_FOUND, a member lacking the role FORBIDDEN.
 */
import { randomUUID } from 'node:crypto';
import { createDocument, validateDocument, type DashboardDocument } from '@collab-dashboards/core';
import { DomainError, badInput, forbidden, notFound } from '../errors.js';
import { can, INVITABLE_ROLES, type Action, type Role } from '../domain/permissions.js';
import { checkTitle, isId, normalizeEmail } from '../domain/validation.js';
import type { Clock } from '../ports/clock.js';
import type { DashboardMessage, EventBus } from '../ports/event-bus.js';
import type { AccountStore } from '../ports/account-store.js';
import type { AuditLog, AuditRow } from '../ports/audit-log.js';
import type { CollaboratorRow, DashboardRow, DashboardStore } from '../ports/dashboard-store.js';
import type { Actor } from './actor.js';

export interface DashboardService {
  create(actor: Actor, title: string, document?: unknown): Promise<DashboardRow>;
  list(userId: string): Promise<Array<DashboardRow & { role: Role }>>;
  /** The dashboard and the caller's role, or null when it does not exist for the caller (AC1). */
  find(userId: string, id: string): Promise<{ dashboard: DashboardRow; role: Role } | null>;
  /** Resolves the caller's role or throws NOT_FOUND / FORBIDDEN. */
  authorize(userId: string, dashboardId: string, action: Action): Promise<Role>;
  delete(actor: Actor, id: string): Promise<boolean>;
  /** `expiresAt` (SC2): the membership ends by itself then, exactly as a removal. */
  invite(
    actor: Actor,
    dashboardId: string,
    email: string,
    role: Role,
    expiresAt?: Date | null,
  ): Promise<CollaboratorRow>;
  /** `expiresAt` undefined keeps the membership's; null makes it permanent. */
  updateRole(
    actor: Actor,
    dashboardId: string,
    userId: string,
    role: Role,
    expiresAt?: Date | null,
  ): Promise<CollaboratorRow>;
  /** Ends the memberships past their expiresAt (SC2); any instance may run it, each ends once. */
  expireMemberships(): Promise<number>;
  remove(actor: Actor, dashboardId: string, userId: string): Promise<boolean>;
  collaborators(dashboardId: string): Promise<CollaboratorRow[]>;
  auditLog(userId: string, dashboardId: string, limit: number): Promise<AuditRow[]>;
  /** Records a state-changing action (DESIGN.md section 7). */
  audit(actor: Actor | null, action: string, dashboardId: string | null, details?: unknown): Promise<void>;
}

export function createDashboardService(deps: {
  store: DashboardStore & AuditLog & Pick<AccountStore, 'findUserByEmail'>;
  bus: EventBus;
  clock: Clock;
  onPublishError?: (e: unknown) => void;
}): DashboardService {
  const { store, bus, clock } = deps;

  const publish = (dashboardId: string, message: DashboardMessage) =>
    bus.publish(`dashboard:${dashboardId}`, message).catch((error) => deps.onPublishError?.(error));

  function checkExpiry(expiresAt: Date | null | undefined) {
    if (expiresAt && expiresAt.getTime() <= clock.now().getTime()) throw badInput('expiresAt must be in the future');
  }

  async function authorize(userId: string, dashboardId: string, action: Action): Promise<Role> {
    const role = isId(dashboardId) ? await store.getRole(dashboardId, userId) : null;
    if (!role) throw notFound();
    if (!can(role, action)) throw forbidden();
    return role;
  }

  async function audit(actor: Actor | null, action: string, dashboardId: string | null, details?: unknown) {
    await store.insertAudit({
      at: clock.now(),
      dashboardId,
      userId: actor?.userId ?? null,
      action,
      details: details ?? null,
      ip: actor?.ip ?? null,
    });
  }

  return {
    authorize,
    audit,

    async create(actor, title, document) {
      const cleanTitle = checkTitle(title);
      let initial: DashboardDocument = createDocument(cleanTitle);
      if (document !== undefined && document !== null) {
        const candidate = { ...(document as DashboardDocument), title: cleanTitle };
        const problem = validateDocument(candidate);
        if (problem) throw badInput(`document: ${problem}`);
        initial = candidate;
      }
      const row = await store.createDashboard({
        id: randomUUID(),
        ownerId: actor.userId,
        title: cleanTitle,
        document: initial,
        now: clock.now(),
      });
      await audit(actor, 'createDashboard', row.id, { title: cleanTitle });
      return row;
    },

    list: (userId) => store.listDashboardsForUser(userId),

    async find(userId, id) {
      if (!isId(id)) return null;
      const found = await store.findDashboardForUser(id, userId);
      if (!found) return null;
      const { role, ...dashboard } = found;
      return { dashboard, role };
    },

    async delete(actor, id) {
      await authorize(actor.userId, id, 'delete');
      const deleted = await store.softDeleteDashboard(id, clock.now());
      if (!deleted) throw notFound();
      await audit(actor, 'deleteDashboard', id);
      await publish(id, { type: 'revoked', dashboardId: id, userId: null, reason: 'DASHBOARD_DELETED' });
      return true;
    },

    async invite(actor, dashboardId, email, role, expiresAt = null) {
      await authorize(actor.userId, dashboardId, 'manage');
      if (!INVITABLE_ROLES.includes(role)) throw badInput('An invitation grants EDITOR or VIEWER');
      checkExpiry(expiresAt);
      const user = await store.findUserByEmail(normalizeEmail(email));
      if (!user) throw notFound('User');
      const added = await store.addCollaborator(dashboardId, user.id, role, clock.now(), expiresAt);
      if (!added) throw badInput('That person is already a collaborator');
      await audit(actor, 'inviteCollaborator', dashboardId, { userId: user.id, role, expiresAt });
      await publish(dashboardId, { type: 'changed', dashboardId });
      return added;
    },

    async updateRole(actor, dashboardId, userId, role, expiresAt) {
      await authorize(actor.userId, dashboardId, 'manage');
      if (!INVITABLE_ROLES.includes(role)) throw badInput('A collaborator is EDITOR or VIEWER; there is one OWNER');
      if (expiresAt) checkExpiry(expiresAt);
      if (!isId(userId)) throw notFound('Collaborator');
      const current = await store.getRole(dashboardId, userId);
      if (!current) throw notFound('Collaborator');
      if (current === 'OWNER') throw new DomainError('FORBIDDEN', "The owner's role cannot be changed");
      const updated = await store.updateCollaboratorRole(dashboardId, userId, role, expiresAt);
      if (!updated) throw notFound('Collaborator');
      await audit(actor, 'updateCollaboratorRole', dashboardId, { userId, from: current, to: role, expiresAt });
      await publish(dashboardId, { type: 'changed', dashboardId });
      return updated;
    },

    async remove(actor, dashboardId, userId) {
      const myRole = await authorize(actor.userId, dashboardId, 'read');
      if (userId !== actor.userId && !can(myRole, 'manage')) throw forbidden();
      if (!isId(userId)) throw notFound('Collaborator');
      const current = await store.getRole(dashboardId, userId);
      if (!current) throw notFound('Collaborator');
      if (current === 'OWNER') throw forbidden('The owner cannot be removed; delete the dashboard instead');
      await store.removeCollaborator(dashboardId, userId);
      await audit(actor, 'removeCollaborator', dashboardId, { userId, role: current });
      await publish(dashboardId, { type: 'revoked', dashboardId, userId, reason: 'REMOVED' });
      await publish(dashboardId, { type: 'changed', dashboardId });
      return true;
    },

    collaborators: (dashboardId) => store.listCollaborators(dashboardId),

    async expireMemberships() {
      const expired = await store.expireCollaborators();
      for (const row of expired) {
        await audit(null, 'collaboratorExpired', row.dashboardId, { userId: row.userId, role: row.role });
        // Exactly as a removal (AU1): AccessRevoked on every instance, then NOT_FOUND.
        await publish(row.dashboardId, {
          type: 'revoked',
          dashboardId: row.dashboardId,
          userId: row.userId,
          reason: 'REMOVED',
        });
        await publish(row.dashboardId, { type: 'changed', dashboardId: row.dashboardId });
      }
      return expired.length;
    },

    async auditLog(userId, dashboardId, limit) {
      await authorize(userId, dashboardId, 'audit');
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badInput('limit must be 1 to 1000');
      return store.listAudit(dashboardId, limit);
    },
  };
}
