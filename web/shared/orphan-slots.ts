/**
 * Saved states of a dashboard that no tab holds but that still keep unsent edits (a tab
 * closed while offline): each is sent by an engine of its own, under its own clientId, then
 * forgotten (rule OP2). Without this, such edits would wait for a second tab forever.
 */
import {
  createGraphQLTransport,
  restoreSyncEngine,
  type GraphQLSubscriber,
  type SyncEngine,
} from '@collab-dashboards/core';
import { claimOrphanSlots, forgetState, loadSavedState, newClientId, saveState } from './engine-slots.js';
import { errorMessage } from './errors.js';

/**
 * How often an open dashboard looks for orphaned slots: a tab closed with unsent edits while
 * this one stays open is picked up within it, and a slot its reloading tab had not yet let
 * go of at open is not missed.
 */
const ORPHAN_SCAN_MS = 15_000;

export interface OrphanSender {
  /** Stops scanning and every engine still sending (their slots keep what is unsent). */
  stop(): void;
}

/** Scans for orphaned slots now and every ORPHAN_SCAN_MS, and sends what each still keeps. */
export function sendOrphanedEdits(options: {
  client: GraphQLSubscriber;
  userId: string;
  dashboardId: string;
  /** This tab's own slot, which is never an orphan. */
  ownKey: string | null;
  /** An edit of an orphaned slot the server refused for good. */
  onError(message: string): void;
}): OrphanSender {
  const { client, userId, dashboardId } = options;
  let stopped = false;
  // stops of the engines sending orphaned slots' edits
  const senders: Array<() => void> = [];

  const hasWork = (key: string) => {
    if (key === options.ownKey) return false;
    const state = loadSavedState(key);
    return state !== null && (state.inflight !== null || state.pending.length > 0);
  };

  function send(key: string, release: () => void): void {
    // A slot this tab is already sending holds its lock, so it is never claimed twice.
    const state = stopped ? null : loadSavedState(key);
    if (!state) return release();
    let flusher: SyncEngine;
    try {
      flusher = restoreSyncEngine(state, {
        transport: createGraphQLTransport({ client, dashboardId }),
        newClientId: () => newClientId(),
        onError: (event) => {
          if (!event.willRetry && event.dropped) options.onError(errorMessage(event.error));
        },
      });
    } catch {
      forgetState(key); // it no longer applies to anything
      return release();
    }
    const stop = () => {
      unsubscribe();
      flusher.disconnect();
      release();
    };
    const unsubscribe = flusher.subscribe(() => {
      if (flusher.pendingCount > 0 && flusher.state !== 'offline') return saveState(key, flusher.serialize());
      if (flusher.pendingCount > 0) {
        // Only a refusal for good stops an engine we did not stop (the dashboard is gone, or
        // this user's access to it): these edits can never be sent. Say so, then let go.
        options.onError(
          `${flusher.pendingCount} unsent edit(s) from a closed tab could not be saved: this dashboard is no longer available to you.`,
        );
      }
      forgetState(key); // sent, or never sendable
      stop();
    });
    senders.push(stop);
    flusher.connect();
  }

  const scan = () =>
    void claimOrphanSlots(userId, dashboardId, hasWork).then((slots) => {
      for (const orphan of slots) send(orphan.key!, orphan.release);
    });
  const timer = setInterval(scan, ORPHAN_SCAN_MS);
  scan();

  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      senders.forEach((stop) => stop());
    },
  };
}
