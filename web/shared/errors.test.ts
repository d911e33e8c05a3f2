import { describe, expect, it } from '@jest/globals';
import { ApiError } from '@collab-dashboards/core';
import { errorCode, errorMessage } from './errors.js';

describe('error messages', () => {
  it('maps codes to sentences', () => {
    expect(errorMessage(new ApiError('nope', 'FORBIDDEN'))).toBe('You do not have permission to do that.');
    expect(errorMessage({ graphQLErrors: [{ message: 'x', extensions: { code: 'NOT_FOUND' } }] })).toMatch(
      /does not exist/,
    );
    expect(errorMessage(new ApiError('slow down', 'RATE_LIMITED', 2.2))).toBe(
      'You are doing that too often. Try again in 3 s.',
    );
  });
  it('keeps the server wording for invalid input', () => {
    expect(
      errorMessage({
        graphQLErrors: [{ message: 'email is already registered', extensions: { code: 'BAD_USER_INPUT' } }],
      }),
    ).toBe('Email is already registered.');
  });
  it('explains network failures and unknown errors', () => {
    expect(errorMessage({ networkError: new Error('x'), graphQLErrors: [] })).toMatch(/reach the server/);
    expect(errorMessage({ code: 4401, reason: 'expired' })).toMatch(/session has ended/);
    expect(errorMessage(undefined)).toBe('Something went wrong. Please try again.');
  });
  it('reads the code of an API error, a GraphQL error or neither', () => {
    expect(errorCode(new ApiError('nope', 'FORBIDDEN'))).toBe('FORBIDDEN');
    expect(errorCode({ graphQLErrors: [{ message: 'x', extensions: { code: 'UNAUTHENTICATED' } }] })).toBe(
      'UNAUTHENTICATED',
    );
    expect(errorCode({ code: 4401 })).toBeUndefined();
    expect(errorCode(null)).toBeUndefined();
  });
});
