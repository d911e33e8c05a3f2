import type { AuthSession } from '../services/auth-service.js';
import { builder } from './builder.js';
import { UserRef } from './user.js';

const AuthPayload = builder.objectRef<AuthSession>('AuthPayload').implement({
  description: 'A session: a short-lived access token and a rotating refresh token.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken'),
    refreshToken: t.exposeString('refreshToken'),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'When the access token expires.',
      resolve: (s) => s.expiresAt,
    }),
    user: t.field({ type: UserRef, resolve: (s) => s.user }),
  }),
});

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayload,
    args: { email: t.arg.string(), name: t.arg.string(), password: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const session = await ctx.services.auth.signUp(args.email, args.name, args.password);
      await ctx.services.dashboards.audit({ userId: session.user.id, ip: ctx.ip }, 'signUp', null);
      return session;
    },
  }),
  logIn: t.field({
    type: AuthPayload,
    args: { email: t.arg.string(), password: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const session = await ctx.services.auth.logIn(args.email, args.password);
      await ctx.services.dashboards.audit({ userId: session.user.id, ip: ctx.ip }, 'logIn', null);
      return session;
    },
  }),
  refreshSession: t.field({
    type: AuthPayload,
    description: 'Exchanges a refresh token for a new session; the old refresh token stops working.',
    args: { refreshToken: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const session = await ctx.services.auth.refresh(args.refreshToken);
      await ctx.services.dashboards.audit({ userId: session.user.id, ip: ctx.ip }, 'refreshSession', null);
      return session;
    },
  }),
  logOut: t.boolean({
    description: 'Revokes the refresh token and every token rotated from it.',
    args: { refreshToken: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const ok = await ctx.services.auth.logOut(args.refreshToken);
      if (ok && ctx.viewer)
        await ctx.services.dashboards.audit({ userId: ctx.viewer.userId, ip: ctx.ip }, 'logOut', null);
      return ok;
    },
  }),
}));
