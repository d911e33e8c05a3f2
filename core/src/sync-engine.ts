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
import { applyOp, checkOp, composeOps, jsonEqual, transformOp, type JSONOp } from './ot.js';
import { transformThrough, type PresencePosition } from './presence.js';
import { platform } from './platform.js';

/**
 * `extensions.reason` of the BAD_USER_INPUT a server answers when a (clientId, seq) was
 * already used for a different op (rule OP2: two live editors sharing one clientId).
 */
export const SEQ_REUSED = 'CLIENT_SEQ_REUSED';

/** What made a committed op (OperationKind). */
export type RemoteOpKind = 'EDIT' | 'UNDO' | 'REDO' | 'RESTORE' | 'RENAME' | 'LAYOUT';

/** One committed op as the event stream delivers it (OperationApplied). */
export interface RemoteOp {
  version: number;
  /** null when concurrent edits absorbed it (rule OP1a); it still takes a version. */
  op: JSONOp;
  clientId: string;
  seq: number;
  /** When the transport asks for it: lets the engine tell whether undo and redo can act. */
  kind?: RemoteOpKind;
  /** The first version of the op's undo step (rule UN2). */
  undoGroup?: number | null;
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
  /** Sends restoreVersion (rule UN1: it is undoable like an edit of this clientId). */
  restore(input: { clientId: string; seq: number; version: number }): Promise<OperationAck>;
  /**
   * Opens dashboardEvents from `fromVersion` (rule SUB1: the ops after it in order, then
   * synced, then live ops), joining presence as `clientId` (rule PR1). Returns an
   * unsubscribe function. Losing access (AccessRevoked) should surface as `error` with code
   * NOT_FOUND or FORBIDDEN.
   */
  subscribe(
    fromVersion: number,
    handlers: {
      op(event: RemoteOp): void;
      synced(version: number): void;
      error(error: unknown): void;
      closed(): void;
    },
    clientId: string,
  ): () => void;
  /**
   * Fetches the current snapshot (used to reset after a rejected op). Must settle: reject
   * when the connection is lost (the stream is closed while it runs, so the engine would
   * not notice otherwise).
   */
  load(): Promise<{ version: number; document: DashboardDocument }>;
}

/** A queued submission: an op (applied locally at once) or an undo/redo/restore (not optimistic). */
export type Submission =
  { kind: 'op'; op: JSONOp } | { kind: 'undo' } | { kind: 'redo' } | { kind: 'restore'; version: number };
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
  /** The client's undo steps and redoable undos as far as this engine saw them (rule UN2). */
  undo?: UndoStacks;
}

/** Undo steps (their undoGroup, oldest first) and the number of undos redo can take back. */
export interface UndoStacks {
  steps: number[];
  redo: number;
}

export interface SyncErrorEvent {
  error: unknown;
  /** The server's error code, when it sent one. */
  code: string | undefined;
  /** True when the engine keeps trying (network, UNAVAILABLE, RATE_LIMITED, ...). */
  willRetry: boolean;
  /** Local work that was discarded because of this error. */
  dropped?: Submission;
  /**
   * Set when the server refused a seq as already used by another editor with this clientId
   * (rule OP2) and the engine took this new clientId, keeping every unacknowledged edit.
   */
  newClientId?: string;
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
  /** Milliseconds now (default Date.now), for `unsyncedSince`. */
  now?: () => number;
  /**
   * Makes a fresh clientId. Given, a seq refused as reused (rule OP2: another live editor
   * shares this clientId) moves the engine to a new identity and resends its work there;
   * without it, the refused submission is dropped and reported.
   */
  newClientId?: () => string;
  /** Restored undo bookkeeping (SyncEngineState.undo). */
  undo?: UndoStacks;
  /** Jitter source in [0, 1) (default Math.random). */
  random?: () => number;
  /** Called after every change, like a listener passed to `subscribe`. */
  onChange?: () => void;
  onError?: (event: SyncErrorEvent) => void;
}

export interface SyncEngine {
  /** Changes only when the server found another live editor using it (see `newClientId`). */
  readonly clientId: string;
  /** The local view: server document with the unacknowledged local ops applied. */
  readonly document: DashboardDocument;
  /** The last server version applied. */
  readonly version: number;
  readonly state: SyncState;
  /** Unacknowledged submissions (in flight plus queued). */
  readonly pendingCount: number;
  /**
   * Since when (ms) submissions have waited without any being acknowledged; null when none
   * wait. Connected and long ago means something is wrong: show it.
   */
  readonly unsyncedSince: number | null;
  /** Whether undo has something to take back (as far as this engine knows: rule UN2 steps). */
  readonly canUndo: boolean;
  /** Whether redo has an undo to take back. */
  readonly canRedo: boolean;
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
  /** Queues a restore of `version` under this clientId (undoable; rule UN1). */
  restore(version: number): void;
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
  setTimeout: (callback, ms) => platform.setTimeout(callback, ms),
  clearTimeout: (handle) => platform.clearTimeout(handle),
};

/**
 * Creates a sync engine starting from `initial` (plus any restored inflight and pending
 * submissions, which must apply to it: it throws otherwise). It stays offline until
 * `connect()`.
 */
export function createSyncEngine(options: SyncEngineOptions): SyncEngine {
  const { transport } = options;
  let clientId = options.clientId;
  const timers = options.timers ?? defaultTimers;
  const now = options.now ?? Date.now;
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
  let unsyncedSince: number | null = inflight || pending.length > 0 ? now() : null;
  const undoSteps = [...(options.undo?.steps ?? [])]; // undoGroup of each step, oldest first
  let redoable = options.undo?.redo ?? 0;

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

  const emit = (): void => {
    if (!inflight && pending.length === 0) unsyncedSince = null;
    listeners.forEach((listener) => listener());
  };
  const queued = (): void => {
    unsyncedSince ??= now();
  };
  const report = (event: SyncErrorEvent): void => options.onError?.(event);
  const backoff = (attempt: number): number => Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + random() / 2);

  function open(): void {
    closeStream();
    const generation = ++streamGeneration;
    const live = (): boolean => generation === streamGeneration;
    state = 'connecting';
    try {
      const unsubscribe = transport.subscribe(
        version,
        {
          op: (event) => live() && onRemote(event),
          synced: (at) => live() && onSynced(at),
          error: (error) => live() && streamDown(error),
          closed: () => live() && streamDown(undefined),
        },
        clientId,
      );
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
    const mine = isInflight(event);
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
    if (mine) noteOwn(event);
    if (mine) {
      inflight = null;
      submitFailures = 0;
      unsyncedSince = now(); // progress: whatever still waits, waits from now
      flush();
    }
    emit();
  }

  /**
   * Whether a committed op is the submission in flight: same (clientId, seq), and the same
   * request. Another live editor using this clientId (two tabs restoring one saved state) can
   * commit its own op under our seq just before ours is refused (rule OP2); taken for our ack,
   * it would drop our edit silently. An op in flight has been rebased over every version
   * before the committed one, as the server rebased it, so it equals what was committed.
   */
  function isInflight(event: RemoteOp): boolean {
    if (inflight === null || event.clientId !== clientId || event.seq !== inflight.seq) return false;
    if (event.kind === undefined) return true; // a transport that does not say: trust (clientId, seq)
    const kind = { op: 'EDIT', undo: 'UNDO', redo: 'REDO', restore: 'RESTORE' }[inflight.kind];
    if (event.kind !== kind) return false;
    return inflight.kind !== 'op' || jsonEqual(event.op, inflight.op);
  }

  /** Undo bookkeeping from this client's own committed ops (rules UN1, UN2). */
  function noteOwn(event: RemoteOp): void {
    const kind = event.kind ?? 'EDIT';
    const step = event.undoGroup ?? event.version;
    if (kind === 'EDIT' || kind === 'RESTORE') {
      if (event.op !== null && undoSteps[undoSteps.length - 1] !== step) undoSteps.push(step);
      redoable = 0;
    } else if (kind === 'UNDO') {
      undoSteps.pop();
      if (event.op !== null) redoable++; // an absorbed undo enters no redo stack
    } else if (kind === 'REDO') {
      redoable = Math.max(0, redoable - 1);
      if (event.op !== null) undoSteps.push(step);
    }
    if (undoSteps.length > 1000) undoSteps.splice(0, undoSteps.length - 1000);
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
        : sent.kind === 'restore'
          ? transport.restore({ clientId, seq: sent.seq, version: sent.version })
          : transport[sent.kind]({ clientId, seq: sent.seq }),
    ).then(
      (ack) => {
        // The stream acknowledges committed submissions; only "nothing to undo" ends here.
        if (ack === null && current()) {
          if (sent.kind === 'undo') undoSteps.length = 0;
          if (sent.kind === 'redo') redoable = 0;
          inflight = null;
          unsyncedSince = now();
          flush();
          emit();
        }
      },
      (error: unknown) => current() && submitFailed(sent, error),
    );
  }

  function submitFailed(sent: InflightSubmission, error: unknown): void {
    const code = errorCode(error);
    if (code === 'BAD_USER_INPUT' && errorReason(error) === SEQ_REUSED && options.newClientId) {
      return reidentify(sent, error);
    }
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
   * Another live editor uses this clientId (rule OP2): nothing of ours was committed under
   * the refused seq. Take a fresh identity, put the submission back at the head of the queue
   * (it is still relative to the server document) and rejoin as the new identity; synced
   * then sends it. Nothing is lost, and the report says what happened.
   */
  function reidentify(sent: InflightSubmission, error: unknown): void {
    const fresh = options.newClientId!();
    clientId = fresh;
    nextSeq = 1;
    inflight = null;
    const { seq: _seq, ...submission } = sent;
    pending.unshift(submission as Submission);
    undoSteps.length = 0; // the new identity's stacks are empty on the server
    redoable = 0;
    report({ error, code: 'BAD_USER_INPUT', willRetry: true, newClientId: fresh });
    if (state === 'connected') open();
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

  const queuedCount = (kind: Submission['kind']): number =>
    pending.filter((entry) => entry.kind === kind).length + (inflight?.kind === kind ? 1 : 0);

  return {
    get clientId() {
      return clientId;
    },
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
    get unsyncedSince() {
      return unsyncedSince;
    },
    get canUndo() {
      const unsent = queuedCount('op') + queuedCount('restore'); // each becomes a step
      return undoSteps.length + unsent + queuedCount('redo') > queuedCount('undo');
    },
    get canRedo() {
      return queuedCount('op') + queuedCount('restore') === 0 && redoable + queuedCount('undo') > queuedCount('redo');
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
      queued();
      flush();
      emit();
    },
    undo() {
      pending.push({ kind: 'undo' });
      queued();
      flush();
      emit();
    },
    redo() {
      pending.push({ kind: 'redo' });
      queued();
      flush();
      emit();
    },
    restore(at) {
      if (!Number.isSafeInteger(at) || at < 0) throw new TypeError('version must be a non-negative integer');
      pending.push({ kind: 'restore', version: at });
      queued();
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
        undo: { steps: [...undoSteps], redo: redoable },
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
  options: Omit<SyncEngineOptions, 'clientId' | 'initial' | 'nextSeq' | 'inflight' | 'pending' | 'undo'>,
): SyncEngine {
  return createSyncEngine({
    ...options,
    clientId: saved.clientId,
    initial: { version: saved.version, document: saved.serverDocument },
    nextSeq: saved.nextSeq,
    inflight: saved.inflight,
    pending: saved.pending,
    undo: saved.undo,
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

function errorReason(error: unknown): string | undefined {
  const reason = (error as { reason?: unknown } | null | undefined)?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

function retryAfterMs(error: unknown): number {
  const seconds = (error as { retryAfter?: unknown } | null | undefined)?.retryAfter;
  return typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : 0;
}
