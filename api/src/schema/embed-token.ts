import { forbidden } from '../errors.js';
import { EMBED_TOKEN_TTL } from '../services/auth-service.js';
import { embedScope } from '../services/embed-scope.js';
import { isScopedToken } from '../services/access-scope.js';
import { publicOrigin } from '../transport/http.js';
import { builder } from './builder.js';
import { requireViewer } from './context.js';

interface EmbedTokenShape {
  token: string;
  expiresAt: Date;
  url: string;
}

const EmbedToken = builder.objectRef<EmbedTokenShape>('EmbedToken').implement({
  description:
    'A read-only token for one dashboard (rule EM1), to embed the live viewer. It reads that dashboard as a VIEWER until `expiresAt`, and only while its maker can.',
  fields: (t) => ({
    token: t.exposeString('token', {
      description: 'Send as `Authorization: Bearer` or `connection_init { authToken }`.',
    }),
    expiresAt: t.field({ type: 'DateTime', resolve: (e) => e.expiresAt }),
    url: t.exposeString('url', { description: 'The viewer page showing the dashboard with this token.' }),
  }),
});

builder.mutationField('createEmbedToken', (t) =>
  t.field({
    type: EmbedToken,
    description: `EDITOR and up. A read-only token for the live viewer; ttlSeconds 1 to ${EMBED_TOKEN_TTL.max} (30 days), default ${EMBED_TOKEN_TTL.default} (24 hours).`,
    args: { dashboardId: t.arg.id(), ttlSeconds: t.arg.int({ required: false }) },
    resolve: async (_root, args, ctx) => {
      const userId = requireViewer(ctx);
      if (embedScope(ctx.viewer) !== null) throw forbidden('An embed token is read-only');
      // An embed token could outlive the API token's expiry or leave its allowFrom (SC1).
      if (isScopedToken(ctx.viewer)) throw forbidden('A scoped API token cannot create embed tokens');
      const dashboardId = String(args.dashboardId);
      await ctx.services.dashboards.authorize(userId, dashboardId, 'edit');
      const { token, expiresAt } = await ctx.services.auth.createEmbedToken(
        userId,
        dashboardId,
        args.ttlSeconds ?? EMBED_TOKEN_TTL.default,
      );
      await ctx.services.dashboards.audit({ userId, ip: ctx.ip }, 'createEmbedToken', dashboardId, {
        expiresAt: expiresAt.toISOString(),
      });
      const origin = ctx.req ? (publicOrigin(ctx.req, ctx.services.config.trustProxy) ?? '') : '';
      const query = new URLSearchParams({ dashboard: dashboardId, token });
      return { token, expiresAt, url: `${origin}/vue.html?${query}` };
    },
  }),
);
