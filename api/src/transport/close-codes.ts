/** WebSocket close codes (DESIGN.md section 4), beside graphql-ws's own. */
import { DomainError, type ErrorCode } from '../errors.js';
import { mapStorageError } from '../services/collab-engine.js';

export enum CloseCode {
  GoingAway = 1001,
  MessageTooBig = 1009,
  InternalError = 1011,
  /**
   * Retryable: a dependency is down (UNAVAILABLE) or a subscriber does not drain its socket.
   * The stock graphql-ws client reconnects after 1013 (it treats 4401, 4400, 4409, 4429 and
   * most 1xxx codes as final), then resumes with fromVersion.
   */
  TryAgainLater = 1013,
  BadMessage = 4400,
  Unauthorized = 4401,
  Forbidden = 4403,
  ConnectionInitTimeout = 4408,
  DuplicateOperationId = 4409,
  TooManyRequests = 4429,
}

/** The one mapping from the closed set of error codes to close codes. */
const BY_ERROR_CODE: Record<ErrorCode, CloseCode> = {
  UNAUTHENTICATED: CloseCode.Unauthorized,
  FORBIDDEN: CloseCode.Forbidden,
  NOT_FOUND: CloseCode.Forbidden,
  BAD_USER_INPUT: CloseCode.BadMessage,
  BAD_OPERATION: CloseCode.BadMessage,
  RATE_LIMITED: CloseCode.TooManyRequests,
  PAYLOAD_TOO_LARGE: CloseCode.MessageTooBig,
  UNAVAILABLE: CloseCode.TryAgainLater,
  INTERNAL_SERVER_ERROR: CloseCode.InternalError,
};

/** A close frame's reason is at most 123 bytes. */
const MAX_REASON_BYTES = 123;

function truncate(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > MAX_REASON_BYTES) out = out.slice(0, -1);
  return out;
}

/**
 * The close code and reason for a socket that ends because of `error`: a DomainError (or a
 * storage failure, which is UNAVAILABLE) by its code; anything else is 1011 with no details
 * (they belong in the log).
 */
export function closeCodeFor(error: unknown): { code: CloseCode; reason: string } {
  const mapped = mapStorageError(error);
  if (!(mapped instanceof DomainError)) return { code: CloseCode.InternalError, reason: 'Internal server error' };
  const reason = mapped.code === 'UNAUTHENTICATED' ? `Unauthorized: ${mapped.message}` : mapped.message;
  return { code: BY_ERROR_CODE[mapped.code], reason: truncate(reason) };
}
