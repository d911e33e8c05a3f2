/**
 * The authoritative server of DESIGN.md section 4, in memory, reduced to what a sync engine
 * sees: one linear history (OP1), idempotent submits by (clientId, seq) and refusal of a
 * reused seq (OP2), rebasing over later ops (OP3), validation (OP5), server-side undo, redo
 * and restore (UN1), and catch-up then live events (SUB1). For the sync engine's tests.
 */
import { isDeepStrictEqual } from 'node:util';
import { validateDocument, type DashboardDocument } from '../src/document.js';
import { applyOp, checkOp, invertOp, transformOp, type JSONOp } from '../src/ot.js';
import { SEQ_REUSED } from '../src/protocol.js';
import type { OperationAck, RemoteOp } from '../src/sync-transport.js';

/** A failure carrying the server's error code, as a transport reports it. */
export class CodedError extends Error {
  constructor(
    readonly code: string,
    readonly retryAfter?: number,
    readonly reason?: string,
  ) {
    super(code);
  }
}

type ServerEvent = { type: 'op'; event: RemoteOp } | { type: 'synced'; version: number };
type Committed = RemoteOp & { inverse: JSONOp };

/** The authoritative server of DESIGN.md section 4, reduced to what the engine sees. */
export class FakeServer {
  readonly docs: DashboardDocument[];
  readonly history: Committed[] = [];
  private acks = new Map<string, OperationAck>(); // `${clientId}:${seq}` -> original ack
  // `${clientId}:${seq}` -> what was submitted under it (OP2: a different op there is refused)
  private submitted = new Map<string, { kind: string; baseVersion?: number; op?: JSONOp }>();
  private undoStacks = new Map<string, number[]>(); // clientId -> versions it may undo
  private redoStacks = new Map<string, number[]>();
  private subscribers = new Set<(event: ServerEvent) => void>();
  /** Errors the next submits throw before committing anything. */
  failNext: CodedError[] = [];
  submits: { clientId: string; seq: number; baseVersion: number; duplicate: boolean }[] = [];

  constructor(initial: DashboardDocument) {
    this.docs = [initial];
  }

  get version(): number {
    return this.history.length;
  }
  get doc(): DashboardDocument {
    return this.docs[this.version]!;
  }

  submit(input: { clientId: string; seq: number; baseVersion: number; op: JSONOp }): OperationAck {
    const key = `${input.clientId}:${input.seq}`;
    const original = this.acks.get(key);
    this.submits.push({
      clientId: input.clientId,
      seq: input.seq,
      baseVersion: input.baseVersion,
      duplicate: !!original,
    });
    if (original) {
      // OP2: a duplicate only if it asks for the same thing: the op, rebased from its base
      // to the version before the committed one, is the committed op.
      const first = this.submitted.get(key)!;
      let op: JSONOp = input.op;
      if (first.kind === 'op' && input.baseVersion < original.version) {
        for (const later of this.history.slice(input.baseVersion, original.version - 1))
          op = transformOp(op, later.op, 'left');
      }
      if (first.kind !== 'op' || input.baseVersion >= original.version || !isDeepStrictEqual(op, original.op)) {
        this.submits[this.submits.length - 1]!.duplicate = false;
        throw new CodedError('BAD_USER_INPUT', undefined, SEQ_REUSED);
      }
      return { ...original, duplicate: true };
    }
    const failure = this.failNext.shift();
    if (failure) throw failure;
    if (input.baseVersion > this.version) throw new CodedError('BAD_USER_INPUT');
    if (input.op === null || checkOp(input.op)) throw new CodedError('BAD_OPERATION');
    const base = this.docs[input.baseVersion]!;
    let after: DashboardDocument;
    try {
      after = applyOp(base, input.op);
    } catch {
      throw new CodedError('BAD_OPERATION');
    }
    if (validateDocument(after, base)) throw new CodedError('BAD_OPERATION'); // OP5
    let op: JSONOp = input.op;
    for (const later of this.history.slice(input.baseVersion)) op = transformOp(op, later.op, 'left'); // OP3
    this.redoStacks.set(input.clientId, []);
    this.submitted.set(key, { kind: 'op', baseVersion: input.baseVersion, op: input.op });
    return this.commit(input.clientId, input.seq, op, 'undo', 'EDIT');
  }

  /** restoreVersion: the whole document back as it was at `version`, undoable like an edit. */
  restore(clientId: string, seq: number, version: number): OperationAck {
    const key = `${clientId}:${seq}`;
    const original = this.acks.get(key);
    if (original) {
      if (this.submitted.get(key)?.kind !== 'restore') throw new CodedError('BAD_USER_INPUT', undefined, SEQ_REUSED);
      return { ...original, duplicate: true };
    }
    const target = this.docs[version];
    if (!target) throw new CodedError('BAD_USER_INPUT');
    this.redoStacks.set(clientId, []);
    this.submitted.set(key, { kind: 'restore' });
    const op = isDeepStrictEqual(target, this.doc) ? null : ([{ r: true, i: target }] as unknown as JSONOp);
    return this.commit(clientId, seq, op, 'undo', 'RESTORE');
  }

  /** UN1: invert the client's latest op, transform it over everything after it, commit. */
  undoOrRedo(kind: 'undo' | 'redo', clientId: string, seq: number): OperationAck | null {
    const original = this.acks.get(`${clientId}:${seq}`);
    if (original) {
      if (this.submitted.get(`${clientId}:${seq}`)?.kind !== kind) {
        throw new CodedError('BAD_USER_INPUT', undefined, SEQ_REUSED);
      }
      return { ...original, duplicate: true };
    }
    const stack = (kind === 'undo' ? this.undoStacks : this.redoStacks).get(clientId) ?? [];
    const target = stack.pop();
    if (target === undefined) return null;
    let op = this.history[target - 1]!.inverse;
    for (const later of this.history.slice(target)) op = transformOp(op, later.op, 'left');
    this.submitted.set(`${clientId}:${seq}`, { kind });
    return this.commit(clientId, seq, op, kind === 'undo' ? 'redo' : 'undo', kind === 'undo' ? 'UNDO' : 'REDO');
  }

  private commit(
    clientId: string,
    seq: number,
    op: JSONOp,
    pushTo: 'undo' | 'redo',
    kind: RemoteOp['kind'],
  ): OperationAck {
    const before = this.doc;
    const inverse = op === null ? null : invertOp(op, before);
    this.docs.push(op === null ? before : applyOp(before, op));
    const version = this.version + 1;
    const event: Committed = { version, op, clientId, seq, inverse, kind, undoGroup: version };
    this.history.push(event);
    if (op !== null) {
      const stacks = pushTo === 'undo' ? this.undoStacks : this.redoStacks;
      stacks.set(clientId, [...(stacks.get(clientId) ?? []), event.version]);
    }
    const ack = { version: event.version, op, duplicate: false };
    this.acks.set(`${clientId}:${seq}`, ack);
    const { inverse: _, ...remote } = event;
    this.subscribers.forEach((push) => push({ type: 'op', event: remote }));
    return ack;
  }

  /** SUB1: the ops after `fromVersion`, then synced, then live ops. */
  subscribe(fromVersion: number, push: (event: ServerEvent) => void): () => void {
    if (fromVersion > this.version) throw new CodedError('BAD_USER_INPUT');
    for (const { inverse: _, ...event } of this.history.slice(fromVersion)) push({ type: 'op', event });
    push({ type: 'synced', version: this.version });
    this.subscribers.add(push);
    return () => this.subscribers.delete(push);
  }
}
