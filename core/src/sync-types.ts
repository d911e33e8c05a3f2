/**
 * The sync engine's public face: its options, its state (rule OP2: what must be persisted
 * so no seq is reused), what it reports, and the SyncEngine interface itself (rules OP1,
 * OP2, OP3, SUB1, UN1, UN2, PR2 from the client's side). The engine is in sync-engine.ts.
 */
import type { DashboardDocument } from './document.js';
import type { JSONOp } from './ot.js';
import type { PresencePosition } from './presence.js';
import type { InflightSubmission, Submission } from './sync-queue.js';
import type { RetryOptions, Timers } from './sync-retry.js';
import type { SyncTransport } from './sync-transport.js';
import type { UndoStacks } from './sync-undo.js';

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
