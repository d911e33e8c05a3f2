/**
 * The WebSocket boundary for errors: the close code a socket ends with. The codes, what each
 * means and the mapping from error codes are the protocol's (core's protocol.ts: CloseCode,
 * CLOSE_CODE_FOR_ERROR), shared with the clients.
 */
import { CLOSE_CODE_FOR_ERROR, CloseCode } from '@collab-dashboards/core';
import { DomainError } from '../errors.js';

/** A close frame's reason is at most 123 bytes. */
const MAX_REASON_BYTES = 123;

function truncate(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > MAX_REASON_BYTES) out = out.slice(0, -1);
  return out;
}

/**
 * The close code and reason for a socket that ends because of `error`: a DomainError (a
 * database failure is one already: UNAVAILABLE, from the store) by its code; anything else is
 * 1011 with no details (they belong in the log).
 */
export function closeCodeFor(error: unknown): { code: CloseCode; reason: string } {
  if (!(error instanceof DomainError)) return { code: CloseCode.InternalError, reason: 'Internal server error' };
  const reason = error.code === 'UNAUTHENTICATED' ? `Unauthorized: ${error.message}` : error.message;
  return { code: CLOSE_CODE_FOR_ERROR[error.code], reason: truncate(reason) };
}
