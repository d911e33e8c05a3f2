/**
 * Rule OP4: a database failure means nothing was committed, so the caller may retry
 * (UNAVAILABLE); the GraphQL and WebSocket boundaries map it once from here.
 */
import { DomainError } from '../errors.js';

/** Connection-level failures: the database did not answer, nothing was committed. */
const CONNECTION_FAILURE =
  /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|Connection terminated|Connection ended|connection error|timeout exceeded when trying to connect|terminating connection/i;

/** Database trouble means nothing was committed and the caller may retry (UNAVAILABLE). */
export function mapStorageError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const message = (error as Error | null)?.message ?? '';
  // SQLSTATE classes: 08 connection, 53 resources, 57P shutdown, 40 rollback (serialization,
  // deadlock), 25P02 aborted transaction; plus socket errors, with or without a code.
  if (/^(08|57P|53|40|25P02)/.test(code) || /^E[A-Z]+$/.test(code) || CONNECTION_FAILURE.test(message)) {
    return new DomainError('UNAVAILABLE', 'The database is unavailable; nothing was committed. Retry shortly.', {
      retryAfter: 1,
    });
  }
  return error;
}
