/**
 * Delivery of live events to one subscriber, whatever kind of room feeds it (SUB1: in order,
 * nothing skipped; AU1: the room kind checks access per delivery in `handle` and ends the
 * stream; backpressure as in api/SPEC.md "Live events").
 *
 * A room calls `deliver` for each of its events. While an async step runs (the opening
 * catch-up, a gap fill, a frame still being executed or waiting for the socket to drain)
 * later events wait in a queue; otherwise an event is handled synchronously from the room's
 * broadcast, without a promise per delivery. The consumer either pulls (AsyncIterator: SSE,
 * tests) or pipes (push: transport/shared-execution.ts writes frames straight to the socket,
 * the path transport/ws.ts takes).
 */

/**
 * A subscriber's events, in order. Pull them (AsyncIterator), or `pipe` them: the handler is
 * called once per event, synchronously from the room's broadcast when nothing is pending,
 * and the next event waits while a returned promise is pending. `pipe` settles when the
 * stream ends (or rejects with its error); `return()` ends it.
 */
export interface EventStream<T> extends AsyncIterableIterator<T> {
  pipe(handler: (event: T) => void | Promise<void>): Promise<void>;
  return(): Promise<IteratorResult<T>>;
}

/** Where errors go that must not reach other subscribers (`context` says where). */
export type ReportError = (error: unknown, context: string) => void;

/**
 * One subscriber: a room feeds it events of type `In` (`deliver`); its consumer receives `Out`.
 * A room kind extends it with `begin` (join, authorize, replay history), `handle` (per event:
 * authorize, filter, `emit`) and `close` (leave the room, run stop hooks).
 */
export abstract class Subscriber<In, Out> implements EventStream<Out> {
  private closed = false;
  private started = false;
  private busy: Promise<void> | null = null;
  private queue: In[] = [];
  private handler: ((event: Out) => void | Promise<void>) | null = null;
  /** Pull mode: emitted and not yet taken; `waiting` is a consumer blocked in next(). */
  private buffer: Array<{ event: Out; taken: () => void }> = [];
  private waiting: { resolve(r: IteratorResult<Out>): void; reject(e: unknown): void } | null = null;
  private failure: unknown = undefined;
  private readonly done: Promise<void>;
  private settle!: () => void;
  private ending: Promise<void> | null = null;

  constructor(protected readonly report: ReportError) {
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  /**
   * Runs once, when the consumer first pulls or pipes: join the room, check access, replay
   * history with `emit` (awaiting each). Events delivered meanwhile wait. A rejection fails
   * the stream, after `beginFailed`.
   */
  protected abstract begin(): Promise<void>;

  /** One event from the room, in order; a promise holds the following ones back. */
  protected abstract handle(event: In): void | Promise<void>;

  /**
   * Runs once when the stream ends, however it ends (its synchronous part at once): leave the
   * room; `started` says whether `begin` ran, e.g. to run stop hooks only then.
   */
  protected abstract close(started: boolean): void | Promise<void>;

  /** `begin` failed; the stream fails right after. */
  protected beginFailed(error: unknown): void {
    this.report(error, 'catch-up');
  }

  /** True once the stream ended: `begin` and `handle` stop emitting. */
  protected get ended(): boolean {
    return this.closed;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next(): Promise<IteratorResult<Out>> {
    this.start();
    const item = this.buffer.shift();
    if (item) {
      item.taken();
      return Promise.resolve({ value: item.event, done: false });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  async return(): Promise<IteratorResult<Out>> {
    await this.end();
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<Out>> {
    await this.end();
    throw error;
  }

  /** Push mode; call it instead of pulling, before the stream starts. */
  pipe(handler: (event: Out) => void | Promise<void>): Promise<void> {
    if (this.started) throw new Error('pipe() on a stream already being pulled');
    this.handler = handler;
    this.start();
    return this.done.then(() => {
      if (this.failure !== undefined) throw this.failure;
    });
  }

  private start() {
    if (this.started || this.closed) return;
    this.started = true;
    this.busy = this.begin().then(
      () => this.drain(),
      (error) => {
        this.beginFailed(error);
        this.fail(error);
      },
    );
  }

  /** Called by the room for each of its events, in order. */
  deliver(event: In) {
    if (this.closed) return;
    if (this.busy) {
      this.queue.push(event);
      return;
    }
    this.run(event);
  }

  private run(event: In) {
    let pending: void | Promise<void>;
    try {
      pending = this.handle(event);
    } catch (error) {
      // One subscriber's failure must not stop the room's broadcast to the others.
      this.report(error, 'subscriber');
      return this.fail(error);
    }
    if (pending) {
      this.busy = pending.then(
        () => this.drain(),
        (error) => {
          this.report(error, 'subscriber');
          this.fail(error);
        },
      );
    }
  }

  private drain() {
    this.busy = null;
    while (this.queue.length > 0 && !this.busy && !this.closed) this.run(this.queue.shift()!);
    if (this.closed) this.queue.length = 0;
  }

  /** Hands an event to the consumer; a promise when it is not taken yet (backpressure). */
  protected emit(event: Out): void | Promise<void> {
    if (this.closed) return;
    if (this.handler) return this.handler(event);
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: event, done: false });
      return;
    }
    return new Promise<void>((taken) => this.buffer.push({ event, taken }));
  }

  /** Ends the stream with `error`: a pulling consumer gets it thrown, `pipe` rejects with it. */
  protected fail(error: unknown) {
    if (this.closed) return;
    this.failure = error;
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      reject(error);
    }
    void this.end();
  }

  /** Ends the stream once, however it ends (complete); runs `close`. */
  end(): Promise<void> {
    this.ending ??= (async () => {
      this.closed = true;
      this.queue.length = 0;
      if (this.waiting) {
        const { resolve } = this.waiting;
        this.waiting = null;
        resolve({ value: undefined, done: true });
      }
      const closing = this.close(this.started);
      if (closing) await closing;
      this.settle();
    })();
    return this.ending;
  }
}

/**
 * Converts each room event once, so every subscriber of the room receives the same object
 * and the GraphQL layer can execute and serialise it once per selection
 * (transport/shared-execution.ts).
 */
export function sharedConversion<In extends object, Out extends object>(convert: (event: In) => Out) {
  const converted = new WeakMap<In, Out>();
  return (event: In): Out => {
    let shared = converted.get(event);
    if (!shared) converted.set(event, (shared = convert(event)));
    return shared;
  };
}
