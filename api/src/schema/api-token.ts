import type { ApiTokenRow } from '../ports/account-store.js';
import { isId } from '../domain/validation.js';
import { forbidden } from '../errors.js';
import { embedScope } from '../services/embed-scope.js';
import { builder } from './builder.js';
import { requireViewer } from './context.js';

const ApiToken = builder.objectRef<ApiTokenRow>('ApiToken').implement({
  description: 'A long-lived token for integrators; it acts as its user. Send it as `Authorization: Bearer`.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    lastUsedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.lastUsedAt }),
  }),
});

const NewApiToken = builder.objectRef<{ token: string; apiToken: ApiTokenRow }>('NewApiToken').implement({
  description: 'A freshly created API token. The secret `token` is shown this once and never again.',
  fields: (t) => ({
    token: t.exposeString('token'),
    apiToken: t.field({ type: ApiToken, resolve: (r) => r.apiToken }),
  }),
});

builder.queryField('apiTokens', (t) =>
  t.field({
    type: [ApiToken],
    resolve: (_root, _args, ctx) => {
      const userId = requireViewer(ctx);
      if (embedScope(ctx.viewer) !== null) throw forbidden('An embed token reads one dashboard only');
      return ctx.services.auth.listApiTokens(userId);
    },
  }),
);

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: NewApiToken,
    args: { name: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const userId = requireViewer(ctx);
      const created = await ctx.services.auth.createApiToken(userId, args.name);
      await ctx.services.dashboards.audit({ userId, ip: ctx.ip }, 'createApiToken', null, { id: created.apiToken.id });
      return created;
    },
  }),
  revokeApiToken: t.boolean({
    args: { id: t.arg.id() },
    resolve: async (_root, args, ctx) => {
      const userId = requireViewer(ctx);
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
