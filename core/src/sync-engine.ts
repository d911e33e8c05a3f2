/**
 * The client sync engine: ShareDB's client model over an injected transport.
 *
 * The server keeps one linear history (rule OP1) and its event stream is the only source
 * of ordering: mutation acks only report errors. Local ops apply at once and queue; one
 * submission is in flight at a time, identified by (clientId, seq) so a resubmission after
 * a reconnect is deduplicated by the server (rule OP2). Every remote op is transformed
 * against the unacknowledged local ops, local ops on the left (rule OP3), so
 *
 *   document == serverDocument ∘ inflight ∘ pending
 *
 * holds after every step, and the server's document after the acks equals ours.
 */
import { validateDocument, type DashboardDocument } from './document.js';
import { applyOp, checkOp, composeOps, transformOp, type JSONOp } from './ot.js';
import { transformThrough, type PresencePosition } from './presence.js';

/** One committed op as the event stream delivers it (OperationApplied). */
export interface RemoteOp {
  version: number;
  /** null when concurrent edits absorbed it (rule OP1a); it still takes a version. */
  op: JSONOp;
  clientId: string;
  seq: number;
}

/** What submitOperation, undo and redo answer (OperationAck). */
export interface OperationAck {
  version: number;
  op: JSONOp;
  duplicate: boolean;
}

/** The engine's only view of the server. */
export interface SyncTransport {
  /**
   * Sends submitOperation. Resolves with the ack; rejects with an Error carrying `code`
   * (the server's closed set: BAD_OPERATION, FORBIDDEN, NOT_FOUND, UNAVAILABLE,
   * RATE_LIMITED with `retryAfter` in seconds, BAD_USER_INPUT, ...) or, for a network
   * error, no code.
   */
  submit(input: { clientId: string; seq: number; baseVersion: number; op: JSONOp }): Promise<OperationAck>;
  /** Sends undo (server-side, rule UN1). Resolves null when there is nothing to undo. */
  undo(input: { clientId: string; seq: number }): Promise<OperationAck | null>;
  /** Sends redo (rule UN1). Resolves null when there is nothing to redo. */
  redo(input: { clientId: string; seq: number }): Promise<OperationAck | null>;
  /**
   * Opens dashboardEvents from `fromVersion` (rule SUB1: the ops after it in order, then
   * synced, then live ops). Returns an unsubscribe function. Losing access (AccessRevoked)
   * should surface as `error` with code NOT_FOUND or FORBIDDEN.
   */
  subscribe(
    fromVersion: number,
    handlers: {
      op(event: RemoteOp): void;
      synced(version: number): void;
      error(error: unknown): void;
      closed(): void;
    },
  ): () => void;
  /**
   * Fetches the current snapshot (used to reset after a rejected op). Must settle: reject
   * when the connection is lost (the stream is closed while it runs, so the engine would
   * not notice otherwise).
   */
  load(): Promise<{ version: number; document: DashboardDocument }>;
}

/** A queued submission: an op (applied locally at once) or an undo/redo (not optimistic). */
export type Submission = { kind: 'op'; op: JSONOp } | { kind: 'undo' } | { kind: 'redo' };
/** The submission on the wire, with the seq that identifies it (rule OP2). */
export type InflightSubmission = Submission & { seq: number };

/**
 * offline: not asked to connect (or stopped by a fatal error); connecting: waiting for the
 * stream (or for a retry); syncing: catching up or resetting; connected: live.
 */
export type SyncState = 'offline' | 'connecting' | 'syncing' | 'connected';

/** Everything needed to resume after a reload (JSON-serializable). */
export interface SyncEngineState {
  clientId: string;
  nextSeq: number;
  version: number;
  serverDocument: DashboardDocument;
  inflight: InflightSubmission | null;
  pending: Submission[];
}

export interface SyncErrorEvent {
  error: unknown;
  /** The server's error code, when it sent one. */
  code: string | undefined;
  /** True when the engine keeps trying (network, UNAVAILABLE, RATE_LIMITED, ...). */
  willRetry: boolean;
  /** Local work that was discarded because of this error. */
  dropped?: Submission;
}

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

export interface SyncEngineOptions {
  transport: SyncTransport;
  clientId: string;
  /** The snapshot the engine starts from, e.g. `Dashboard { version document }`. */
  initial: { version: number; document: DashboardDocument };
  /** The next seq to use (default 1). Seqs must never repeat for a clientId. */
  nextSeq?: number;
  inflight?: InflightSubmission | null;
  pending?: Submission[];
  retry?: RetryOptions;
  timers?: Timers;
  /** Jitter source in [0, 1) (default Math.random). */
  random?: () => number;
  /** Called after every change, like a listener passed to `subscribe`. */
  onChange?: () => void;
  onError?: (event: SyncErrorEvent) => void;
}

export interface SyncEngine {
  readonly clientId: string;
  /** The local view: server document with the unacknowledged local ops applied. */
  readonly document: DashboardDocument;
  /** The last server version applied. */
  readonly version: number;
  readonly state: SyncState;
  /** Unacknowledged submissions (in flight plus queued). */
  readonly pendingCount: number;
  /**
   * Applies `op` locally at once and queues it; consecutive queued ops are composed into
   * one submission. Throws (changing nothing) when the op is malformed, does not apply to
   * `document` or breaks its shape.
   */
  submit(op: JSONOp): void;
  /** Queues a server-side undo; its op arrives from the stream like a remote op. */
  undo(): void;
  /** Queues a server-side redo. */
  redo(): void;
  connect(): void;
  disconnect(): void;
  /**
   * The state to persist (e.g. in localStorage) for restoreSyncEngine. Persist it after
   * every change: restoring an older copy could reuse a seq the server already holds, and
   * the server would answer that submission with the old op (rule OP2).
   */
  serialize(): SyncEngineState;
  /** Calls `listener` after every change of document, version, state or pendingCount. */
  subscribe(listener: () => void): () => void;
  /**
   * Maps a remote cursor or selection that refers to server `version` onto the local
   * document: through the recent server ops after it, then the local unacknowledged ops.
   * Null when it cannot be placed (its widget is gone, or the version is too old or not
   * received yet).
   */
  transformPresence<T extends PresencePosition>(position: T | null, version: number): T | null;
}

// Submit errors that will fail again however often they are retried: drop the op.
// INTERNAL_SERVER_ERROR is here too, so a server bug cannot wedge the queue forever.
const REJECTED = new Set([
  'BAD_OPERATION',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'PAYLOAD_TOO_LARGE',
  'INTERNAL_SERVER_ERROR',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
]);
// Stream errors after which resubscribing is pointless.
const STREAM_FATAL = new Set([
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
]);
// Server ops kept to place remote presence that refers to an older version.
const PRESENCE_HISTORY = 100;

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/**
 * Creates a sync engine starting from `initial` (plus any restored inflight and pending
 * submissions, which must apply to it: it throws otherwise). It stays offline until
 * `connect()`.
 */
export function createSyncEngine(options: SyncEngineOptions): SyncEngine {
  const { transport, clientId } = options;
  const timers = options.timers ?? defaultTimers;
  const { baseMs = 250, maxMs = 30_000 } = options.retry ?? {};
  const random = options.random ?? Math.random;
  const listeners = new Set<() => void>();
  if (options.onChange) listeners.add(options.onChange);

  let version = options.initial.version;
  let serverDoc = options.initial.document;
  let nextSeq = options.nextSeq ?? 1;
  let inflight: InflightSubmission | null = options.inflight ? { ...options.inflight } : null;
  let pending: Submission[] = (options.pending ?? []).map((entry) => ({ ...entry }));
  let document = [inflight, ...pending].reduce(
    (doc, entry) => (entry?.kind === 'op' ? applyOp(doc, entry.op) : doc),
    serverDoc,
  );
  let recent: { version: number; op: JSONOp }[] = []; // contiguous, ending at `version`

  let state: SyncState = 'offline';
  let wanted = false; // connect() called and not disconnect()ed since
  let resetToken = 0; // answers to abandoned loads are ignored
  let stream: (() => void) | undefined; // unsubscribe of the open stream
  let streamGeneration = 0; // events from older streams are ignored
  let streamFailures = 0;
  let streamTimer: unknown;
  let sendToken = 0; // answers to older sends are ignored
  let submitFailures = 0;
  let submitTimer: unknown;

  const emit = (): void => listeners.forEach((listener) => listener());
  const report = (event: SyncErrorEvent): void => options.onError?.(event);
  const backoff = (attempt: number): number => Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + random() / 2);

  function open(): void {
    closeStream();
    const generation = ++streamGeneration;
    const live = (): boolean => generation === streamGeneration;
    state = 'connecting';
    try {
      const unsubscribe = transport.subscribe(version, {
        op: (event) => live() && onRemote(event),
        synced: (at) => live() && onSynced(at),
        error: (error) => live() && streamDown(error),
        closed: () => live() && streamDown(undefined),
      });
      if (live()) stream = unsubscribe;
      else unsubscribe(); // a handler already replaced this stream
    } catch (error) {
      streamDown(error);
    }
  }

  function closeStream(): void {
    streamGeneration++;
    timers.clearTimeout(streamTimer);
    const unsubscribe = stream;
    stream = undefined;
    unsubscribe?.();
  }

  function streamDown(error: unknown): void {
    closeStream();
    const code = errorCode(error);
    const fatal = code !== undefined && STREAM_FATAL.has(code);
    if (error !== undefined) report({ error, code, willRetry: !fatal });
    if (fatal) {
      wanted = false;
      state = 'offline';
    } else {
      reconnectSoon();
    }
    emit();
  }

  // Reopens at once after a first failure, then backs off until a stream syncs.
  function reconnectSoon(): void {
    const attempt = streamFailures++;
    if (attempt === 0) return open();
    state = 'connecting';
    streamTimer = timers.setTimeout(
      () => {
        open();
        emit();
      },
      backoff(attempt - 1),
    );
  }

  function onRemote(event: RemoteOp): void {
    if (state === 'connecting') state = 'syncing';
    if (event.version <= version) return; // already applied (a duplicate at a seam)
    if (event.version !== version + 1) {
      return streamDown(new Error(`missed versions ${version + 1}..${event.version - 1}`));
    }
    const mine = inflight !== null && event.clientId === clientId && event.seq === inflight.seq;
    try {
      // My op is already in `document`; an undo/redo result is not, so it applies like a remote op.
      if (mine && inflight!.kind === 'op') serverDoc = applyOp(serverDoc, event.op);
      else applyRemote(event.op);
    } catch (error) {
      // Our document and the server's disagree: nothing local can be trusted.
      report({ error, code: undefined, willRetry: true, dropped: inflight ?? undefined });
      inflight = null;
      return reset();
    }
    version = event.version;
    recent.push({ version, op: event.op });
    if (recent.length > PRESENCE_HISTORY) recent.shift();
    if (mine) {
      inflight = null;
      submitFailures = 0;
      flush();
    }
    emit();
  }

  // Computes everything before assigning anything, so a throw leaves the state intact.
  function applyRemote(op: JSONOp): void {
    if (op === null) return;
    let theirs: JSONOp = op;
    const rebase = (mine: JSONOp): JSONOp => {
      const transformed = transformOp(mine, theirs, 'left');
      theirs = transformOp(theirs, mine, 'right');
      return transformed;
    };
    const nextServerDoc = applyOp(serverDoc, op);
    const inflightOp = inflight?.kind === 'op' ? rebase(inflight.op) : null;
    const pendingOps = pending.map((entry) => (entry.kind === 'op' ? rebase(entry.op) : null));
    const nextDocument = applyOp(document, theirs);

    serverDoc = nextServerDoc;
    document = nextDocument;
    if (inflight?.kind === 'op') inflight.op = inflightOp; // same object: a send in progress still owns it
    pending = pending.flatMap((entry, i): Submission[] => {
      if (entry.kind !== 'op') return [entry];
      return pendingOps[i] === null ? [] : [{ kind: 'op', op: pendingOps[i]! }];
    });
  }

  function onSynced(at: number): void {
    if (at > version) return streamDown(new Error(`catch-up ended at ${version}, before ${at}`));
    streamFailures = 0;
    state = 'connected';
    // Resubmit with the same seq: the server answers a duplicate if it already has it (OP2).
    if (inflight) send();
    else flush();
    emit();
  }

  function flush(): void {
    if (inflight !== null || state !== 'connected') return;
    const next = pending.shift();
    if (!next) return;
    inflight = { ...next, seq: nextSeq++ };
    send();
  }

  function send(): void {
    const sent = inflight!;
    timers.clearTimeout(submitTimer);
    if (sent.kind === 'op' && sent.op === null) {
      // Absorbed by concurrent edits before it could be (re)sent: nothing left to commit.
      // Should an earlier send of it still commit, it arrives as a null op from the stream.
      inflight = null;
      return flush();
    }
    const token = ++sendToken;
    const current = (): boolean => token === sendToken && inflight === sent;
    attempt(() =>
      sent.kind === 'op'
        ? transport.submit({ clientId, seq: sent.seq, baseVersion: version, op: sent.op })
        : transport[sent.kind]({ clientId, seq: sent.seq }),
    ).then(
      (ack) => {
        // The stream acknowledges committed submissions; only "nothing to undo" ends here.
        if (ack === null && current()) {
          inflight = null;
          flush();
          emit();
        }
      },
      (error: unknown) => current() && submitFailed(sent, error),
    );
  }

  function submitFailed(sent: InflightSubmission, error: unknown): void {
    const code = errorCode(error);
    if (code === undefined || !REJECTED.has(code)) {
      report({ error, code, willRetry: true });
      const delay = Math.max(backoff(submitFailures++), retryAfterMs(error));
      submitTimer = timers.setTimeout(() => {
        // After a reconnect, synced resends instead.
        if (inflight !== sent || state !== 'connected') return;
        send();
        emit();
      }, delay);
      return;
    }
    inflight = null;
    report({ error, code, willRetry: false, dropped: sent });
    if (sent.kind === 'op') reset();
    else flush();
    emit();
  }

  /**
   * Hard rollback: shows the server document plus the queued ops at once, then, when
   * connected, replaces the server document with a fresh snapshot (ours may be what the
   * server disagreed with) and replays the queue on it, dropping ops that no longer apply.
   * A rejection can arrive after disconnect(): then the local rebuild is all there is.
   */
  function reset(): void {
    rebuild(serverDoc, version);
    if (!wanted) return;
    const token = ++resetToken; // disconnect() abandons the reload
    closeStream();
    state = 'syncing';
    attempt(() => transport.load()).then(
      (snapshot) => {
        if (token !== resetToken) return;
        if (snapshot.version >= version) {
          recent = [];
          rebuild(snapshot.document, snapshot.version);
        }
        open();
        emit();
      },
      (error: unknown) => {
        if (token !== resetToken) return;
        report({ error, code: errorCode(error), willRetry: true });
        reconnectSoon();
        emit();
      },
    );
  }

  // Only called with nothing in flight.
  function rebuild(doc: DashboardDocument, at: number): void {
    serverDoc = doc;
    version = at;
    document = doc;
    pending = pending.filter((entry) => {
      if (entry.kind !== 'op') return true;
      try {
        const next = applyOp(document, entry.op);
        const problem = validateDocument(next, document);
        if (problem) throw new Error(problem);
        document = next;
        return true;
      } catch (error) {
        report({ error, code: undefined, willRetry: false, dropped: entry });
        return false;
      }
    });
  }

  return {
    clientId,
    get document() {
      return document;
    },
    get version() {
      return version;
    },
    get state() {
      return state;
    },
    get pendingCount() {
      return pending.length + (inflight ? 1 : 0);
    },

    submit(op) {
      const malformed = checkOp(op);
      if (malformed) throw new TypeError(malformed);
      if (op === null) return;
      const next = applyOp(document, op);
      const problem = validateDocument(next, document);
      if (problem) throw new TypeError(problem);
      document = next;
      const last = pending[pending.length - 1];
      if (last?.kind === 'op') {
        last.op = composeOps(last.op, op);
        if (last.op === null) pending.pop(); // they cancelled out
      } else {
        pending.push({ kind: 'op', op });
      }
      flush();
      emit();
    },
    undo() {
      pending.push({ kind: 'undo' });
      flush();
      emit();
    },
    redo() {
      pending.push({ kind: 'redo' });
      flush();
      emit();
    },

    connect() {
      wanted = true;
      if (state !== 'offline') return;
      streamFailures = 0;
      open();
      emit();
    },
    disconnect() {
      wanted = false;
      resetToken++; // abandons a reload: the local state was already rebuilt
      closeStream();
      timers.clearTimeout(submitTimer);
      state = 'offline';
      emit();
    },

    serialize() {
      return {
        clientId,
        nextSeq,
        version,
        serverDocument: serverDoc,
        inflight: inflight && { ...inflight },
        pending: pending.map((entry) => ({ ...entry })),
      };
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    transformPresence(position, at) {
      if (at > version) return null;
      const server = recent.filter((entry) => entry.version > at);
      if (server.length !== version - at) return null;
      const local = [inflight, ...pending].flatMap((entry) => (entry?.kind === 'op' ? [entry.op] : []));
      return transformThrough(position, [...server.map((entry) => entry.op), ...local]);
    },
  };
}

/** Recreates an engine from `SyncEngine.serialize()` output, e.g. after a page reload. */
export function restoreSyncEngine(
  saved: SyncEngineState,
  options: Omit<SyncEngineOptions, 'clientId' | 'initial' | 'nextSeq' | 'inflight' | 'pending'>,
): SyncEngine {
  return createSyncEngine({
    ...options,
    clientId: saved.clientId,
    initial: { version: saved.version, document: saved.serverDocument },
    nextSeq: saved.nextSeq,
    inflight: saved.inflight,
    pending: saved.pending,
  });
}

// Runs `fn` now, turning a synchronous throw into a rejection.
function attempt<T>(fn: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function retryAfterMs(error: unknown): number {
  const seconds = (error as { retryAfter?: unknown } | null | undefined)?.retryAfter;
  return typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : 0;
}
