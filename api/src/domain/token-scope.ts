/**
 * Scoped API tokens (DESIGN.md section 11, rule SC1): which dashboards and actions a token
 * may use, until when, and from which addresses. A token without a scope acts as its user;
 * a scoped one is never more than its user's current role (the role is checked as well).
 */
import { BlockList, isIP } from 'node:net';
import { badInput } from '../errors.js';
import type { Action } from './permissions.js';
import { isId } from './validation.js';

export const TOKEN_ACTIONS = ['READ', 'WRITE', 'PUSH', 'ADMIN'] as const;
export type TokenAction = (typeof TOKEN_ACTIONS)[number];

export interface TokenScope {
  /** null: every dashboard of the user. */
  dashboards: string[] | null;
  actions: TokenAction[];
  expiresAt: Date | null;
  /** CIDR ranges (an address alone is its /32 or /128); null: anywhere. */
  allowFrom: string[] | null;
}

export const MAX_SCOPE_DASHBOARDS = 100;
export const MAX_ALLOW_FROM = 32;

/** The token action a dashboard action needs. */
export function tokenActionFor(action: Action): TokenAction {
  switch (action) {
    case 'read':
      return 'READ';
    case 'edit':
      return 'WRITE';
    case 'push':
      return 'PUSH';
    case 'manage':
    case 'audit':
    case 'delete':
      return 'ADMIN';
  }
}

/** `192.0.2.0/24`, `2001:db8::/32` or an address alone, normalised; null when it is none. */
function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', bits, extra] = entry.trim().split('/');
  if (extra !== undefined) return null;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Checks a scope as given to createApiToken; BAD_USER_INPUT naming what is wrong. */
export function checkScope(
  input: {
    dashboards?: readonly string[] | null;
    actions: readonly string[];
    expiresAt?: Date | null;
    allowFrom?: readonly string[] | null;
  },
  now: Date,
): TokenScope {
  if (input.actions.length === 0) throw badInput('scope.actions must name at least one action');
  for (const a of input.actions) {
    if (!(TOKEN_ACTIONS as readonly string[]).includes(a)) throw badInput(`scope.actions: unknown action ${a}`);
  }
  // WRITE and ADMIN include READ: their mutations return what they change (a renamed
  // dashboard, a checkpoint, an undone op), so a token that may change a dashboard reads it.
  // PUSH alone stays write-only: pushPoints returns counts.
  const given = new Set(input.actions);
  if (given.has('WRITE') || given.has('ADMIN')) given.add('READ');
  const actions = TOKEN_ACTIONS.filter((a) => given.has(a));
  let dashboards: string[] | null = null;
  if (input.dashboards != null) {
    dashboards = [...new Set(input.dashboards.map(String))];
    if (dashboards.length === 0)
      throw badInput('scope.dashboards must name at least one dashboard (or be null for all)');
    if (dashboards.length > MAX_SCOPE_DASHBOARDS)
      throw badInput(`scope.dashboards may name at most ${MAX_SCOPE_DASHBOARDS}`);
    if (!dashboards.every(isId)) throw badInput('scope.dashboards must be dashboard ids');
  }
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt && expiresAt.getTime() <= now.getTime()) throw badInput('scope.expiresAt must be in the future');
  let allowFrom: string[] | null = null;
  if (input.allowFrom != null) {
    if (input.allowFrom.length === 0)
      throw badInput('scope.allowFrom must name at least one range (or be null for any)');
    if (input.allowFrom.length > MAX_ALLOW_FROM)
      throw badInput(`scope.allowFrom may name at most ${MAX_ALLOW_FROM} ranges`);
    allowFrom = input.allowFrom.map((entry) => {
      const parsed = parseCidr(entry);
      if (!parsed) throw badInput(`scope.allowFrom: "${String(entry).slice(0, 60)}" is not an address or CIDR range`);
      return `${parsed.address}/${parsed.prefix}`;
    });
  }
  return { dashboards, actions, expiresAt, allowFrom };
}

/** Whether `ip` (as the server sees the client, TRUST_PROXY applied) is in `allowFrom`. */
export function addressAllowed(allowFrom: readonly string[] | null, ip: string | null | undefined): boolean {
  if (!allowFrom) return true;
  if (!ip) return false;
  const bare = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(bare);
  if (family === 0) return false;
  const list = new BlockList();
  for (const entry of allowFrom) {
    const parsed = parseCidr(entry);
    if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return list.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}
