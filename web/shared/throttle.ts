/**
 * A leading + trailing throttle: the first call in a quiet period runs at once, later
 * calls within `intervalMs` replace each other and the latest runs when the window ends.
 * Used for cursor updates (about 30 a second at most).
 */
export interface ThrottleTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

const defaultTimers: ThrottleTimers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
  now: () => Date.now(),
};

export interface Throttled<A extends unknown[]> {
  (...args: A): void;
  /** Runs the queued call now, if any. */
  flush(): void;
  /** Drops the queued call. */
  cancel(): void;
}

export function throttle<A extends unknown[]>(
  fn: (...args: A) => void,
  intervalMs: number,
  timers: ThrottleTimers = defaultTimers,
): Throttled<A> {
  let last = -Infinity;
  let queued: A | null = null;
  let handle: unknown = null;

  const run = (args: A): void => {
    last = timers.now();
    fn(...args);
  };
  const fire = (): void => {
    handle = null;
    if (queued) {
      const args = queued;
      queued = null;
      run(args);
    }
  };

  const throttled = ((...args: A) => {
    const wait = last + intervalMs - timers.now();
    if (wait <= 0 && handle === null) return run(args);
    queued = args;
    if (handle === null) handle = timers.setTimeout(fire, Math.max(0, wait));
  }) as Throttled<A>;
  throttled.flush = () => {
    if (handle !== null) timers.clearTimeout(handle);
    fire();
  };
  throttled.cancel = () => {
    if (handle !== null) timers.clearTimeout(handle);
    handle = null;
    queued = null;
  };
  return throttled;
}
