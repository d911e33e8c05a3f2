import { describe, expect, it } from '@jest/globals';
import {
  describeMembershipEnd,
  describeTokenExpiry,
  expiryFrom,
  localDateTimeValue,
  parseLocalDateTime,
  refreshInterval,
  relativeTime,
} from './expiry.js';

const now = new Date(2026, 4, 4, 9, 30, 0); // 4 May 2026, 09:30 local
const iso = (ms: number) => new Date(now.getTime() + ms).toISOString();
const format = (d: Date) => `<${d.toISOString()}>`;
const DAY = 86_400_000;

describe('expiry presets', () => {
  it('never is no end; a preset is that long from now', () => {
    expect(expiryFrom({ preset: 'never', custom: '' }, now)).toEqual({ at: null });
    expect(expiryFrom({ preset: '1d', custom: '' }, now)).toEqual({ at: new Date(now.getTime() + DAY) });
    expect(expiryFrom({ preset: '30d', custom: '' }, now)).toEqual({ at: new Date(now.getTime() + 30 * DAY) });
    expect(expiryFrom({ preset: '90d', custom: 'ignored' }, now)).toEqual({ at: new Date(now.getTime() + 90 * DAY) });
  });

  it('a custom date and time is read as local time, seconds included', () => {
    expect(expiryFrom({ preset: 'custom', custom: '2026-05-04T09:30:05' }, now)).toEqual({
      at: new Date(2026, 4, 4, 9, 30, 5),
    });
    expect(expiryFrom({ preset: 'custom', custom: '2027-01-31T23:59' }, now)).toEqual({
      at: new Date(2027, 0, 31, 23, 59),
    });
  });

  it('a custom expiry that is missing, invalid or not in the future says what to fix', () => {
    expect(expiryFrom({ preset: 'custom', custom: ' ' }, now)).toEqual({
      error: 'Choose the date and time access ends.',
    });
    expect(expiryFrom({ preset: 'custom', custom: '2026-02-30T10:00' }, now)).toEqual({
      error: 'That expiry is not a valid date and time.',
    });
    expect(expiryFrom({ preset: 'custom', custom: 'tomorrow' }, now)).toEqual({
      error: 'That expiry is not a valid date and time.',
    });
    expect(expiryFrom({ preset: 'custom', custom: '2026-05-04T09:30' }, now)).toEqual({
      error: 'The expiry must be in the future.',
    });
  });
});

describe('date-time input values', () => {
  it('round-trip, with seconds only when there are some', () => {
    expect(localDateTimeValue(new Date(2026, 0, 2, 3, 4))).toBe('2026-01-02T03:04');
    expect(localDateTimeValue(new Date(2026, 10, 12, 13, 14, 15))).toBe('2026-11-12T13:14:15');
    const at = new Date(2026, 6, 1, 8, 0, 9);
    expect(parseLocalDateTime(localDateTimeValue(at))).toEqual(at);
  });

  it('refuse what is not a day or a time', () => {
    expect(parseLocalDateTime('2026-13-01T10:00')).toBeNull();
    expect(parseLocalDateTime('2026-01-01T24:00')).toBeNull();
    expect(parseLocalDateTime('2026-01-01 10:00')).toBeNull();
    expect(parseLocalDateTime('2026-01-01T10:00:05.25')).toEqual(new Date(2026, 0, 1, 10, 0, 5, 250));
  });
});

describe('relative time', () => {
  it('uses the largest whole unit, ahead or behind', () => {
    expect(relativeTime(new Date(now.getTime() + 5_000), now)).toBe('in 5 seconds');
    expect(relativeTime(new Date(now.getTime() + 90_000), now)).toBe('in 2 minutes');
    expect(relativeTime(new Date(now.getTime() - 2 * 3_600_000), now)).toBe('2 hours ago');
    expect(relativeTime(new Date(now.getTime() + 3 * DAY), now)).toBe('in 3 days');
    expect(relativeTime(new Date(now.getTime() + 30 * DAY), now)).toBe('in 30 days');
    expect(relativeTime(new Date(now.getTime() + 90 * DAY), now)).toBe('in 3 months');
    expect(relativeTime(new Date(now.getTime() + 400 * DAY), now)).toBe('in 1 year');
    expect(relativeTime(new Date(now.getTime() + 300), now)).toBe('now');
  });
});

describe('ends in words', () => {
  it('a membership: no end, until a date, or ended', () => {
    expect(describeMembershipEnd(null, now, format)).toBe('No end date');
    expect(describeMembershipEnd(iso(7 * DAY), now, format)).toBe(`Until <${iso(7 * DAY)}> (in 7 days)`);
    expect(describeMembershipEnd(iso(-3_000), now, format)).toBe('Access ended 3 seconds ago');
  });

  it('a token: never, expires or expired', () => {
    expect(describeTokenExpiry(null, now, format)).toBe('Never expires');
    expect(describeTokenExpiry(iso(DAY), now, format)).toBe(`Expires <${iso(DAY)}> (in 1 day)`);
    expect(describeTokenExpiry(iso(-DAY), now, format)).toBe(`Expired <${iso(-DAY)}> (1 day ago)`);
  });

  it('redraws every second only while an end is near', () => {
    expect(refreshInterval([null, iso(DAY)], now)).toBe(30_000);
    expect(refreshInterval([iso(DAY), iso(20_000)], now)).toBe(1000);
    expect(refreshInterval([], now)).toBe(30_000);
  });
});
