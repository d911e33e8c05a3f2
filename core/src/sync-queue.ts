/**
 * The engine's local state: the server document as last received, the submission in flight
 * and the queue behind it, and the local document they make together,
 *
 *   document == serverDocument ∘ inflight ∘ pending
 *
 * Rules kept here: OP2 (one submission in flight at a time, named by (clientId, seq), and
 * matched to its committed op by kind and op, not by seq alone), OP3 (every remote op is
 * transformed against the unacknowledged local ops, local ops on the left), OP1a (a local op
 * that concurrent edits absorbed is not sent) and OP5 (an op that does not apply or breaks
 * the document's shape is refused locally, or dropped from the queue on a rebuild).
 */
import { validateDocument, type DashboardDocument } from './document.js';
import { applyOp, checkOp, composeOps, jsonEqual, transformOp, type JSONOp } from './ot.js';
import type { RemoteOp, RemoteOpKind } from './sync-transport.js';

/** A queued submission: an op (applied locally at once) or an undo/redo/restore (not optimistic). */
export type Submission =
  { kind: 'op'; op: JSONOp } | { kind: 'undo' } | { kind: 'redo' } | { kind: 'restore'; version: number };
/** The submission on the wire, with the seq that identifies it (rule OP2). */
export type InflightSubmission = Submission & { seq: number };

// The kind of committed op each kind of submission makes.
const COMMITTED_AS: Record<Submission['kind'], RemoteOpKind> = {
  op: 'EDIT',
  undo: 'UNDO',
  redo: 'REDO',
  restore: 'RESTORE',
};

export class SubmissionQueue {
  serverDocument: DashboardDocument;
  /** The local view: the server document with the unacknowledged local ops applied. */
  document: DashboardDocument;
  inflight: InflightSubmission | null;
  pending: Submission[];
  /** The seq the next submission put in flight takes. Seqs never repeat for a clientId. */
  nextSeq: number;

  /** Throws when the restored submissions do not apply to `serverDocument`. */
  constructor(start: {
    serverDocument: DashboardDocument;
    nextSeq: number;
    inflight: InflightSubmission | null;
    pending: Submission[];
  }) {
    this.serverDocument = start.serverDocument;
    this.nextSeq = start.nextSeq;
    this.inflight = start.inflight ? { ...start.inflight } : null;
    this.pending = start.pending.map((entry) => ({ ...entry }));
    this.document = [this.inflight, ...this.pending].reduce(
      (doc, entry) => (entry?.kind === 'op' ? applyOp(doc, entry.op) : doc),
      this.serverDocument,
    );
  }

  /** Unacknowledged submissions (in flight plus queued). */
  get size(): number {
    return this.pending.length + (this.inflight ? 1 : 0);
  }

  /** Unacknowledged submissions of one kind (in flight plus queued). */
  count(kind: Submission['kind']): number {
    return this.pending.filter((entry) => entry.kind === kind).length + (this.inflight?.kind === kind ? 1 : 0);
  }

  /** The unacknowledged local ops, oldest first. */
  localOps(): JSONOp[] {
    return [this.inflight, ...this.pending].flatMap((entry) => (entry?.kind === 'op' ? [entry.op] : []));
  }

  /**
   * Applies `op` to the local document at once and queues it, composed into the queued op
   * before it if that is the last submission. Throws (changing nothing) when the op is
   * malformed, does not apply or breaks the document's shape.
   */
  addOp(op: JSONOp): boolean {
    const malformed = checkOp(op);
    if (malformed) throw new TypeError(malformed);
    if (op === null) return false;
    const next = applyOp(this.document, op);
    const problem = validateDocument(next, this.document);
    if (problem) throw new TypeError(problem);
    this.document = next;
    const last = this.pending[this.pending.length - 1];
    if (last?.kind === 'op') {
      last.op = composeOps(last.op, op);
      if (last.op === null) this.pending.pop(); // they cancelled out
    } else {
      this.pending.push({ kind: 'op', op });
    }
    return true;
  }

  /** Queues an undo, redo or restore (not optimistic: its op arrives from the stream). */
  add(submission: Exclude<Submission, { kind: 'op' }>): void {
    this.pending.push(submission);
  }

  /** Puts the head of the queue in flight under the next seq (rule OP2); null when nothing waits. */
  takeNext(): InflightSubmission | null {
    const next = this.pending.shift();
    if (!next) return null;
    this.inflight = { ...next, seq: this.nextSeq++ };
    return this.inflight;
  }

  /**
   * Whether a committed op is the submission in flight: same (clientId, seq), and the same
   * request. Another live editor using this clientId (two tabs restoring one saved state) can
   * commit its own op under our seq just before ours is refused (rule OP2); taken for our ack,
   * it would drop our edit silently. An op in flight has been rebased over every version
   * before the committed one, as the server rebased it, so it equals what was committed.
   */
  isInflight(event: RemoteOp, clientId: string): boolean {
    const { inflight } = this;
    if (inflight === null || event.clientId !== clientId || event.seq !== inflight.seq) return false;
    if (event.kind === undefined) return true; // a transport that does not say: trust (clientId, seq)
    if (event.kind !== COMMITTED_AS[inflight.kind]) return false;
    return inflight.kind !== 'op' || jsonEqual(event.op, inflight.op);
  }

  /**
   * Applies a committed op to the server document. `mine` says it is the submission in
   * flight: an op of ours is already in the local document; the result of an undo, redo or
   * restore is not, so it applies like a remote op. Throws, changing nothing, when it does not
   * apply: then our document and the server's disagree.
   */
  applyCommitted(op: JSONOp, mine: boolean): void {
    if (mine && this.inflight!.kind === 'op') this.serverDocument = applyOp(this.serverDocument, op);
    else this.applyRemote(op);
  }

  // Rule OP3. Computes everything before assigning anything, so a throw leaves the state intact.
  private applyRemote(op: JSONOp): void {
    if (op === null) return;
    let theirs: JSONOp = op;
    const rebase = (mine: JSONOp): JSONOp => {
      const transformed = transformOp(mine, theirs, 'left');
      theirs = transformOp(theirs, mine, 'right');
      return transformed;
    };
    const nextServerDocument = applyOp(this.serverDocument, op);
    const inflightOp = this.inflight?.kind === 'op' ? rebase(this.inflight.op) : null;
    const pendingOps = this.pending.map((entry) => (entry.kind === 'op' ? rebase(entry.op) : null));
    const nextDocument = applyOp(this.document, theirs);

    this.serverDocument = nextServerDocument;
    this.document = nextDocument;
    if (this.inflight?.kind === 'op') this.inflight.op = inflightOp; // same object: a send in progress still owns it
    this.pending = this.pending.flatMap((entry, i): Submission[] => {
      if (entry.kind !== 'op') return [entry];
      return pendingOps[i] === null ? [] : [{ kind: 'op', op: pendingOps[i]! }];
    });
  }

  /**
   * Puts a refused submission back at the head of the queue without its seq (it is still
   * relative to the server document) and starts seqs over: for a fresh clientId (rule OP2).
   */
  requeue(sent: InflightSubmission): void {
    this.nextSeq = 1;
    this.inflight = null;
    const { seq: _seq, ...submission } = sent;
    this.pending.unshift(submission as Submission);
  }

  /**
   * Only called with nothing in flight: starts over from `serverDocument` and replays the
   * queued ops on it, dropping (and passing to `dropped`) those that no longer apply.
   */
  rebuild(serverDocument: DashboardDocument, dropped: (entry: Submission, error: unknown) => void): void {
    this.serverDocument = serverDocument;
    this.document = serverDocument;
    this.pending = this.pending.filter((entry) => {
      if (entry.kind !== 'op') return true;
      try {
        const next = applyOp(this.document, entry.op);
        const problem = validateDocument(next, this.document);
        if (problem) throw new Error(problem);
        this.document = next;
        return true;
      } catch (error) {
        dropped(entry, error);
        return false;
      }
    });
  }
}
