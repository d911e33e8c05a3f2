import type { PresenceEntryMessage } from '../ports/event-bus.js';
import { builder } from './builder.js';
import { requireViewer } from './context.js';
import { UserRef } from './user.js';

export const PresenceStatusEnum = builder.enumType('PresenceStatus', {
  description: 'IDLE after IDLE_AFTER without activity; ACTIVE again on activity.',
  values: ['ACTIVE', 'IDLE'] as const,
});

/** A presence entry as resolvers see it (from the store or from a bus message). */
export type PresenceShape = Omit<PresenceEntryMessage, 'lastSeen'> & { lastSeen: string | number | Date };

export const PresenceRef = builder.objectRef<PresenceShape>('Presence').implement({
  description:
    'Someone on the dashboard. A text cursor { widgetId, offset } or selection { widgetId, anchor, head } refers to the document at `version`; a client whose document is ahead transforms it forward (core: transformThrough). Canvas cursors are { x, y } in grid units; a selection may also be a list of widget ids.',
  fields: (t) => ({
    clientId: t.exposeID('clientId'),
    user: t.field({
      type: UserRef,
      resolve: async (p, _a, ctx) => {
        const user = await ctx.loaders.user.load(p.userId);
        if (!user) throw new Error(`user ${p.userId} missing`);
        return user;
      },
    }),
    cursor: t.field({ type: 'JSON', nullable: true, resolve: (p) => p.cursor }),
    selection: t.field({ type: 'JSON', nullable: true, resolve: (p) => p.selection }),
    version: t.exposeInt('version'),
    status: t.field({ type: PresenceStatusEnum, resolve: (p) => p.status }),
    lastSeen: t.field({ type: 'DateTime', resolve: (p) => new Date(p.lastSeen) }),
  }),
});

builder.mutationField('updatePresence', (t) =>
  t.boolean({
    description:
      'Moves your cursor or selection (each at most 4 KB), or sets your status. Text positions refer to baseVersion and are transformed to the current version. Coalesced: about 30 broadcasts a second per client, the latest wins.',
    args: {
      dashboardId: t.arg.id(),
      clientId: t.arg.id(),
      cursor: t.arg({ type: 'JSON', required: false }),
      selection: t.arg({ type: 'JSON', required: false }),
      baseVersion: t.arg.int({ required: false }),
      status: t.arg({ type: PresenceStatusEnum, required: false }),
    },
    resolve: async (_root, args, ctx) => {
      await ctx.services.presence.update(requireViewer(ctx), {
        dashboardId: String(args.dashboardId),
        clientId: String(args.clientId),
        cursor: args.cursor,
        selection: args.selection,
        baseVersion: args.baseVersion,
        status: args.status,
      });
      return true;
    },
  }),
);
