import { useEffect, useState, useSyncExternalStore } from 'react';
import type { DashboardDocument } from '../../core/src/index.js';
import { openCollabSession, type CollabSession } from './collab-session.js';
import type { Connection } from './connection.js';

/** Opens the collaborative session for a dashboard once its snapshot is known. */
export function useCollab(options: {
  connection: Connection;
  dashboardId: string;
  userId: string;
  initial: { version: number; document: DashboardDocument } | null;
  readOnly: boolean;
  onError(message: string): void;
}): CollabSession | null {
  const [session, setSession] = useState<CollabSession | null>(null);
  const ready = options.initial !== null;
  useEffect(() => {
    if (!ready) return;
    const opened = openCollabSession({ ...options, initial: options.initial! });
    setSession(opened);
    return () => opened.close();
    // The snapshot only seeds the engine; later query refreshes must not reopen it.
  }, [ready, options.connection, options.dashboardId, options.userId, options.readOnly]);
  useSyncExternalStore(
    (listener) => session?.subscribe(listener) ?? (() => {}),
    () => session?.tick ?? -1,
  );
  return session;
}
