/**
 * API tokens (DESIGN.md section 7) and their scopes (section 11, rule SC1): the dashboards and
 * actions a token may use, until when and from where. A scoped token cannot list, make or
 * revoke tokens, so it can never make itself a wider one.
 */
import type { ApiTokenRow } from '../ports/account-store.js';
import { isId } from '../domain/validation.js';
import { TOKEN_ACTIONS, checkScope } from '../domain/token-scope.js';
import { forbidden } from '../errors.js';
import { embedScope } from '../services/embed-scope.js';
import { isScopedToken } from '../services/access-scope.js';
import { builder } from './builder.js';
import { requireViewer, type GraphQLContext } from './context.js';

const TokenActionEnum = builder.enumType('TokenAction', {
  description:
    'READ: queries and subscriptions; WRITE: ops, undo, checkpoints, restore; PUSH: points; ADMIN: sharing and deletion.',
  values: TOKEN_ACTIONS,
});

const TokenScopeInput = builder.inputType('TokenScope', {
  description:
    "What a token may do (SC1), never more than its user's current role. dashboards null: all of the user's; allowFrom: CIDR ranges (the client address as TRUST_PROXY decides).",
  fields: (t) => ({
    dashboards: t.idList({ required: false }),
    actions: t.field({ type: [TokenActionEnum] }),
    expiresAt: t.field({ type: 'DateTime', required: false }),
    allowFrom: t.stringList({ required: false }),
  }),
});

const ApiToken = builder.objectRef<ApiTokenRow>('ApiToken').implement({
  description:
    'A long-lived token for integrators; unscoped it acts as its user, scoped it is limited as its fields say. Send it as `Authorization: Bearer`.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    lastUsedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.lastUsedAt }),
    lastUsedIp: t.exposeString('lastUsedIp', { nullable: true }),
    dashboards: t.idList({ nullable: true, resolve: (r) => r.scope?.dashboards ?? null }),
    actions: t.field({ type: [TokenActionEnum], nullable: true, resolve: (r) => r.scope?.actions ?? null }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.scope?.expiresAt ?? null }),
    allowFrom: t.stringList({ nullable: true, resolve: (r) => r.scope?.allowFrom ?? null }),
  }),
});

const NewApiToken = builder.objectRef<{ token: string; apiToken: ApiTokenRow }>('NewApiToken').implement({
  description: 'A freshly created API token. The secret `token` is shown this once and never again.',
  fields: (t) => ({
    token: t.exposeString('token'),
    apiToken: t.field({ type: ApiToken, resolve: (r) => r.apiToken }),
  }),
});

/** Token management needs the user's own session or an unscoped token. */
function requireTokenManager(ctx: GraphQLContext): string {
  const userId = requireViewer(ctx);
  if (embedScope(ctx.viewer) !== null) throw forbidden('An embed token reads one dashboard only');
  if (isScopedToken(ctx.viewer)) throw forbidden('A scoped API token cannot manage API tokens');
  return userId;
}

builder.queryField('apiTokens', (t) =>
  t.field({
    type: [ApiToken],
    resolve: (_root, _args, ctx) => ctx.services.auth.listApiTokens(requireTokenManager(ctx)),
  }),
);

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: NewApiToken,
    description: 'A new API token; with `scope`, limited to it (SC1). The secret is returned this once.',
    args: { name: t.arg.string(), scope: t.arg({ type: TokenScopeInput, required: false }) },
    resolve: async (_root, args, ctx) => {
      const userId = requireTokenManager(ctx);
      const scope = args.scope
        ? checkScope(
            {
              dashboards: args.scope.dashboards?.map(String) ?? null,
              actions: args.scope.actions,
              expiresAt: args.scope.expiresAt ? new Date(args.scope.expiresAt as Date | string) : null,
              allowFrom: args.scope.allowFrom ?? null,
            },
            ctx.services.clock.now(),
          )
        : null;
      const created = await ctx.services.auth.createApiToken(userId, args.name, scope);
      await ctx.services.dashboards.audit({ userId, ip: ctx.ip }, 'createApiToken', null, {
        id: created.apiToken.id,
        scope,
      });
      return created;
    },
  }),
  revokeApiToken: t.boolean({
    args: { id: t.arg.id() },
    resolve: async (_root, args, ctx) => {
      const userId = requireTokenManager(ctx);
      const id = String(args.id);
      const revoked = isId(id) && (await ctx.services.auth.revokeApiToken(userId, id));
      if (revoked) {
        await ctx.services.dashboards.audit({ userId, ip: ctx.ip }, 'revokeApiToken', null, { id });
        await ctx.services.bus
          .publish(`user:${userId}`, { type: 'api-token-revoked', userId, tokenId: id })
          .catch(() => {});
      }
      return revoked;
    },
  }),
}));
