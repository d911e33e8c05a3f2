/** Roles and what each may do (rule RO1: OWNER ⊇ EDITOR ⊇ VIEWER). */
export type Role = 'OWNER' | 'EDITOR' | 'VIEWER';

export type Action =
  | 'read' // dashboard fields, history, presence; subscribe; be present
  | 'edit' // submit ops, undo, redo, restore, rename, checkpoints
  | 'push' // push points (LD1)
  | 'manage' // invite, change roles, remove others
  | 'audit' // read the audit log
  | 'delete'; // delete the dashboard

const RANK: Record<Role, number> = { VIEWER: 1, EDITOR: 2, OWNER: 3 };

const NEEDS: Record<Action, Role> = {
  read: 'VIEWER',
  edit: 'EDITOR',
  push: 'EDITOR',
  manage: 'OWNER',
  audit: 'OWNER',
  delete: 'OWNER',
};

/** Whether `role` may perform `action`. `null` (not a member) may do nothing (rule AC1). */
export function can(role: Role | null | undefined, action: Action): boolean {
  if (!role) return false;
  return RANK[role] >= RANK[NEEDS[action]];
}

/** Roles an invitation may grant: there is exactly one OWNER. */
export const INVITABLE_ROLES: readonly Role[] = ['EDITOR', 'VIEWER'];
