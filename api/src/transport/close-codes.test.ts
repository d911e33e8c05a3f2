import { DomainError, ERROR_CODES } from '../errors.js';
import { CloseCode } from '@collab-dashboards/core';
import { closeCodeFor } from './close-codes.js';

describe('[WS1] closeCodeFor', () => {
  it('maps every error code of the closed set to a close code', () => {
    const codes = Object.fromEntries(ERROR_CODES.map((code) => [code, closeCodeFor(new DomainError(code, 'x')).code]));
    expect(codes).toEqual({
      UNAUTHENTICATED: CloseCode.Unauthorized,
      FORBIDDEN: CloseCode.Forbidden,
      NOT_FOUND: CloseCode.Forbidden,
      BAD_USER_INPUT: CloseCode.BadMessage,
      BAD_OPERATION: CloseCode.BadMessage,
      RATE_LIMITED: CloseCode.TooManyRequests,
      PAYLOAD_TOO_LARGE: CloseCode.MessageTooBig,
      UNAVAILABLE: CloseCode.TryAgainLater,
      INTERNAL_SERVER_ERROR: CloseCode.InternalError,
    });
  });

  it('a storage failure from the driver is UNAVAILABLE: 1013, which clients retry', () => {
    // The store reports it (adapters/sql/errors.ts): UNAVAILABLE, the driver's error its cause.
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const unavailable = new DomainError('UNAVAILABLE', 'The database is unavailable', { retryAfter: 1 });
    unavailable.cause = refused;
    expect(closeCodeFor(unavailable).code).toBe(1013);
  });

  it('an unexpected error closes with 1011 and no details', () => {
    expect(closeCodeFor(new TypeError('secret detail'))).toEqual({ code: 1011, reason: 'Internal server error' });
  });

  it('keeps the reason within the 123 bytes a close frame allows', () => {
    const { code, reason } = closeCodeFor(new DomainError('UNAUTHENTICATED', 'é'.repeat(200)));
    expect(code).toBe(4401);
    expect(reason.startsWith('Unauthorized: é')).toBe(true);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
  });
});
