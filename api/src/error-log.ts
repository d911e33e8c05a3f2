/**
 * How failures reach the log. Expected errors (the closed set of codes: a wrong password, a
 * rate limit, a title too long) are part of normal operation: one line at info, or warn for
 * RATE_LIMITED and UNAVAILABLE (worth watching), with the code and message and no stack.
 * Only unexpected errors (bugs, masked as INTERNAL_SERVER_ERROR) are logged at error level,
 * with their stack.
 */
import { GraphQLError } from 'graphql';
import { DomainError, type ErrorCode } from './errors.js';
import type { Logger } from './logger.js';

export type ErrorLevel = 'info' | 'warn' | 'error';

const LEVELS: Record<ErrorCode, ErrorLevel> = {
  UNAUTHENTICATED: 'info',
  FORBIDDEN: 'info',
  NOT_FOUND: 'info',
  BAD_USER_INPUT: 'info',
  BAD_OPERATION: 'info',
  PAYLOAD_TOO_LARGE: 'info',
  RATE_LIMITED: 'warn',
  UNAVAILABLE: 'warn',
  INTERNAL_SERVER_ERROR: 'error',
};

/** The error a GraphQLError wraps (through any nesting), or the error itself. */
function rootOf(error: unknown): unknown {
  let current = error;
  while (current instanceof GraphQLError && current.originalError) current = current.originalError;
  return current;
}

export interface Classified {
  level: ErrorLevel;
  code: string;
  message: string;
  /** For a DomainError with a cause (the store's UNAVAILABLE): what the driver said. */
  cause?: string;
}

/**
 * Classifies `error` as the GraphQL boundary (schema/errors.ts) does: a DomainError (a
 * database failure is one already: UNAVAILABLE, from the store) by its code; graphql-js's and
 * Yoga's own errors (parse, validation, bad request) are the caller's mistakes; anything else
 * is unexpected.
 */
export function classifyError(error: unknown): Classified {
  const root = rootOf(error);
  if (root instanceof DomainError) {
    const { cause } = root;
    return {
      level: LEVELS[root.code],
      code: root.code,
      message: root.message,
      ...(cause !== undefined ? { cause: String((cause as Error | null)?.message ?? cause) } : {}),
    };
  }
  if (root instanceof GraphQLError) {
    const code = root.extensions?.code;
    return { level: 'info', code: typeof code === 'string' ? code : 'BAD_USER_INPUT', message: root.message };
  }
  return { level: 'error', code: 'INTERNAL_SERVER_ERROR', message: String((root as Error | null)?.message ?? root) };
}

/** Logs `error` once at the level its kind calls for; `msg` says where it happened. */
export type ErrorLog = (error: unknown, fields?: Record<string, unknown>, msg?: string) => void;

export function createErrorLog(logger: Logger): ErrorLog {
  return (error, fields = {}, msg) => {
    const classified = classifyError(error);
    if (classified.level === 'error') {
      logger.error({ ...fields, err: rootOf(error) }, msg ?? 'unexpected error');
      return;
    }
    const { level, code, message, cause } = classified;
    const path = error instanceof GraphQLError && error.path ? { path: error.path.join('.') } : {};
    logger[level](
      { ...fields, code, ...path, ...(cause ? { cause } : {}), ...(msg ? { error: message } : {}) },
      msg ?? message,
    );
  };
}
