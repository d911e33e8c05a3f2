/**
 * The client sync engine: ShareDB's client model over an injected transport. This file
 * composes the pieces: the stream's lifecycle, sending and its failures, resets.
 *
 * The server keeps one linear history (rule OP1) and its event stream is the only source
 * of ordering: mutation acks only report errors. Local ops apply at once and queue; one
 * submission is in flight at a time, identified by (clientId, seq) so a resubmission after
 * a reconnect is deduplicated by the server (rule OP2). Every remote op is transformed
 * against the unacknowledged local ops, local ops on the left (rule OP3), so
 *
 *   document == serverDocument ∘ inflight ∘ pending
 *
 * holds after every step (sync-queue.ts), and the server's document after the acks equals
 * ours. The stream resumes from the last version applied, without gaps (rule SUB1); undo
 * and redo are the server's (rules UN1, UN2; sync-undo.ts); remote presence is placed
 * through recent ops (rule PR2; sync-presence-history.ts); which failures are retried is the
 * protocol's (protocol.ts; sync-retry.ts).
 */
import type { DashboardDocument } from './document.js';
import { SEQ_REUSED, isStreamFatal, isSubmitRejected } from './protocol.js';
import { PresenceHistory } from './sync-presence-history.js';
import { SubmissionQueue, type InflightSubmission } from './sync-queue.js';
import { attempt, createBackoff, defaultTimers, errorCode, errorReason, retryAfterMs } from './sync-retry.js';
import type { RemoteOp } from './sync-transport.js';
import type { SyncEngine, SyncEngineOptions, SyncEngineState, SyncErrorEvent, SyncState } from './sync-types.js';
import { UndoTracker } from './sync-undo.js';

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
  const backoff = createBackoff(options.retry, options.random ?? Math.random);
  const listeners = new Set<() => void>();
  if (options.onChange) listeners.add(options.onChange);

  let version = options.initial.version;
  const queue = new SubmissionQueue({
    serverDocument: options.initial.document,
    nextSeq: options.nextSeq ?? 1,
    inflight: options.inflight ?? null,
    pending: options.pending ?? [],
  });
  const history = new PresenceHistory();
  const undoStacks = new UndoTracker(options.undo);
  let unsyncedSince: number | null = queue.size > 0 ? now() : null;

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
    if (queue.size === 0) unsyncedSince = null;
    listeners.forEach((listener) => listener());
  };
  const queued = (): void => {
    unsyncedSince ??= now();
    flush();
    emit();
  };
  const report = (event: SyncErrorEvent): void => options.onError?.(event);

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
    const fatal = isStreamFatal(code);
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
    const failure = streamFailures++;
    if (failure === 0) return open();
    state = 'connecting';
    streamTimer = timers.setTimeout(
      () => {
        open();
        emit();
      },
      backoff(failure - 1),
    );
  }

  function onRemote(event: RemoteOp): void {
    if (state === 'connecting') state = 'syncing';
    if (event.version <= version) return; // already applied (a duplicate at a seam)
    if (event.version !== version + 1) {
      return streamDown(new Error(`missed versions ${version + 1}..${event.version - 1}`));
    }
    const mine = queue.isInflight(event, clientId);
    try {
      queue.applyCommitted(event.op, mine);
    } catch (error) {
      // Our document and the server's disagree: nothing local can be trusted.
      report({ error, code: undefined, willRetry: true, dropped: queue.inflight ?? undefined });
      queue.inflight = null;
      return reset();
    }
    version = event.version;
    history.record(version, event.op);
    if (mine) {
      undoStacks.noteOwn(event);
      queue.inflight = null;
      submitFailures = 0;
      unsyncedSince = now(); // progress: whatever still waits, waits from now
      flush();
    }
    emit();
  }

  function onSynced(at: number): void {
    if (at > version) return streamDown(new Error(`catch-up ended at ${version}, before ${at}`));
    streamFailures = 0;
    state = 'connected';
    // Resubmit with the same seq: the server answers a duplicate if it already has it (OP2).
    if (queue.inflight) send();
    else flush();
    emit();
  }

  function flush(): void {
    if (queue.inflight !== null || state !== 'connected') return;
    if (queue.takeNext()) send();
  }

  function send(): void {
    const sent = queue.inflight!;
    timers.clearTimeout(submitTimer);
    if (sent.kind === 'op' && sent.op === null) {
      // Absorbed by concurrent edits before it could be (re)sent: nothing left to commit.
      // Should an earlier send of it still commit, it arrives as a null op from the stream.
      queue.inflight = null;
      return flush();
    }
    const token = ++sendToken;
    const current = (): boolean => token === sendToken && queue.inflight === sent;
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
          if (sent.kind === 'undo' || sent.kind === 'redo') undoStacks.nothingLeft(sent.kind);
          queue.inflight = null;
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
    if (!isSubmitRejected(code)) {
      report({ error, code, willRetry: true });
      const delay = Math.max(backoff(submitFailures++), retryAfterMs(error));
      submitTimer = timers.setTimeout(() => {
        // After a reconnect, synced resends instead.
        if (queue.inflight !== sent || state !== 'connected') return;
        send();
        emit();
      }, delay);
      return;
    }
    queue.inflight = null;
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
    queue.requeue(sent);
    undoStacks.clear(); // the new identity's stacks are empty on the server
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
    rebuild(queue.serverDocument, version);
    if (!wanted) return;
    const token = ++resetToken; // disconnect() abandons the reload
    closeStream();
    state = 'syncing';
    attempt(() => transport.load()).then(
      (snapshot) => {
        if (token !== resetToken) return;
        if (snapshot.version >= version) {
          history.clear();
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
  function rebuild(serverDocument: DashboardDocument, at: number): void {
    version = at;
    queue.rebuild(serverDocument, (entry, error) =>
      report({ error, code: undefined, willRetry: false, dropped: entry }),
    );
  }

  const count = queue.count.bind(queue);

  return {
    get clientId() {
      return clientId;
    },
    get document() {
      return queue.document;
    },
    get version() {
      return version;
    },
    get state() {
      return state;
    },
    get pendingCount() {
      return queue.size;
    },
    get unsyncedSince() {
      return unsyncedSince;
    },
    get canUndo() {
      return undoStacks.canUndo(count);
    },
    get canRedo() {
      return undoStacks.canRedo(count);
    },

    submit(op) {
      if (queue.addOp(op)) queued();
    },
    undo() {
      queue.add({ kind: 'undo' });
      queued();
    },
    redo() {
      queue.add({ kind: 'redo' });
      queued();
    },
    restore(at) {
      if (!Number.isSafeInteger(at) || at < 0) throw new TypeError('version must be a non-negative integer');
      queue.add({ kind: 'restore', version: at });
      queued();
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
        nextSeq: queue.nextSeq,
        version,
        serverDocument: queue.serverDocument,
        inflight: queue.inflight && { ...queue.inflight },
        pending: queue.pending.map((entry) => ({ ...entry })),
        undo: undoStacks.snapshot(),
      };
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    transformPresence(position, at) {
      return history.place(position, at, version, queue.localOps());
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
