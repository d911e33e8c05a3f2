/**
 * Rule OP2 (as amended in api/SPEC.md): a resubmitted `(clientId, seq)` is a duplicate, acked
 * with the original ack, only when it asks for what was committed under it; anything else is
 * a second live editor sharing the clientId, refused with CLIENT_SEQ_REUSED.
 */
import { SEQ_REUSED, jsonEqual } from '@collab-dashboards/core';
import { DomainError } from '../../errors.js';
import { rebase, type HistoryOp } from '../../domain/commit.js';
import type { OperationRow } from '../../ports/operation-log.js';
import type { Submission } from '../collab-types.js';
import { later, submissionKey, type Batch } from './batch.js';

/** What was committed under `(clientId, seq)`, in this batch first, then before it. */
export function existing(b: Batch, clientId: string, seq: number): OperationRow | undefined {
  return (
    b.rows.find((r) => r.clientId === clientId && r.seq === seq) ?? b.committedBefore.get(submissionKey(clientId, seq))
  );
}

/**
 * Whether a resubmitted `(clientId, seq)` asks for what was committed under it. An edit
 * matches when its op, transformed from its base to the version before the committed one,
 * is the committed op (a client that rebased its op over what it received since, as the
 * sync engine does, resends exactly that). Anything else is a second live editor sharing
 * the clientId (two tabs restoring one saved state), never a duplicate.
 */
export async function sameSubmission(b: Batch, s: Submission, committed: OperationRow): Promise<boolean> {
  if (s.kind === 'rename') return committed.kind === 'rename';
  if (s.kind !== committed.kind) return false;
  if (s.kind === 'restore') return committed.refVersion === s.version;
  if (s.kind !== 'edit') return true;
  if (s.baseVersion >= committed.version) return false;
  try {
    const between = (await later(b, s.baseVersion)).filter((r) => r.version < committed.version);
    return jsonEqual(rebase(s.op, between as HistoryOp[]).op, committed.op);
  } catch {
    return false; // it does not even transform: not the op that was committed
  }
}

/** The refusal of a `(clientId, seq)` already used for something else. */
export function seqReused(s: Submission, dup: OperationRow): DomainError {
  // `reason` lets a client tell this from other bad input: its identity is shared by
  // another live editor, so it takes a new clientId and resends (core's sync engine).
  return new DomainError(
    'BAD_USER_INPUT',
    `(clientId ${s.clientId}, seq ${s.seq}) was already used for a different ${dup.kind} at version ` +
      `${dup.version}: a clientId belongs to one live editor (one tab, one process), and seqs never repeat`,
    { reason: SEQ_REUSED },
  );
}
