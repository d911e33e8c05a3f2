/**
 * Publishing committed ops (rules SUB1, SUB2): called only after their transaction
 * committed, in version order, to this instance's subscribers at once and to the bus for the
 * others. A failure to publish never undoes a commit: it is reported, and receivers fill the
 * gap from the database (SUB2).
 */
import type { DashboardMessage, EventBus } from '../ports/event-bus.js';
import type { OperationRow } from '../ports/operation-log.js';

export function createPublisher(deps: {
  bus: EventBus;
  onPublishError?: (error: unknown) => void;
  /**
   * Hands committed ops to this instance's own subscribers at once, so they never wait on
   * the bus (which may be down: SUB2); the bus still carries them to other instances.
   */
  deliverLocally?: (message: DashboardMessage) => void;
}): (committed: OperationRow[]) => Promise<void> {
  const { bus } = deps;
  return async function publishCommitted(committed: OperationRow[]) {
    if (committed.length === 0) return;
    const dashboardId = committed[0]!.dashboardId;
    const committedAt = Date.now();
    // Issued together: one connection keeps them in order, and a group commit does not pay a
    // round trip per op.
    const messages: DashboardMessage[] = committed.map((row) => ({
      type: 'op',
      dashboardId,
      version: row.version,
      op: row.op,
      clientId: row.clientId,
      seq: row.seq,
      authorId: row.authorId,
      createdAt: row.createdAt.toISOString(),
      kind: row.kind,
      refVersion: row.refVersion,
      undoGroup: row.undoGroup,
      committedAt,
    }));
    try {
      for (const message of messages) deps.deliverLocally?.(message);
    } catch (error) {
      deps.onPublishError?.(error); // committed all the same: other instances still get them
    }
    await Promise.all(
      messages.map((message) =>
        bus.publish(`dashboard:${dashboardId}`, message).catch((error) => deps.onPublishError?.(error)),
      ),
    );
  };
}
