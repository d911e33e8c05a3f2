import { describe, expect, it } from '@jest/globals';
import { isExpiring, refreshDelay } from './token-refresh.js';

describe('token refresh scheduling', () => {
  it('refreshes a minute before a long-lived token expires', () => {
    expect(refreshDelay(900_000, 0)).toBe(840_000);
  });
  it('refreshes at 80% of a short-lived token', () => {
    expect(refreshDelay(10_000, 0)).toBe(8_000);
  });
  it('refreshes at once when expired or unparseable', () => {
    expect(refreshDelay(1_000, 5_000)).toBe(0);
    expect(refreshDelay('not a date', 0)).toBe(0);
    expect(refreshDelay(new Date(60_000).toISOString(), 0)).toBe(48_000);
  });
  it('isExpiring uses a safety margin', () => {
    expect(isExpiring(10_000, 0)).toBe(false);
    expect(isExpiring(4_000, 0)).toBe(true);
  });
});
