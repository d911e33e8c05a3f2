/**
 * Event-driven waiting for tests (CONVENTIONS.md 9: wait on events, never on fixed sleeps).
 * Every timer created here is cleared when the wait settles, so none keeps Jest alive.
 */

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
  /** Whether resolve or reject has been called. */
  readonly settled: boolean;
}

/** A promise with its resolve and reject exposed. Settling twice is a no-op. */
export function deferred<T = void>(): Deferred<T> {
  let resolveFn!: (value: T) => void;
  let rejectFn!: (reason: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((resolve, reject) => {
    resolveFn = resolve;
    rejectFn = reject;
  });
  return {
    promise,
    resolve(value) {
      if (settled) return;
      settled = true;
      resolveFn(value);
    },
    reject(reason) {
      if (settled) return;
      settled = true;
      rejectFn(reason);
    },
    get settled() {
      return settled;
    },
  };
}

export interface WaitOptions {
  /** Give up after this many ms (default 5000). */
  timeout?: number;
  /** Poll interval in ms; 0 (the default) polls on every turn of the event loop via setImmediate. */
  interval?: number;
  /** Named in the timeout error, to say what was awaited. */
  description?: string;
}

/**
 * Resolves with the predicate's first truthy result; rejects after `timeout`. The predicate
 * may be async (it is then awaited before the next poll). An exception thrown by the
 * predicate is treated as "not yet" and is attached to the timeout error as its cause.
 */
export async function waitFor<R>(
  predicate: () => R | Promise<R>,
  { timeout = 5000, interval = 0, description = 'condition' }: WaitOptions = {},
): Promise<Exclude<R, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as Exclude<R, false | null | undefined | 0 | ''>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: timed out after ${timeout} ms waiting for ${description}`, {
        cause: lastError,
      });
    }
    await new Promise<void>((resolve) => {
      if (interval > 0) setTimeout(resolve, interval);
      else setImmediate(resolve);
    });
  }
}

/** Anything with Node EventEmitter-style `once`/`off` (EventEmitter, ioredis, ChildProcess...). */
export interface EmitterLike {
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * Resolves with the first argument of the next `event` emitted by `emitter`; rejects after
 * `timeout` ms (default 5000). Listener and timer are removed either way.
 */
export function nextEvent<T = unknown>(
  emitter: EmitterLike,
  event: string,
  { timeout = 5000 }: { timeout?: number } = {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`nextEvent: no '${event}' event within ${timeout} ms`));
    }, timeout);
    emitter.once(event, listener);
  });
}

/**
 * Races `promise` against a timeout (default 5000 ms), so a test fails with a message
 * instead of hanging until Jest's own timeout. The timer is cleared when the promise settles.
 */
export function withTimeout<T>(promise: Promise<T>, timeout = 5000, description = 'promise'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`withTimeout: ${description} did not settle within ${timeout} ms`)),
      timeout,
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
