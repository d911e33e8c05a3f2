import { ERROR_CODES, type ErrorCode } from '@collab-dashboards/core';

/** The closed set of error codes (DESIGN.md section 4), carried as `extensions.code`: the protocol's (core). */
export { ERROR_CODES, type ErrorCode };

/**
 * The one error type the domain and services throw for expected failures. It is mapped
 * once at the GraphQL boundary (extensions.code) and once at the WebSocket boundary
 * (close codes). Anything else is unexpected and masked.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what = 'Dashboard') => new DomainError('NOT_FOUND', `${what} not found`);
export const forbidden = (message = 'You do not have permission to do that') => new DomainError('FORBIDDEN', message);
export const badInput = (message: string) => new DomainError('BAD_USER_INPUT', message);
export const unauthenticated = (message = 'Authentication required') => new DomainError('UNAUTHENTICATED', message);
