/**
 * What an embed token may see (rule EM1): one dashboard, as a VIEWER, for as long as the
 * user who made the token can read it. Resolvers reach dashboards through
 * `services.dashboards`, so scoping that one service scopes every read path (queries,
 * subscriptions, REST, events resolved per viewer); mutations are refused before they run
 * (transport/embed-guard.ts).
 */
import { forbidden, notFound } from '../errors.js';
import { can } from '../domain/permissions.js';
import type { Viewer } from './auth-service.js';
import type { DashboardService } from './dashboard-service.js';

/** The dashboard an embed token is limited to, or null for every other credential. */
export const embedScope = (viewer: Viewer | null | undefined): string | null =>
  viewer?.via === 'embed' ? (viewer.embedDashboardId ?? '') : null;

/**
 * `dashboards` seen through an embed token for `dashboardId`: every other dashboard does not
 * exist (AC1), the one it names is read with the role capped at VIEWER (the minting user's
 * own membership still decides whether it exists at all), and nothing can be changed.
 */
export function scopeDashboards(dashboards: DashboardService, dashboardId: string): DashboardService {
  const refuse = async (): Promise<never> => {
    throw forbidden('An embed token is read-only');
  };
  const authorize: DashboardService['authorize'] = async (userId, id, action) => {
    if (id !== dashboardId) throw notFound();
    await dashboards.authorize(userId, id, 'read');
    if (!can('VIEWER', action)) throw forbidden('An embed token is read-only');
    return 'VIEWER';
  };
  const find: DashboardService['find'] = async (userId, id) => {
    if (id !== dashboardId) return null;
    const found = await dashboards.find(userId, id);
    return found && { dashboard: found.dashboard, role: 'VIEWER' };
  };
  return {
    authorize,
    find,
    async list(userId) {
      const found = await find(userId, dashboardId);
      return found ? [{ ...found.dashboard, role: found.role }] : [];
    },
    async auditLog(userId, id) {
      await authorize(userId, id, 'audit');
      return [];
    },
    collaborators: (id) => dashboards.collaborators(id),
    audit: (actor, action, id, details) => dashboards.audit(actor, action, id, details),
    create: refuse,
    delete: refuse,
    invite: refuse,
    updateRole: refuse,
    remove: refuse,
    expireMemberships: refuse,
  };
}
