import type { ConnectionStatus } from './collab-session.js';

const LABELS: Record<ConnectionStatus, string> = {
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

export function ConnectionBadge({ status, pending }: { status: ConnectionStatus; pending: number }) {
  return (
    <span className={`conn conn-${status}`} role="status" data-testid="connection-status" data-state={status}>
      <i aria-hidden="true" />
      {LABELS[status]}
      {pending > 0 && (
        <span className="pending" data-testid="pending-count" data-count={pending}>
          {' '}
          · {pending} pending {pending === 1 ? 'edit' : 'edits'}
        </span>
      )}
    </span>
  );
}
