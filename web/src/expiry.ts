/**
 * When access ends (DESIGN.md section 11: a token's expiresAt, rule SC1; a membership's,
 * rule SC2): the presets the API tokens page and the share dialog offer, the date-time
 * input's local value, and how an end reads ("in 3 days"). No React here.
 */

export type ExpiryPreset = 'never' | '1h' | '1d' | '7d' | '30d' | '90d' | 'custom';

/** What an expiry picker holds: a preset, or `custom` with the date-time input's value. */
export interface ExpiryChoice {
  preset: ExpiryPreset;
  /** A `datetime-local` value (local time, `2026-05-04T09:30` or with seconds). */
  custom: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// preset -> how long from now
const DURATIONS: Record<Exclude<ExpiryPreset, 'never' | 'custom'>, number> = {
  '1h': HOUR,
  '1d': DAY,
  '7d': 7 * DAY,
  '30d': 30 * DAY,
  '90d': 90 * DAY,
};

export const PRESET_LABELS: Record<ExpiryPreset, string> = {
  never: 'Never',
  '1h': 'In 1 hour',
  '1d': 'In 1 day',
  '7d': 'In 7 days',
  '30d': 'In 30 days',
  '90d': 'In 90 days',
  custom: 'On a date and time…',
};

/** When the access chosen as `choice` ends: a date, null for never, or what is wrong with it. */
export function expiryFrom(choice: ExpiryChoice, now: Date): { at: Date | null } | { error: string } {
  if (choice.preset === 'never') return { at: null };
  if (choice.preset !== 'custom') return { at: new Date(now.getTime() + DURATIONS[choice.preset]) };
  if (!choice.custom.trim()) return { error: 'Choose the date and time access ends.' };
  const at = parseLocalDateTime(choice.custom);
  if (!at) return { error: 'That expiry is not a valid date and time.' };
  if (at.getTime() <= now.getTime()) return { error: 'The expiry must be in the future.' };
  return { at };
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;

/** A `datetime-local` value read as local time; null when it is not one (or no such day). */
export function parseLocalDateTime(value: string): Date | null {
  const m = LOCAL.exec(value.trim());
  if (!m) return null;
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0] = m.slice(1, 7).map((part) => Number(part ?? 0));
  const ms = Number((m[7] ?? '').padEnd(3, '0'));
  if (h > 23 || mi > 59 || s > 59) return null;
  const at = new Date(y, mo - 1, d, h, mi, s, ms);
  // new Date rolls Feb 30 over to March: refuse what did not survive the round trip.
  if (at.getFullYear() !== y || at.getMonth() !== mo - 1 || at.getDate() !== d) return null;
  return at;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `date` as a `datetime-local` value in local time, with seconds only when it has some. */
export function localDateTimeValue(date: Date): string {
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return date.getSeconds() ? `${day}T${time}:${pad(date.getSeconds())}` : `${day}T${time}`;
}

// unit, its length, and from how far off it is used: "in 30 days" reads better than "in 1 month".
const UNITS: [Intl.RelativeTimeFormatUnit, number, number][] = [
  ['year', 365 * DAY, 365 * DAY],
  ['month', 30 * DAY, 60 * DAY],
  ['day', DAY, DAY],
  ['hour', HOUR, HOUR],
  ['minute', MINUTE, MINUTE],
  ['second', 1000, 0],
];
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

/** "in 5 seconds", "in 30 days", "in 3 months", "2 hours ago"; "now" within a second. */
export function relativeTime(at: Date, now: Date): string {
  const diff = at.getTime() - now.getTime();
  if (Math.abs(diff) < 1000) return 'now';
  // The largest unit that applies (rounded: 1.6 days reads "in 2 days").
  const [unit, size] = UNITS.find(([, , from]) => Math.abs(diff) >= from)!;
  return relative.format(Math.round(diff / size), unit);
}

/** How a date is shown next to its relative time; tests pass a fixed one. */
export type DateFormat = (date: Date) => string;
export const localDate: DateFormat = (date) =>
  date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A membership's end as the share dialog shows it (SC2). */
export function describeMembershipEnd(expiresAt: string | null, now: Date, format = localDate): string {
  if (!expiresAt) return 'No end date';
  const at = new Date(expiresAt);
  if (at.getTime() <= now.getTime()) return `Access ended ${relativeTime(at, now)}`;
  return `Until ${format(at)} (${relativeTime(at, now)})`;
}

/** A token's end as the API tokens page shows it (SC1). */
export function describeTokenExpiry(expiresAt: string | null, now: Date, format = localDate): string {
  if (!expiresAt) return 'Never expires';
  const at = new Date(expiresAt);
  const when = `${format(at)} (${relativeTime(at, now)})`;
  return at.getTime() <= now.getTime() ? `Expired ${when}` : `Expires ${when}`;
}

/** How often a view showing these ends should redraw: every second when one is under two minutes away. */
export function refreshInterval(ends: readonly (string | null)[], now: Date): number {
  const soon = ends.some((end) => end !== null && Math.abs(new Date(end).getTime() - now.getTime()) < 2 * MINUTE);
  return soon ? 1000 : 30_000;
}
