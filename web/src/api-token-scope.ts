/**
 * Scoped API tokens in words (DESIGN.md section 11, rule SC1): what the API tokens page says
 * a token may do, and the scope its form sends to createApiToken. No React here.
 */
import type { ApiTokenFieldsFragment, TokenAction, TokenScope } from '../shared/gql/graphql.js';
import {
  describeTokenExpiry,
  expiryFrom,
  localDate,
  relativeTime,
  type DateFormat,
  type ExpiryChoice,
} from './expiry.js';

/** The actions in the order the page lists them, each with what it lets a token do. */
export const TOKEN_ACTIONS: readonly { action: TokenAction; label: string; verb: string; explain: string }[] = [
  { action: 'READ', label: 'Read', verb: 'read', explain: 'Load dashboards and their data, follow live updates.' },
  { action: 'WRITE', label: 'Write', verb: 'edit', explain: 'Change dashboards: edits, undo, checkpoints, restore.' },
  { action: 'PUSH', label: 'Push', verb: 'push points', explain: 'Send data points to dashboards’ series.' },
  {
    action: 'ADMIN',
    label: 'Admin',
    verb: 'share and delete',
    explain: 'Share and delete dashboards (only those you own).',
  },
];

/** `a`, `a and b`, `a, b and c`. */
function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** The address ranges typed one a line (commas and spaces separate too); null when none: anywhere. */
export function parseAllowFrom(text: string): string[] | null {
  const ranges = [...new Set(text.split(/[\s,]+/).filter(Boolean))];
  return ranges.length ? ranges : null;
}

/** One line of a token's scope, with a key for the page to find it by. */
export interface ScopeLine {
  key: 'full' | 'dashboards' | 'actions' | 'expiry' | 'from';
  text: string;
}

type TokenFields = Pick<ApiTokenFieldsFragment, 'dashboards' | 'actions' | 'expiresAt' | 'allowFrom'>;

/**
 * What a token may do, in words. `titles` maps the user's dashboards (id -> title): one the
 * token names but the user can no longer open is counted, not named.
 */
export function describeScope(
  token: TokenFields,
  titles: ReadonlyMap<string, string>,
  now: Date,
  format: DateFormat = localDate,
): ScopeLine[] {
  if (token.actions === null) return [{ key: 'full', text: 'Full access (acts as you)' }];
  const lines: ScopeLine[] = [];
  if (token.dashboards === null) {
    lines.push({ key: 'dashboards', text: 'All your dashboards' });
  } else {
    const named = token.dashboards.flatMap((id) => (titles.has(id) ? [`“${titles.get(id)}”`] : []));
    const gone = token.dashboards.length - named.length;
    if (gone)
      named.push(gone === 1 ? 'a dashboard you can no longer open' : `${gone} dashboards you can no longer open`);
    lines.push({ key: 'dashboards', text: `Only ${list(named)}` });
  }
  const verbs = TOKEN_ACTIONS.filter((a) => token.actions!.includes(a.action)).map((a) => a.verb);
  lines.push({ key: 'actions', text: `Can ${list(verbs)}` });
  lines.push({ key: 'expiry', text: describeTokenExpiry(token.expiresAt, now, format) });
  lines.push({ key: 'from', text: token.allowFrom ? `From ${list(token.allowFrom)}` : 'From anywhere' });
  return lines;
}

/** When and from where a token was last used. */
export function describeLastUse(
  token: Pick<ApiTokenFieldsFragment, 'lastUsedAt' | 'lastUsedIp'>,
  now: Date,
  format: DateFormat = localDate,
): string {
  if (!token.lastUsedAt) return 'Never used';
  const at = new Date(token.lastUsedAt);
  const from = token.lastUsedIp ? ` from ${token.lastUsedIp}` : '';
  return `Last used ${format(at)} (${relativeTime(at, now)})${from}`;
}

/** What the new-token form holds. */
export interface TokenForm {
  name: string;
  /** null: all the user's dashboards (those made later too). */
  dashboards: readonly string[] | null;
  actions: readonly TokenAction[];
  expiry: ExpiryChoice;
  /** The allowed ranges as typed. */
  allowFrom: string;
}

/**
 * The createApiToken variables for `form`, or what to fix first. Ranges are left for the
 * server to judge (its BAD_USER_INPUT names the one it refuses).
 */
export function tokenRequest(form: TokenForm, now: Date): { name: string; scope: TokenScope } | { error: string } {
  const name = form.name.trim();
  if (!name) return { error: 'Give the token a name, such as the integration that will use it.' };
  if (form.dashboards !== null && form.dashboards.length === 0) {
    return { error: 'Pick at least one dashboard, or allow all of them.' };
  }
  if (form.actions.length === 0) return { error: 'Choose at least one thing the token may do.' };
  const expiry = expiryFrom(form.expiry, now);
  if ('error' in expiry) return expiry;
  return {
    name,
    scope: {
      dashboards: form.dashboards === null ? null : [...form.dashboards],
      actions: TOKEN_ACTIONS.map((a) => a.action).filter((a) => form.actions.includes(a)),
      expiresAt: expiry.at?.toISOString() ?? null,
      allowFrom: parseAllowFrom(form.allowFrom),
    },
  };
}

// The server's names for the scope's fields (lower case) -> what the form calls them.
const FIELDS: Record<string, string> = {
  allowfrom: 'Allowed addresses',
  expiresat: 'The expiry',
  actions: 'Actions',
  dashboards: 'Dashboards',
};

/** The server's refusal of a scope (BAD_USER_INPUT) in the form's own words. */
export function scopeErrorMessage(message: string): string {
  return message.replace(/^scope\.(\w+)/i, (whole, field: string) => FIELDS[field.toLowerCase()] ?? whole);
}
