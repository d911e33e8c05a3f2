import type { UserRow } from '../ports/store.js';
import { builder } from './builder.js';

export const UserRef = builder.objectRef<UserRow>('User').implement({
  description: 'A person with an account. Cursors are drawn in their color.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    color: t.exposeString('color'),
  }),
});

builder.queryField('me', (t) =>
  t.field({
    type: UserRef,
    nullable: true,
    description: 'The signed-in user, or null without credentials.',
    resolve: (_root, _args, ctx) => (ctx.viewer ? ctx.loaders.user.load(ctx.viewer.userId) : null),
  }),
);
