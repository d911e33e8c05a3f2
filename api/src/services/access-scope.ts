/**
 * The services an operation sees, narrowed to its credential: an embed token's one dashboard
 * (EM1, embed-scope.ts) or a scoped API token's dashboards and actions (SC1). Resolvers and
 * transports reach dashboards, the collab engine, presence and points through `services`,
 * so narrowing these once narrows every path: GraphQL over HTTP, SSE and WebSocket, REST
 * (the transport plugin in transport/embed-guard.ts swaps them into the context) and remote
 * write (features/live-data.ts).
 *
 * A scoped token is checked first against its scope (no database read: a dashboard outside it
 * is NOT_FOUND, AC1; a missing action FORBIDDEN), then against its user's current role by the
 * service itself, so it is never more than its user. Each refusal is written to the audit log.
 */
import type { Action } from '../domain/permissions.js';
import { tokenActionFor, type TokenScope } from '../domain/token-scope.js';
import { forbidden, notFound } from '../errors.js';
import type { Viewer } from './auth-service.js';
import type { CollabEngine } from './collab-engine.js';
import type { DashboardService } from './dashboard-service.js';
import { embedScope, scopeDashboards } from './embed-scope.js';
import type { PresenceService } from './presence-service.js';
import type { SeriesService } from './series-service.js';
import type { Services } from './services.js';

export function servicesFor(services: Services, viewer: Viewer | null | undefined, ip: string | null = null): Services {
  const embedded = embedScope(viewer);
  if (embedded !== null) return { ...services, dashboards: scopeDashboards(services.dashboards, embedded) };
  if (viewer?.scope) return scopeToken(services, viewer, viewer.scope, ip);
  return services;
}

/** Whether the viewer is a scoped API token (which may not manage tokens: no escalation). */
export const isScopedToken = (viewer: Viewer | null | undefined) => Boolean(viewer?.scope);

function scopeToken(services: Services, viewer: Viewer, scope: TokenScope, ip: string | null): Services {
  const base = services.dashboards;
  const inScope = (id: string) => scope.dashboards === null || scope.dashboards.includes(id);

  /**
   * Audits a refusal. One outside the scope is filed under no dashboard (the id in its
   * details): the id is the caller's to choose, and another owner's audit log must not take
   * entries from strangers. One inside it is filed under its dashboard, which the scope names.
   */
  function refuse(dashboardId: string | null, action: string, error: Error): never {
    const outside = dashboardId !== null && !inScope(dashboardId);
    void base
      .audit({ userId: viewer.userId, ip }, 'apiTokenRefused', outside ? null : dashboardId, {
        tokenId: viewer.apiTokenId,
        action,
        reason: error.message,
        ...(outside ? { dashboardId: dashboardId.slice(0, 64) } : {}),
      })
      .catch(() => {});
    throw error;
  }

  /** SC1 before the role: the dashboard in the scope, the action among its actions. */
  function check(dashboardId: string, action: Action) {
    if (!inScope(dashboardId)) refuse(dashboardId, action, notFound());
    const needed = tokenActionFor(action);
    if (!scope.actions.includes(needed)) {
      refuse(dashboardId, action, forbidden(`This API token may not do that: it lacks ${needed}`));
    }
  }

  const dashboards: DashboardService = {
    ...base,
    async authorize(userId, id, action) {
      check(id, action);
      return base.authorize(userId, id, action);
    },
    async find(userId, id) {
      if (!inScope(id)) return null;
      check(id, 'read');
      return base.find(userId, id);
    },
    async list(userId) {
      if (!scope.actions.includes('READ'))
        refuse(null, 'read', forbidden('This API token may not do that: it lacks READ'));
      return (await base.list(userId)).filter((d) => inScope(d.id));
    },
    async create(actor, title, document) {
      if (scope.dashboards !== null || !scope.actions.includes('WRITE')) {
        refuse(null, 'create', forbidden('Creating a dashboard needs a token for all dashboards with WRITE'));
      }
      return base.create(actor, title, document);
    },
    async delete(actor, id) {
      check(id, 'delete');
      return base.delete(actor, id);
    },
    async invite(actor, id, email, role, expiresAt) {
      check(id, 'manage');
      return base.invite(actor, id, email, role, expiresAt);
    },
    async updateRole(actor, id, userId, role, expiresAt) {
      check(id, 'manage');
      return base.updateRole(actor, id, userId, role, expiresAt);
    },
    async remove(actor, id, userId) {
      check(id, 'manage'); // leaving a dashboard too is sharing: ADMIN
      return base.remove(actor, id, userId);
    },
    async auditLog(userId, id, limit) {
      check(id, 'audit');
      return base.auditLog(userId, id, limit);
    },
  };

  const engine: CollabEngine = {
    ...services.engine,
    submit: async (actor, input) => {
      check(input.dashboardId, 'edit');
      return services.engine.submit(actor, input);
    },
    undo: async (actor, input) => {
      check(input.dashboardId, 'edit');
      return services.engine.undo(actor, input);
    },
    redo: async (actor, input) => {
      check(input.dashboardId, 'edit');
      return services.engine.redo(actor, input);
    },
    restore: async (actor, input) => {
      check(input.dashboardId, 'edit');
      return services.engine.restore(actor, input);
    },
    rename: async (actor, id, title) => {
      check(id, 'edit');
      return services.engine.rename(actor, id, title);
    },
    createCheckpoint: async (actor, id, name) => {
      check(id, 'edit');
      return services.engine.createCheckpoint(actor, id, name);
    },
  };

  const presence: PresenceService = {
    ...services.presence,
    update: async (userId, input) => {
      check(input.dashboardId, 'read');
      return services.presence.update(userId, input);
    },
  };

  const series: SeriesService = {
    ...services.series,
    push: async (userId, id, points) => {
      check(id, 'push');
      return services.series.push(userId, id, points);
    },
  };

  return { ...services, dashboards, engine, presence, series };
}
