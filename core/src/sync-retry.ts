/**
 * Retrying, for the engine: capped exponential backoff with jitter, injectable timers, and
 * reading what a failure says (its code, its reason, RATE_LIMITED's retryAfter). Which codes
 * are worth retrying is the protocol's (protocol.ts); retrying a submission is safe because
 * it is resent under the same (clientId, seq) (rule OP2), and a stream resumes from the last
 * version applied (rule SUB1).
 */
import { platform } from './platform.js';

export interface RetryOptions {
  /** First retry delay in ms (doubled per failure, with jitter). Default 250. */
  baseMs?: number;
  /** Cap on the retry delay in ms. Default 30000. */
  maxMs?: number;
}

/** Timer functions, injectable so tests control time. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const defaultTimers: Timers = {
  setTimeout: (callback, ms) => platform.setTimeout(callback, ms),
  clearTimeout: (handle) => platform.clearTimeout(handle),
};

/** The delay before retry number `attempt` (from 0): doubling up to the cap, times [0.5, 1). */
export function createBackoff(options: RetryOptions = {}, random: () => number = Math.random) {
  const { baseMs = 250, maxMs = 30_000 } = options;
  return (attempt: number): number => Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + random() / 2);
}

/** Runs `fn` now, turning a synchronous throw into a rejection. */
export function attempt<T>(fn: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

/** The server's error code a failure carries (undefined for a network error). */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The `extensions.reason` a failure carries, where the server tells one case from another. */
export function errorReason(error: unknown): string | undefined {
  const reason = (error as { reason?: unknown } | null | undefined)?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

/** RATE_LIMITED's retryAfter in ms (0 when the failure does not say). */
export function retryAfterMs(error: unknown): number {
  const seconds = (error as { retryAfter?: unknown } | null | undefined)?.retryAfter;
  return typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : 0;
}
