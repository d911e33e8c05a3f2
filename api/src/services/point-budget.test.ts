import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../errors.js';
import { createPointBudget } from './point-budget.js';

function refused(run: () => void): { code: string; retryAfter: unknown } | null {
  try {
    run();
    return null;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { code: error.code, retryAfter: error.extensions.retryAfter };
  }
}

describe('LD1: RATE_LIMIT_POINTS, points a user may push per minute', () => {
  it('spends the minute, refuses the request that would overflow it whole, and says when it fits', () => {
    let now = 1_000_000;
    const budget = createPointBudget(10_000, () => now);
    budget.take('u', 6000);
    now += 20_000;
    budget.take('u', 3000);
    expect(refused(() => budget.take('u', 2000))).toEqual({ code: 'RATE_LIMITED', retryAfter: 40 });
    budget.take('u', 1000); // exactly the budget
    budget.take('other', 10_000); // each user has their own
    now += 40_000; // the first 6000 have left the minute
    expect(refused(() => budget.take('u', 2000))).toBeNull();
  });

  it('refuses a request larger than the whole budget with a minute to wait', () => {
    const budget = createPointBudget(100, () => 0);
    expect(refused(() => budget.take('u', 101))).toEqual({ code: 'RATE_LIMITED', retryAfter: 60 });
  });

  it('gives back what a request that stored nothing had spent', () => {
    const budget = createPointBudget(100, () => 0);
    budget.take('u', 80);
    budget.giveBack('u', 80);
    expect(refused(() => budget.take('u', 100))).toBeNull();
  });
});
