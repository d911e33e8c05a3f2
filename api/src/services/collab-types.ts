/**
 * What the collaboration engine's pieces pass one another: a submission as queued (OP1, OP2,
 * UN1, LY2), its ack (OP1, OP1a, OP2) and the metrics hook. The modules: collab-engine.ts (the
 * public API), collab-scheduler.ts (queues and group transactions), commit/ (deciding one
 * dashboard's batch), collab-recent.ts, collab-publish.ts, collab-history.ts (reads).
 */
import type { JSONOp } from '@collab-dashboards/core';

export interface OperationAck {
  version: number;
  op: JSONOp | null;
  duplicate: boolean;
}

export interface EngineMetrics {
  /** One call per committed op: seconds from its arrival to its commit. */
  committed(seconds: number): void;
  conflicts(count: number): void;
}

export type Submission =
  | {
      kind: 'edit';
      clientId: string;
      seq: number;
      authorId: string;
      baseVersion: number;
      op: JSONOp;
      /** Its JSON size, measured once when it arrived. */
      bytes: number;
    }
  | { kind: 'undo' | 'redo'; clientId: string; seq: number; authorId: string }
  | { kind: 'restore'; clientId: string; seq: number; authorId: string; version: number; target: unknown }
  | { kind: 'rename'; clientId: string; seq: number; authorId: string; title: string }
  /** Rule LY2: the server's own fix-up when a batch left widgets overlapping. */
  | { kind: 'layout'; clientId: string; seq: number; authorId: string };

/** A queued submission and the caller waiting for its ack. */
export interface Pending {
  submission: Submission;
  /** Its size for the group's byte budget. */
  bytes: number;
  /** performance.now() when it arrived, for dash_op_commit_seconds. */
  arrivedAt: number;
  resolve(ack: OperationAck | null): void;
  reject(error: unknown): void;
}
