import type { Role } from '../domain/permissions.js';
import type { AuditRow } from '../ports/audit-log.js';
import type { CheckpointRow } from '../ports/checkpoint-store.js';
import type { CollaboratorRow, DashboardRow } from '../ports/dashboard-store.js';
import type { OperationRow } from '../ports/operation-log.js';
import type { OperationAck } from '../services/collab-engine.js';
import { notFound } from '../errors.js';
import { builder } from './builder.js';
import { requireViewer, type GraphQLContext } from './context.js';
import { UserRef } from './user.js';
import { PresenceRef } from './presence.js';

export const RoleEnum = builder.enumType('Role', {
  description: 'OWNER ⊇ EDITOR ⊇ VIEWER. There is one OWNER per dashboard.',
  values: ['OWNER', 'EDITOR', 'VIEWER'] as const,
});

export type DashboardShape = DashboardRow & { role: Role };

const actor = (ctx: GraphQLContext) => ({ userId: requireViewer(ctx), ip: ctx.ip });

const author = (userId: string, ctx: GraphQLContext) =>
  ctx.loaders.user.load(userId).then((u) => {
    if (!u) throw new Error(`user ${userId} missing`);
    return u;
  });

export const CollaboratorRef = builder.objectRef<CollaboratorRow>('Collaborator').implement({
  description: 'A member of a dashboard. The owner is listed too, as OWNER.',
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: (c, _a, ctx) => author(c.userId, ctx) }),
    role: t.field({ type: RoleEnum, resolve: (c) => c.role }),
    addedAt: t.field({ type: 'DateTime', resolve: (c) => c.addedAt }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the membership ends by itself, as a removal (SC2); null: it does not.',
      resolve: (c) => c.expiresAt,
    }),
  }),
});

export const OperationKindEnum = builder.enumType('OperationKind', {
  description: 'What made a committed op.',
  values: {
    EDIT: { value: 'edit', description: 'submitOperation' },
    UNDO: { value: 'undo', description: 'undo: reverts the undo step ending at `refVersion`' },
    REDO: { value: 'redo', description: 'redo: reverts the undo op at `refVersion`' },
    RESTORE: { value: 'restore', description: 'restoreVersion: brings back version `refVersion`' },
    RENAME: { value: 'rename', description: 'renameDashboard' },
    LAYOUT: { value: 'layout', description: 'the server pushed overlapping widgets apart (rule LY2)' },
  } as const,
});

/** The fields Operation and OperationApplied share about what made the op (UN1, UN2). */
export interface OperationOrigin {
  kind: OperationRow['kind'];
  refVersion: number | null;
  undoGroup: number | null;
}

export const OperationRef = builder.objectRef<OperationRow>('Operation').implement({
  description: 'One committed op of the linear history. `op` is null when concurrent edits absorbed it.',
  fields: (t) => ({
    version: t.exposeInt('version'),
    op: t.field({ type: 'JSON', nullable: true, resolve: (o) => o.op }),
    clientId: t.exposeID('clientId'),
    seq: t.exposeInt('seq'),
    author: t.field({ type: UserRef, resolve: (o, _a, ctx) => author(o.authorId, ctx) }),
    createdAt: t.field({ type: 'DateTime', resolve: (o) => o.createdAt }),
    ...originFields(t),
  }),
});

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer S> ? S : never;

/** kind, refVersion and undoGroup, for Operation and OperationApplied. */
export function originFields<T extends OperationOrigin>(t: PothosSchemaTypes.ObjectFieldBuilder<Types, T>) {
  return {
    kind: t.field({ type: OperationKindEnum, resolve: (o: T) => o.kind }),
    refVersion: t.int({
      nullable: true,
      description:
        'UNDO and REDO: the version of the op reverted (the newest of its step); RESTORE: the version restored.',
      resolve: (o: T) => o.refVersion,
    }),
    undoGroup: t.int({
      nullable: true,
      description:
        'Rule UN2: the version of the first op of the undo step this op belongs to; ops sharing it undo together ' +
        '(a typing run). On an UNDO, the step it reverted. Null: a step of its own.',
      resolve: (o: T) => o.undoGroup,
    }),
  };
}

export const OperationAckRef = builder.objectRef<OperationAck>('OperationAck').implement({
  description: 'The op as committed (transformed), its version, and whether it was a resubmission.',
  fields: (t) => ({
    version: t.int({ resolve: (a) => a.version }),
    op: t.field({ type: 'JSON', nullable: true, resolve: (a) => a.op }),
    duplicate: t.boolean({ resolve: (a) => a.duplicate }),
  }),
});

export const CheckpointRef = builder.objectRef<CheckpointRow>('Checkpoint').implement({
  description: 'A named version, to find and restore later.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    version: t.exposeInt('version'),
    createdBy: t.field({ type: UserRef, resolve: (c, _a, ctx) => author(c.createdBy, ctx) }),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
  }),
});

const AuditEntryRef = builder.objectRef<AuditRow>('AuditEntry').implement({
  description: 'Who changed what, when, from where.',
  fields: (t) => ({
    id: t.exposeID('id'),
    at: t.field({ type: 'DateTime', resolve: (a) => a.at }),
    user: t.field({
      type: UserRef,
      nullable: true,
      resolve: (a, _args, ctx) => (a.userId ? ctx.loaders.user.load(a.userId) : null),
    }),
    action: t.exposeString('action'),
    details: t.field({ type: 'JSON', nullable: true, resolve: (a) => a.details }),
    ip: t.exposeString('ip', { nullable: true }),
  }),
});

export const DashboardRef = builder.objectRef<DashboardShape>('Dashboard').implement({
  description: 'A collaboratively edited dashboard. `document` is the JSON document at `version`.',
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title'),
    version: t.exposeInt('version'),
    document: t.field({ type: 'JSON', resolve: (d) => d.document }),
    // The caller's own role: payloads selecting it are executed per viewer (shared-execution).
    myRole: t.field({ type: RoleEnum, extensions: { viewerDependent: true }, resolve: (d) => d.role }),
    owner: t.field({ type: UserRef, resolve: (d, _a, ctx) => author(d.ownerId, ctx) }),
    collaborators: t.field({
      type: [CollaboratorRef],
      resolve: (d, _a, ctx) => ctx.services.dashboards.collaborators(d.id),
    }),
    operations: t.field({
      type: [OperationRef],
      description: 'Committed ops with version > fromVersion, oldest first. limit <= 1000 (default 100).',
      args: { fromVersion: t.arg.int(), limit: t.arg.int({ required: false }) },
      resolve: (d, args, ctx) => ctx.services.engine.operations(d.id, args.fromVersion, args.limit ?? 100),
    }),
    documentAt: t.field({
      type: 'JSON',
      description: 'The document as it was at a past version.',
      args: { version: t.arg.int() },
      resolve: (d, args, ctx) => ctx.services.engine.documentAt(d.id, args.version),
    }),
    presence: t.field({
      type: [PresenceRef],
      description: 'Everyone present now, on any instance.',
      resolve: (d, _a, ctx) => ctx.services.presence.list(d.id),
    }),
    checkpoints: t.field({
      type: [CheckpointRef],
      resolve: (d, _a, ctx) => ctx.services.store.listCheckpoints(d.id),
    }),
    auditLog: t.field({
      type: [AuditEntryRef],
      description: 'Newest first. OWNER only.',
      extensions: { viewerDependent: true },
      args: { limit: t.arg.int({ required: false }) },
      resolve: (d, args, ctx) => ctx.services.dashboards.auditLog(requireViewer(ctx), d.id, args.limit ?? 100),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (d) => d.updatedAt }),
  }),
});

builder.queryFields((t) => ({
  dashboards: t.field({
    type: [DashboardRef],
    description: 'Dashboards the caller is a member of, most recently changed first.',
    resolve: (_root, _args, ctx) => ctx.services.dashboards.list(requireViewer(ctx)),
  }),
  dashboard: t.field({
    type: DashboardRef,
    nullable: true,
    description: 'A dashboard, or null when it does not exist for the caller (not a member, or deleted).',
    args: { id: t.arg.id() },
    resolve: async (_root, args, ctx) => {
      const found = await ctx.services.dashboards.find(requireViewer(ctx), String(args.id));
      return found ? { ...found.dashboard, role: found.role } : null;
    },
  }),
}));

const withRole = async (ctx: GraphQLContext, row: DashboardRow): Promise<DashboardShape> => {
  const role = await ctx.services.store.getRole(row.id, requireViewer(ctx));
  if (!role) throw notFound(); // access lost meanwhile (AC1)
  return { ...row, role };
};

builder.mutationFields((t) => ({
  createDashboard: t.field({
    type: DashboardRef,
    args: { title: t.arg.string(), document: t.arg({ type: 'JSON', required: false }) },
    resolve: async (_root, args, ctx) => ({
      ...(await ctx.services.dashboards.create(actor(ctx), args.title, args.document)),
      role: 'OWNER' as const,
    }),
  }),
  renameDashboard: t.field({
    type: DashboardRef,
    description: 'Commits an op on the document title (EDITOR and up).',
    args: { id: t.arg.id(), title: t.arg.string() },
    resolve: async (_root, args, ctx) =>
      withRole(ctx, await ctx.services.engine.rename(actor(ctx), String(args.id), args.title)),
  }),
  deleteDashboard: t.boolean({
    description: 'OWNER only. Members get AccessRevoked on their subscriptions.',
    args: { id: t.arg.id() },
    resolve: (_root, args, ctx) => ctx.services.dashboards.delete(actor(ctx), String(args.id)),
  }),
  inviteCollaborator: t.field({
    type: CollaboratorRef,
    description: 'OWNER only. The email must belong to a registered user; role is EDITOR or VIEWER.',
    args: {
      dashboardId: t.arg.id(),
      email: t.arg.string(),
      role: t.arg({ type: RoleEnum }),
      expiresAt: t.arg({
        type: 'DateTime',
        required: false,
        description: 'SC2: the membership ends then, as a removal.',
      }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.dashboards.invite(
        actor(ctx),
        String(args.dashboardId),
        args.email,
        args.role,
        args.expiresAt ? new Date(args.expiresAt as Date | string) : null,
      ),
  }),
  updateCollaboratorRole: t.field({
    type: CollaboratorRef,
    description: "OWNER only. `expiresAt` omitted keeps the membership's end; null makes it permanent (SC2).",
    args: {
      dashboardId: t.arg.id(),
      userId: t.arg.id(),
      role: t.arg({ type: RoleEnum }),
      expiresAt: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.dashboards.updateRole(
        actor(ctx),
        String(args.dashboardId),
        String(args.userId),
        args.role,
        args.expiresAt === undefined
          ? undefined
          : args.expiresAt === null
            ? null
            : new Date(args.expiresAt as Date | string),
      ),
  }),
  removeCollaborator: t.boolean({
    description: 'OWNER, or a collaborator removing himself.',
    args: { dashboardId: t.arg.id(), userId: t.arg.id() },
    resolve: (_root, args, ctx) =>
      ctx.services.dashboards.remove(actor(ctx), String(args.dashboardId), String(args.userId)),
  }),
  submitOperation: t.field({
    type: OperationAckRef,
    description:
      'Submits an ot-json1 op made against baseVersion. The server transforms it over later ops and commits it as the next version. Resubmitting the same (clientId, seq) returns the original ack with duplicate: true.',
    args: {
      dashboardId: t.arg.id(),
      clientId: t.arg.id(),
      seq: t.arg.int(),
      baseVersion: t.arg.int(),
      op: t.arg({ type: 'JSON' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.engine.submit(actor(ctx), {
        dashboardId: String(args.dashboardId),
        clientId: String(args.clientId),
        seq: args.seq,
        baseVersion: args.baseVersion,
        op: args.op,
      }),
  }),
  undo: t.field({
    type: OperationAckRef,
    nullable: true,
    description: "Reverts this clientId's latest not-undone op; null when there is nothing to undo.",
    args: { dashboardId: t.arg.id(), clientId: t.arg.id(), seq: t.arg.int() },
    resolve: (_root, args, ctx) =>
      ctx.services.engine.undo(actor(ctx), {
        dashboardId: String(args.dashboardId),
        clientId: String(args.clientId),
        seq: args.seq,
      }),
  }),
  redo: t.field({
    type: OperationAckRef,
    nullable: true,
    description: 'Re-applies what undo took; null when there is nothing to redo.',
    args: { dashboardId: t.arg.id(), clientId: t.arg.id(), seq: t.arg.int() },
    resolve: (_root, args, ctx) =>
      ctx.services.engine.redo(actor(ctx), {
        dashboardId: String(args.dashboardId),
        clientId: String(args.clientId),
        seq: args.seq,
      }),
  }),
  createCheckpoint: t.field({
    type: CheckpointRef,
    args: { dashboardId: t.arg.id(), name: t.arg.string() },
    resolve: (_root, args, ctx) =>
      ctx.services.engine.createCheckpoint(actor(ctx), String(args.dashboardId), args.name),
  }),
  restoreVersion: t.field({
    type: OperationAckRef,
    description: 'Commits one op that turns the current document into the one at `version` (itself undoable).',
    args: { dashboardId: t.arg.id(), version: t.arg.int(), clientId: t.arg.id(), seq: t.arg.int() },
    resolve: (_root, args, ctx) =>
      ctx.services.engine.restore(actor(ctx), {
        dashboardId: String(args.dashboardId),
        version: args.version,
        clientId: String(args.clientId),
        seq: args.seq,
      }),
  }),
}));
