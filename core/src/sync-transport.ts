/**
 * The sync engine's only view of the server: what it sends (submissions, rules OP2 and UN1),
 * what the event stream delivers (committed ops in order, then synced: rules OP1 and SUB1),
 * and how a transport reports failures (the protocol's error codes, protocol.ts).
 */
import type { DashboardDocument } from './document.js';
import type { JSONOp } from './ot.js';

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

/** Where a transport delivers the event stream it opened for the engine. */
export interface StreamHandlers {
  op(event: RemoteOp): void;
  synced(version: number): void;
  error(error: unknown): void;
  closed(): void;
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
  subscribe(fromVersion: number, handlers: StreamHandlers, clientId: string): () => void;
  /**
   * Fetches the current snapshot (used to reset after a rejected op). Must settle: reject
   * when the connection is lost (the stream is closed while it runs, so the engine would
   * not notice otherwise).
   */
  load(): Promise<{ version: number; document: DashboardDocument }>;
}
