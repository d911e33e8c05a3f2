/**
 * Undo bookkeeping on the client (rules UN1 and UN2): the server keeps each clientId's undo
 * and redo stacks; the engine follows them from its own committed ops, so it can tell
 * whether undo and redo have anything to take back before asking the server.
 *
 * - UN1: an edit or restore pushes an undo step and empties redo; an undo pops a step and
 *   makes one redoable; a redo takes one back and pushes its step again. An absorbed (null)
 *   op changes no stack but the one it came from.
 * - UN2: one step is one undoGroup (a typing run), however many ops it holds.
 */
import type { Submission } from './sync-queue.js';
import type { RemoteOp } from './sync-transport.js';

/** Undo steps (their undoGroup, oldest first) and the number of undos redo can take back. */
export interface UndoStacks {
  steps: number[];
  redo: number;
}

// Steps kept: enough for anyone's patience, bounded for what is persisted.
const MAX_STEPS = 1000;

export class UndoTracker {
  private readonly steps: number[]; // undoGroup of each step, oldest first
  private redoable: number;

  constructor(restored?: UndoStacks) {
    this.steps = [...(restored?.steps ?? [])];
    this.redoable = restored?.redo ?? 0;
  }

  /** Follows one of this client's own committed ops. */
  noteOwn(event: RemoteOp): void {
    const kind = event.kind ?? 'EDIT';
    const step = event.undoGroup ?? event.version;
    if (kind === 'EDIT' || kind === 'RESTORE') {
      if (event.op !== null && this.steps[this.steps.length - 1] !== step) this.steps.push(step);
      this.redoable = 0;
    } else if (kind === 'UNDO') {
      this.steps.pop();
      if (event.op !== null) this.redoable++; // an absorbed undo enters no redo stack
    } else if (kind === 'REDO') {
      this.redoable = Math.max(0, this.redoable - 1);
      if (event.op !== null) this.steps.push(step);
    }
    if (this.steps.length > MAX_STEPS) this.steps.splice(0, this.steps.length - MAX_STEPS);
  }

  /** The server had nothing to undo (or redo): its stack is empty. */
  nothingLeft(kind: 'undo' | 'redo'): void {
    if (kind === 'undo') this.steps.length = 0;
    else this.redoable = 0;
  }

  /** A fresh clientId starts with empty stacks on the server. */
  clear(): void {
    this.steps.length = 0;
    this.redoable = 0;
  }

  /** Whether undo has something to take back, counting the unacknowledged submissions. */
  canUndo(queued: (kind: Submission['kind']) => number): boolean {
    const unsent = queued('op') + queued('restore'); // each becomes a step
    return this.steps.length + unsent + queued('redo') > queued('undo');
  }

  /** Whether redo has an undo to take back: none while an edit or restore waits (it would empty redo). */
  canRedo(queued: (kind: Submission['kind']) => number): boolean {
    return queued('op') + queued('restore') === 0 && this.redoable + queued('undo') > queued('redo');
  }

  snapshot(): UndoStacks {
    return { steps: [...this.steps], redo: this.redoable };
  }
}
