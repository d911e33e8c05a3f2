/** WebSocket close codes (DESIGN.md section 4), beside graphql-ws's own. */
export enum CloseCode {
  GoingAway = 1001,
  MessageTooBig = 1009,
  /** A subscriber that does not drain its socket; retryable (resume with fromVersion). */
  TryAgainLater = 1013,
  BadMessage = 4400,
  Unauthorized = 4401,
  Forbidden = 4403,
  ConnectionInitTimeout = 4408,
  DuplicateOperationId = 4409,
  TooManyRequests = 4429,
}
