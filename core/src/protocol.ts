/**
 * The protocol the server and every client share (DESIGN.md section 4), written down once:
 * the closed set of error codes (`extensions.code`), the WebSocket close codes and what each
 * means, which failures are worth retrying for a submission and for the event stream, and
 * the `reason` values that are part of the contract. Codes and classifications only: the
 * sentences shown to people live with each client.
 */

/** The closed set of error codes the server answers with, carried as `extensions.code`. */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'BAD_OPERATION',
  /** With `extensions.retryAfter` in seconds. */
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  /** A dependency (the database) is down; nothing was committed. Retryable. */
  'UNAVAILABLE',
  /** Everything unexpected: masked, its details only in the server log. */
  'INTERNAL_SERVER_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** GraphQL's own codes for malformed documents and the query limits, passed through as they are. */
export const GRAPHQL_ERROR_CODES = ['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED'] as const;

export type GraphQLErrorCode = (typeof GRAPHQL_ERROR_CODES)[number];

/** Every `extensions.code` a client can meet. */
export type ServerErrorCode = ErrorCode | GraphQLErrorCode;

/**
 * WebSocket close codes, beside graphql-ws's own (which uses the same numbers for the same
 * cases). The stock graphql-ws client treats 4400, 4401, 4409, 4429 and most 1xxx codes as
 * final and reconnects after the others; the clients of this project decide for themselves.
 */
export const CloseCode = {
  /** The server is shutting down: reconnect (to another instance) and resume with fromVersion. */
  GoingAway: 1001,
  /** A message over the size limit (or PAYLOAD_TOO_LARGE). */
  MessageTooBig: 1009,
  /** An unexpected server error (INTERNAL_SERVER_ERROR); the details are in the server log. */
  InternalError: 1011,
  /**
   * Retryable: a dependency is down (UNAVAILABLE) or a subscriber does not drain its socket.
   * The stock graphql-ws client reconnects after it, then resumes with fromVersion.
   */
  TryAgainLater: 1013,
  /** A malformed message, or BAD_USER_INPUT / BAD_OPERATION ending the socket. */
  BadMessage: 4400,
  /** Unauthenticated, or the access token expired (AU1): refresh it and reconnect. */
  Unauthorized: 4401,
  /** FORBIDDEN, or NOT_FOUND (to a non-member a dashboard does not exist: AC1). */
  Forbidden: 4403,
  /** No connection_init in time. */
  ConnectionInitTimeout: 4408,
  /** A subscribe with an operation id already in use on the socket. */
  DuplicateOperationId: 4409,
  /** Too many sockets or subscriptions (RATE_LIMITED). */
  TooManyRequests: 4429,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The one mapping from the closed set of error codes to the close code a socket ends with. */
export const CLOSE_CODE_FOR_ERROR: Readonly<Record<ErrorCode, CloseCode>> = {
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

/** The HTTP status each code answers with (DESIGN.md section 4): REST, remote write. */
export const HTTP_STATUS_FOR_ERROR: Readonly<Record<ServerErrorCode, number>> = {
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
};

/**
 * Submission errors that fail again however often they are retried: the submission is
 * dropped and reported. INTERNAL_SERVER_ERROR is here too, so a server bug cannot wedge a
 * client's queue forever.
 */
export const SUBMIT_REJECTED: readonly ServerErrorCode[] = [
  'BAD_OPERATION',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'PAYLOAD_TOO_LARGE',
  'INTERNAL_SERVER_ERROR',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
];

/**
 * Submission errors worth sending the same (clientId, seq) again for (rule OP2 makes that
 * safe): after a backoff, RATE_LIMITED not before its retryAfter, UNAUTHENTICATED once the
 * socket carries a fresh token. A network error (no code) is retried too.
 */
export const SUBMIT_RETRYABLE: readonly ServerErrorCode[] = ['UNAUTHENTICATED', 'RATE_LIMITED', 'UNAVAILABLE'];

/** Event-stream errors after which resubscribing is pointless: the client stops. */
export const STREAM_FATAL: readonly ServerErrorCode[] = [
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
];

/**
 * Event-stream errors after which the client resubscribes from its last version (rule
 * SUB1), backing off. A network error (no code) is retried too.
 */
export const STREAM_RETRYABLE: readonly ServerErrorCode[] = [
  'UNAUTHENTICATED',
  'BAD_OPERATION',
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  'UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
];

/**
 * Whether a submission that failed with `code` is dropped for good. A network error (no
 * code) and a code outside the known set are retried.
 */
export function isSubmitRejected(code: string | undefined): boolean {
  return code !== undefined && (SUBMIT_REJECTED as readonly string[]).includes(code);
}

/** Whether an event stream that failed with `code` must not be reopened. */
export function isStreamFatal(code: string | undefined): boolean {
  return code !== undefined && (STREAM_FATAL as readonly string[]).includes(code);
}

/**
 * `extensions.reason` of the BAD_USER_INPUT a server answers when a (clientId, seq) was
 * already used for a different op (rule OP2: two live editors sharing one clientId).
 */
export const SEQ_REUSED = 'CLIENT_SEQ_REUSED';

/** `AccessRevoked.reason` (the RevokeReason enum): the user was removed, or the dashboard deleted. */
export const REVOKE_REASONS = ['REMOVED', 'DASHBOARD_DELETED'] as const;

export type RevokeReason = (typeof REVOKE_REASONS)[number];
