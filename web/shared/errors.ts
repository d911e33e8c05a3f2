/**
 * Turns anything thrown by the API, the socket or the engine into a sentence for people. The
 * codes are the protocol's (core's protocol.ts); the sentences are this client's.
 */
import { CloseCode, type ServerErrorCode } from '@collab-dashboards/core';

// One sentence per code a server can answer with.
const MESSAGES: Record<ServerErrorCode, string> = {
  UNAUTHENTICATED: 'Your session has ended. Please log in again.',
  FORBIDDEN: 'You do not have permission to do that.',
  NOT_FOUND: 'This dashboard does not exist or you no longer have access to it.',
  BAD_USER_INPUT: 'Some of the information entered is not valid.',
  BAD_OPERATION: 'That change could not be applied to the dashboard.',
  RATE_LIMITED: 'You are doing that too often. Please wait a moment.',
  PAYLOAD_TOO_LARGE: 'That change is too large to save.',
  UNAVAILABLE: 'The server is temporarily unavailable. Your edits will be retried.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on the server. Please try again.',
  GRAPHQL_PARSE_FAILED: 'The app sent a request the server did not understand. Please reload.',
  GRAPHQL_VALIDATION_FAILED: 'The app sent a request the server did not understand. Please reload.',
};

// The close codes worth a sentence of their own.
const CLOSE_CODES: Partial<Record<number, string>> = {
  [CloseCode.Unauthorized]: 'Your session has ended. Please log in again.',
  [CloseCode.Forbidden]: 'You do not have permission to do that.',
  [CloseCode.TooManyRequests]: 'Too many open connections. Close some tabs and try again.',
  [CloseCode.GoingAway]: 'The server is restarting. Reconnecting…',
  [CloseCode.MessageTooBig]: 'That change is too large to send.',
};

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  retryAfter?: unknown;
  graphQLErrors?: { message: string; extensions?: Record<string, unknown> }[];
  networkError?: unknown;
  reason?: unknown;
}

/** The server's error code, if the error carries one. */
export function errorCode(error: unknown): string | undefined {
  const e = error as ErrorLike | null | undefined;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.code === 'string') return e.code;
  const code = e.graphQLErrors?.[0]?.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}

export function errorMessage(error: unknown): string {
  // One of the protocol's codes, or one this client does not know (then no sentence of its own).
  const code = errorCode(error) as ServerErrorCode | undefined;
  const e = error as ErrorLike | null | undefined;
  if (code === 'RATE_LIMITED') {
    const retry = e?.retryAfter ?? e?.graphQLErrors?.[0]?.extensions?.retryAfter;
    if (typeof retry === 'number') return `You are doing that too often. Try again in ${Math.ceil(retry)} s.`;
  }
  if (code === 'BAD_USER_INPUT') {
    // The server's own wording names the field ("email is already registered").
    const detail = e?.graphQLErrors?.[0]?.message ?? (typeof e?.message === 'string' ? e.message : undefined);
    if (detail) return sentence(detail.replace(/^\[GraphQL\]\s*/, ''));
  }
  const known: string | undefined = code ? MESSAGES[code] : undefined;
  if (known) return known;
  const closed = e && typeof e === 'object' && typeof e.code === 'number' ? CLOSE_CODES[e.code] : undefined;
  if (closed) return closed;
  if (e?.networkError || (error instanceof TypeError && /fetch/i.test(error.message))) {
    return 'Cannot reach the server. Check your connection.';
  }
  if (error instanceof Error && error.message) return sentence(error.message.replace(/^\[\w+\]\s*/, ''));
  return 'Something went wrong. Please try again.';
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return 'Something went wrong. Please try again.';
  const capital = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
