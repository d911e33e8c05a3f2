import { REVOKE_REASONS } from '@collab-dashboards/core';
import { DomainError, badInput } from '../errors.js';
import { checkClientId } from '../domain/validation.js';
import type { DashboardEvent, OperationEvent } from '../services/hub.js';
import { builder } from './builder.js';
import { requireViewer, type GraphQLContext } from './context.js';
import { embedScope } from '../services/embed-scope.js';
import { CheckpointRef, DashboardRef, originFields } from './dashboard.js';
import { UserRef } from './user.js';
import { PresenceRef } from './presence.js';

const RevokeReason = builder.enumType('RevokeReason', { values: REVOKE_REASONS });

const OperationApplied = builder.objectRef<OperationEvent>('OperationApplied').implement({
  description: 'An op committed as `version`. Events arrive in version order without gaps.',
  fields: (t) => ({
    version: t.exposeInt('version'),
    op: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.op }),
    clientId: t.exposeID('clientId'),
    seq: t.exposeInt('seq'),
    author: t.field({
      type: UserRef,
      resolve: async (e, _a, ctx) => {
        const user = await ctx.loaders.user.load(e.authorId);
        if (!user) throw new Error(`user ${e.authorId} missing`);
        return user;
      },
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.createdAt }),
    ...originFields(t),
  }),
});

/**
 * What a payload depends on besides the selection and the fields marked viewer-dependent
 * (transport/shared-execution executes those per viewer, DashboardChanged's own role among
 * them): an embed token sees less than a member (EM1: no emails; VIEWER whatever its maker's
 * role), so it is an audience of its own.
 */
export function eventAudience(_event: unknown, ctx: unknown): string {
  const viewer = (ctx as Partial<GraphQLContext>).viewer;
  const scope = embedScope(viewer);
  if (scope !== null) return `embed:${scope}`;
  // A scoped API token sees less than its user's own session (SC1: auditLog needs ADMIN), so
  // it never shares an execution with it or with another token.
  if (viewer?.scope) return `token:${viewer.apiTokenId}`;
  return '';
}

type Of<N extends DashboardEvent['__typename']> = Extract<DashboardEvent, { __typename: N }>;

const SyncCompleted = builder.objectRef<Of<'SyncCompleted'>>('SyncCompleted').implement({
  description: 'Catch-up is over: every op up to `version` has been delivered; live events follow.',
  fields: (t) => ({ version: t.exposeInt('version') }),
});

const CheckpointCreated = builder.objectRef<Of<'CheckpointCreated'>>('CheckpointCreated').implement({
  fields: (t) => ({
    checkpoint: t.field({
      type: CheckpointRef,
      resolve: async (e, _a, ctx) => {
        const checkpoint = await ctx.services.store.getCheckpoint(e.checkpointId);
        if (!checkpoint) throw new DomainError('NOT_FOUND', 'Checkpoint not found');
        return checkpoint;
      },
    }),
  }),
});

const DashboardChanged = builder.objectRef<Of<'DashboardChanged'>>('DashboardChanged').implement({
  description: 'Collaborators or roles changed.',
  fields: (t) => ({
    dashboard: t.field({
      type: DashboardRef,
      // The dashboard as the caller sees it (his role; NOT_FOUND once he lost access).
      extensions: { viewerDependent: true },
      resolve: async (e, _a, ctx) => {
        const found = await ctx.services.dashboards.find(requireViewer(ctx), e.dashboardId);
        if (!found) throw new DomainError('NOT_FOUND', 'Dashboard not found');
        return { ...found.dashboard, role: found.role };
      },
    }),
  }),
});

export const AccessRevoked = builder.objectRef<Of<'AccessRevoked'>>('AccessRevoked').implement({
  description: 'The last event of a subscription whose user lost access to the dashboard.',
  fields: (t) => ({
    dashboardId: t.exposeID('dashboardId'),
    reason: t.field({ type: RevokeReason, resolve: (e) => e.reason }),
  }),
});

const PresenceUpdated = builder.objectRef<Of<'PresenceUpdated'>>('PresenceUpdated').implement({
  description: 'Someone joined, moved a cursor or selection, or changed status.',
  fields: (t) => ({ presence: t.field({ type: PresenceRef, resolve: (e) => e.presence }) }),
});

const PresenceLeft = builder.objectRef<Of<'PresenceLeft'>>('PresenceLeft').implement({
  description: 'A client left (its subscription ended, or its instance stopped refreshing it).',
  fields: (t) => ({
    clientId: t.exposeID('clientId'),
    user: t.field({
      type: UserRef,
      resolve: async (e, _a, ctx) => {
        const user = await ctx.loaders.user.load(e.userId);
        if (!user) throw new Error(`user ${e.userId} missing`);
        return user;
      },
    }),
  }),
});

const DashboardEventUnion = builder.unionType('DashboardEvent', {
  types: [
    OperationApplied,
    SyncCompleted,
    PresenceUpdated,
    PresenceLeft,
    CheckpointCreated,
    DashboardChanged,
    AccessRevoked,
  ],
  resolveType: (event) => event.__typename,
});

builder.subscriptionField('dashboardEvents', (t) =>
  t.field({
    type: DashboardEventUnion,
    description:
      'With fromVersion: every op after it, then SyncCompleted, then live events, with no gap or duplicate at the seam. Without: SyncCompleted at the current version, then live events.',
    args: {
      dashboardId: t.arg.id(),
      clientId: t.arg.id(),
      fromVersion: t.arg.int({ required: false }),
    },
    subscribe: async (_root, args, ctx) => {
      const userId = requireViewer(ctx);
      const dashboardId = String(args.dashboardId);
      const clientId = checkClientId(String(args.clientId));
      const role = await ctx.services.dashboards.authorize(userId, dashboardId, 'read');
      // EM1: an embed token never submits, so its clientId is not claimed, and it is not
      // present (nobody sees a read-only embed among the people on the dashboard).
      const embedded = embedScope(ctx.viewer) !== null;
      const owner = embedded ? userId : await ctx.services.store.claimClientId(clientId, userId);
      if (owner !== userId) throw new DomainError('FORBIDDEN', 'This clientId belongs to another user');
      const [current = 0] = (await ctx.services.store.dashboardVersions([dashboardId])).values();
      const fromVersion = args.fromVersion ?? null;
      if (fromVersion !== null && (!Number.isSafeInteger(fromVersion) || fromVersion < 0 || fromVersion > current)) {
        throw badInput(`fromVersion must be between 0 and the current version ${current}`);
      }
      // PR1: subscribing joins the room and the end of the stream, however it ends, leaves
      // it. Both run inside the stream's lifetime, so a subscription cancelled before it
      // started leaves no ghost.
      const { presence } = ctx.services;
      let sessionId: string | null = null;
      return ctx.services.hub.events({
        dashboardId,
        userId,
        clientId,
        role,
        fromVersion,
        onStart: async () => {
          if (!embedded) sessionId = await presence.join({ dashboardId, clientId, userId, version: current });
        },
        onStop: async () => {
          if (sessionId) await presence.leave(dashboardId, clientId, sessionId);
        },
      });
    },
    resolve: (event) => event,
  }),
);
