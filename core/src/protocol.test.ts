import {
  CLOSE_CODE_FOR_ERROR,
  CloseCode,
  ERROR_CODES,
  GRAPHQL_ERROR_CODES,
  HTTP_STATUS_FOR_ERROR,
  STREAM_FATAL,
  STREAM_RETRYABLE,
  SUBMIT_REJECTED,
  SUBMIT_RETRYABLE,
  isStreamFatal,
  isSubmitRejected,
} from './protocol.js';

const ALL_CODES: readonly string[] = [...ERROR_CODES, ...GRAPHQL_ERROR_CODES];

// The standard close codes an endpoint may send (RFC 6455 section 7.4.1 and the IANA registry).
const STANDARD_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014];

describe('protocol', () => {
  it('error codes are distinct, and GraphQL’s own are not among ours', () => {
    expect(new Set(ALL_CODES).size).toBe(ALL_CODES.length);
  });

  it('close codes are distinct, each a standard one or in the private range 4000-4999', () => {
    const codes: number[] = Object.values(CloseCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) {
      expect(STANDARD_CLOSE_CODES.includes(code) || (code >= 4000 && code <= 4999)).toBe(true);
    }
  });

  it('every error code maps to one of the close codes', () => {
    expect(Object.keys(CLOSE_CODE_FOR_ERROR).sort()).toEqual([...ERROR_CODES].sort());
    const closeCodes: number[] = Object.values(CloseCode);
    for (const code of Object.values(CLOSE_CODE_FOR_ERROR)) expect(closeCodes).toContain(code);
    expect(CLOSE_CODE_FOR_ERROR.UNAVAILABLE).toBe(CloseCode.TryAgainLater); // the retryable one
  });

  it.each([
    ['a submission', SUBMIT_REJECTED, SUBMIT_RETRYABLE],
    ['a stream', STREAM_FATAL, STREAM_RETRYABLE],
  ])('for %s, fatal and retryable codes are disjoint and split the closed set between them', (_, fatal, retryable) => {
    expect(fatal.filter((code) => retryable.includes(code))).toEqual([]);
    expect([...fatal, ...retryable].sort()).toEqual([...ALL_CODES].sort());
    expect(new Set([...fatal, ...retryable]).size).toBe(fatal.length + retryable.length);
  });

  it('a network error (no code) and an unknown code are retried; the classified ones as listed', () => {
    for (const classify of [isSubmitRejected, isStreamFatal]) {
      expect(classify(undefined)).toBe(false);
      expect(classify('SOMETHING_NEW')).toBe(false);
    }
    for (const code of SUBMIT_REJECTED) expect(isSubmitRejected(code)).toBe(true);
    for (const code of SUBMIT_RETRYABLE) expect(isSubmitRejected(code)).toBe(false);
    for (const code of STREAM_FATAL) expect(isStreamFatal(code)).toBe(true);
    for (const code of STREAM_RETRYABLE) expect(isStreamFatal(code)).toBe(false);
  });

  it('the codes DESIGN.md section 4 names keep their numbers', () => {
    expect(CloseCode).toMatchObject({
      BadMessage: 4400,
      Unauthorized: 4401,
      Forbidden: 4403,
      ConnectionInitTimeout: 4408,
      DuplicateOperationId: 4409,
      TooManyRequests: 4429,
      GoingAway: 1001,
      MessageTooBig: 1009,
    });
  });

  it('every code has its HTTP status (DESIGN.md section 4)', () => {
    for (const code of [...ERROR_CODES, ...GRAPHQL_ERROR_CODES])
      expect(HTTP_STATUS_FOR_ERROR[code]).toBeGreaterThanOrEqual(400);
    expect(HTTP_STATUS_FOR_ERROR).toEqual({
      BAD_USER_INPUT: 400,
      BAD_OPERATION: 400,
      GRAPHQL_PARSE_FAILED: 400,
      GRAPHQL_VALIDATION_FAILED: 400,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      PAYLOAD_TOO_LARGE: 413,
      RATE_LIMITED: 429,
      UNAVAILABLE: 503,
      INTERNAL_SERVER_ERROR: 500,
    });
  });
});
