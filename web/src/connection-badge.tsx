import { useEffect, useState } from 'react';
import type { ConnectionStatus } from '../shared/collab-session.js';

const LABELS: Record<ConnectionStatus, string> = {
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

/**
 * Edits still unacknowledged this long while connected are a problem, not a detail: the
 * server is refusing or not answering, and the user must know before closing the tab.
 */
export const STUCK_AFTER_MS = 5_000;

export function ConnectionBadge({
  status,
  pending,
  unsyncedSince,
}: {
  status: ConnectionStatus;
  pending: number;
  /** Since when (ms) the pending edits have waited without progress (SyncEngine.unsyncedSince). */
  unsyncedSince: number | null;
}) {
  const now = useNow(pending > 0 && status === 'connected' && unsyncedSince !== null);
  const waited = unsyncedSince === null ? 0 : now - unsyncedSince;
  const stuck = status === 'connected' && pending > 0 && waited >= STUCK_AFTER_MS;
  if (stuck) {
    return (
      <span
        className="conn conn-stuck"
        role="alert"
        data-testid="connection-status"
        data-state="stuck"
        title="The server has not confirmed these edits. They are kept in this tab and sent again: keep it open."
      >
        <i aria-hidden="true" />
        {pending} {pending === 1 ? 'edit' : 'edits'} not saved for {Math.round(waited / 1000)} s
        <span className="pending" data-testid="pending-count" data-count={pending} hidden />
      </span>
    );
  }
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

/** The time, ticking every second while `active`. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}
