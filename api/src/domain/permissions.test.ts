import { can, type Action, type Role } from './permissions.js';

describe('[RO1] can(role, action)', () => {
  const table: Array<[Role | null, Action[], Action[]]> = [
    ['OWNER', ['read', 'edit', 'manage', 'audit', 'delete'], []],
    ['EDITOR', ['read', 'edit'], ['manage', 'audit', 'delete']],
    ['VIEWER', ['read'], ['edit', 'manage', 'audit', 'delete']],
    [null, [], ['read', 'edit', 'manage', 'audit', 'delete']],
  ];
  it.each(table)('%s', (role, allowed, denied) => {
    for (const action of allowed) expect(can(role, action)).toBe(true);
    for (const action of denied) expect(can(role, action)).toBe(false);
  });
});
