/**
 * How the SQL store reports the database's failures (rule OP4), for both drivers: a
 * connection-level failure means nothing was committed and the caller may retry, so it
 * leaves the store as `DomainError('UNAVAILABLE')` (the driver's error as its `cause`); a
 * DomainError passes through unchanged, and any other error stays as it is. `withStoreErrors`
 * applies this once to every query, script and transaction of a `SqlDb`, so no store method,
 * commit transaction or caller repeats it.
 */
import { DomainError } from '../../errors.js';
import type { Queryable, SqlDb } from '../sql-db.js';

/** Socket and pg messages that mean the database did not answer (some carry no code). */
const CONNECTION_FAILURE =
  /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|Connection terminated|Connection ended|connection error|timeout exceeded when trying to connect|terminating connection/i;

/**
 * True for a failure of the database rather than of the statement: SQLSTATE classes 08
 * (connection), 53 (resources), 57P (shutdown), 40 (rollback: serialization, deadlock) and
 * 25P02 (aborted transaction), and socket errors, with or without a code.
 */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof DomainError) return false;
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const message = (error as Error | null)?.message ?? '';
  return /^(08|57P|53|40|25P02)/.test(code) || /^E[A-Z]+$/.test(code) || CONNECTION_FAILURE.test(message);
}

/** The error the store throws for `error`: UNAVAILABLE for a connection-level failure. */
export function storeError(error: unknown): unknown {
  if (!isConnectionFailure(error)) return error;
  const unavailable = new DomainError(
    'UNAVAILABLE',
    'The database is unavailable; nothing was committed. Retry shortly.',
    { retryAfter: 1 },
  );
  unavailable.cause = error; // for the log (error-log.ts), never sent to clients
  return unavailable;
}

const reported = <T>(pending: Promise<T>): Promise<T> =>
  pending.catch((error: unknown) => {
    throw storeError(error);
  });

function queryable(q: Queryable): Queryable {
  return {
    query: (sql, params) => reported(q.query(sql, params)),
    exec: (sql) => reported(q.exec(sql)),
  };
}

/**
 * `db` reporting its failures as the store's errors: every query and script, on the pool and
 * inside a transaction, and each transaction as a whole (BEGIN, COMMIT, the wait for a pooled
 * connection, and whatever the transaction's function lets out).
 */
export function withStoreErrors(db: SqlDb): SqlDb {
  return {
    ...queryable(db),
    transaction: (fn) => reported(db.transaction((tx) => fn(queryable(tx)))),
    close: () => db.close(),
    commitConcurrency: db.commitConcurrency,
  };
}

/** True when `error` is a unique-key violation (both drivers use SQLSTATE 23505). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string; message?: string } | null;
  if (!e || e.code !== '23505') return false;
  return constraint === undefined || e.constraint === constraint || (e.message ?? '').includes(constraint);
}
