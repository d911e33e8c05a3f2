import { useEffect, useEffectEvent, useState, useSyncExternalStore } from 'react';
import type { DashboardDocument } from '@collab-dashboards/core';
import { openCollabSession, type CollabSession } from '../shared/collab-session.js';
import type { Connection } from '../shared/connection.js';
import { claimEngineSlot, type EngineSlot } from '../shared/engine-slots.js';

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
  // Reads the newest options when the session opens; the snapshot only seeds the engine, so
  // later query refreshes (and a new onError) must not reopen it.
  const open = useEffectEvent((slot: EngineSlot) => openCollabSession({ ...options, initial: options.initial!, slot }));
  useEffect(() => {
    if (!ready) return;
    let opened: CollabSession | null = null;
    let left = false;
    // Viewers keep nothing, so they claim nothing; editors claim the saved state of one tab.
    const claim = options.readOnly
      ? Promise.resolve({ key: null, release: () => {} })
      : claimEngineSlot(options.userId, options.dashboardId);
    void claim.then((slot) => {
      if (left) return slot.release();
      opened = open(slot);
      setSession(opened);
    });
    return () => {
      left = true;
      opened?.close();
      setSession(null);
    };
  }, [ready, options.connection, options.dashboardId, options.userId, options.readOnly]);
  useSyncExternalStore(
    (listener) => session?.subscribe(listener) ?? (() => {}),
    () => session?.tick ?? -1,
  );
  return session;
}
