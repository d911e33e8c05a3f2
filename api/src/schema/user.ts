import type { UserRow } from '../ports/account-store.js';
import { embedScope } from '../services/embed-scope.js';
import { builder } from './builder.js';

export const UserRef = builder.objectRef<UserRow>('User').implement({
  description: 'A person with an account. Cursors are drawn in their color.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.string({
      description: 'Empty for a caller with an embed token (rule EM1): an embedded page shows names, not addresses.',
      resolve: (u, _a, ctx) => (embedScope(ctx.viewer) === null ? u.email : ''),
    }),
    name: t.exposeString('name'),
    color: t.exposeString('color'),
  }),
});

builder.queryField('me', (t) =>
  t.field({
    type: UserRef,
    nullable: true,
    description: 'The signed-in user, or null without credentials (and with an embed token, which is nobody).',
    resolve: (_root, _args, ctx) =>
      ctx.viewer && embedScope(ctx.viewer) === null ? ctx.loaders.user.load(ctx.viewer.userId) : null,
  }),
);
