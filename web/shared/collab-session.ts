/**
 * One open dashboard: the core sync engine over the client's socket, persisted in
 * localStorage after every change (clientId + serialize()) in the slot this tab claimed
 * (engine-slots.ts: one clientId is one live editor), plus the presence of others. Used by
 * both clients: the React editor, and the Vue viewer read-only.
 *
 * Presence and the other non-op events travel on the engine's own dashboardEvents stream:
 * the transport adds the DashboardEventFields fragment to its selection and hands every
 * event to the session, so one subscription both syncs the document and joins the presence
 * room (rule PR1).
 */
import { print } from 'graphql';
import type { Client as WsClient } from 'graphql-ws';
import {
  createGraphQLTransport,
  createSyncEngine,
  request,
  restoreSyncEngine,
  type DashboardDocument,
  type PresencePosition,
  type ServerErrorCode,
  type SyncEngine,
  type SyncErrorEvent,
  type TextCursor,
  type TextSelection,
} from '@collab-dashboards/core';
import {
  DashboardEventFieldsFragmentDoc,
  PresenceDocument,
  UpdatePresenceDocument,
  type DashboardEventFieldsFragment,
  type PresenceFieldsFragment,
} from './gql/graphql.js';
import type { Connection } from './connection.js';
import { throttle } from './throttle.js';
import { errorMessage } from './errors.js';
import { forgetState, loadSavedState, newClientId, saveState, type EngineSlot } from './engine-slots.js';
import { sendOrphanedEdits } from './orphan-slots.js';
import { keepUnsavedWork, unsavedTexts, type RevokeReason, type UnsavedWork } from './unsaved-work.js';

export type Presence = Omit<PresenceFieldsFragment, ' $fragmentName'>;
export type ConnectionStatus = 'connected' | 'reconnecting' | 'offline';
type DashboardEvent = DashboardEventFieldsFragment;

export interface LocalPresence {
  cursor: unknown;
  /** The selected widgets (a list of ids). */
  selection: unknown;
  /** A text range selected in a note: sent instead of `selection` while there is one. */
  textSelection: TextSelection | null;
}

/** Access to the dashboard ended while it was open here (rule AU1: AccessRevoked, then NOT_FOUND). */
export interface AccessEnded {
  /** AccessRevoked.reason when the stream delivered it; null when the client only met NOT_FOUND. */
  readonly reason: RevokeReason | null;
  /** The edits the server never acknowledged, or null when none were waiting. */
  readonly unsaved: UnsavedWork | null;
}

export interface CollabSession {
  readonly engine: SyncEngine;
  /** This tab's identity (it changes only if the server finds another editor using it). */
  readonly clientId: string;
  readonly status: ConnectionStatus;
  /** clientId -> presence of everyone else. */
  readonly presence: ReadonlyMap<string, Presence>;
  /** Set when the dashboard can no longer be edited here (access revoked, ...). */
  readonly fatal: string | null;
  /** Set once this user's access to the dashboard has ended; the session then stops. */
  readonly accessEnded: AccessEnded | null;
  /**
   * Access ended, as learned elsewhere (the dashboard query answered null): stops the session
   * and keeps its unsaved edits aside (unsaved-work.ts). Does nothing the second time.
   */
  endAccess(reason: RevokeReason | null): void;
  /** Increments on every change, for useSyncExternalStore. */
  readonly tick: number;
  subscribe(listener: () => void): () => void;
  setCursor(cursor: unknown): void;
  setSelection(selection: unknown): void;
  /**
   * The caret and selected range in a note (null, null when it loses focus). One update, so
   * cursor and selection go out together; throttled like every presence update.
   */
  setTextPresence(cursor: TextCursor | null, selection: TextSelection | null): void;
  /** A remote position placed on the local document (null when it cannot be). */
  place<T extends PresencePosition>(position: T | null, version: number): T | null;
  /** Restores `version` as this tab's own undoable change (rule UN1). */
  restore(version: number): void;
  onEvent(listener: (event: DashboardEvent) => void): () => void;
  close(): void;
}

export function openCollabSession(options: {
  connection: Connection;
  dashboardId: string;
  userId: string;
  initial: { version: number; document: DashboardDocument };
  /**
   * Where this tab keeps its state (claimEngineSlot); the session releases it on close.
   * Without one (viewers), nothing is kept.
   */
  slot?: EngineSlot;
  /** Viewers never persist or submit. */
  readOnly?: boolean;
  onError?: (message: string) => void;
}): CollabSession {
  const { connection, dashboardId, userId, initial } = options;
  const slot = options.slot ?? { key: null, release: () => {} };
  const ws: WsClient = connection.ws;
  const key = options.readOnly ? null : slot.key;
  const listeners = new Set<() => void>();
  const eventListeners = new Set<(event: DashboardEvent) => void>();
  const presence = new Map<string, Presence>();
  let tick = 0;
  let fatal: string | null = null;
  let accessEnded: { reason: RevokeReason | null; unsaved: UnsavedWork | null } | null = null;
  let closed = false;
  const local: LocalPresence = { cursor: null, selection: [], textSelection: null };
  const emit = () => {
    tick++;
    listeners.forEach((l) => l());
  };

  const saved = key ? loadSavedState(key) : null;
  const onError = (event: SyncErrorEvent) => {
    const code = event.code as ServerErrorCode | undefined;
    // The dashboard is gone for this user (removed, expired, deleted: AccessRevoked, then
    // NOT_FOUND). A submission refused for it is still in the local document at this point.
    if (code === 'NOT_FOUND') {
      endAccess(null, event.dropped ? 1 : 0);
      return;
    }
    // The stream was refused for good (STREAM_FATAL).
    if (code === 'FORBIDDEN' && !event.willRetry && !event.dropped) {
      fatal = errorMessage(event.error);
      emit();
      return;
    }
    if (event.newClientId) {
      // Another editor was using this tab's identity; the engine moved to a new one and
      // resends everything: worth knowing, nothing lost.
      options.onError?.('This tab shared its identity with another editor; it took a new one and resent its edits.');
      return;
    }
    if (!event.willRetry) options.onError?.(errorMessage(event.error));
  };
  const transport = createGraphQLTransport<DashboardEvent>({
    client: ws,
    dashboardId,
    extraSelection: '...DashboardEventFields',
    fragments: print(DashboardEventFieldsFragmentDoc),
    onEvent: handleEvent,
  });
  let engine: SyncEngine | null = null;
  if (saved) {
    try {
      engine = restoreSyncEngine(saved, { transport, onError, newClientId: () => newClientId() });
    } catch {
      engine = null; // an unusable saved state: start over from the server
    }
  }
  engine ??= createSyncEngine({
    transport,
    clientId: newClientId(),
    initial,
    onError,
    newClientId: () => newClientId(),
  });
  const theEngine = engine;

  // Once access ended the slot is forgotten (endAccess): nothing may write it back.
  const persist = () => {
    if (key && !accessEnded) saveState(key, theEngine.serialize());
  };

  /**
   * Access ended: stop for good, and move the unacknowledged edits out of this tab's slot
   * (so no reload, tab or re-invitation replays them unseen) into a record that is only shown,
   * until the user discards it (unsaved-work.ts says why). `dropped`: a refused submission
   * the engine already took out of its queue but not yet out of its document.
   */
  function endAccess(reason: RevokeReason | null, dropped = 0): void {
    if (accessEnded) {
      if (reason && !accessEnded.reason) {
        accessEnded = { ...accessEnded, reason };
        if (accessEnded.unsaved) accessEnded.unsaved.reason = reason;
        emit();
      }
      return;
    }
    const eng = engine!; // errors only come once the engine runs
    const count = eng.pendingCount + dropped;
    const unsaved: UnsavedWork | null =
      count > 0 && !options.readOnly
        ? {
            dashboardId,
            title: eng.document.title,
            reason,
            endedAt: Date.now(),
            count,
            texts: unsavedTexts(eng.serialize().serverDocument, eng.document),
            document: eng.document,
          }
        : null;
    accessEnded = { reason, unsaved };
    fatal = errorMessage({ code: 'NOT_FOUND' });
    // Kept aside first, then taken out of the slot: a crash in between keeps both, never none.
    if (unsaved) keepUnsavedWork(userId, unsaved);
    if (key) forgetState(key);
    window.removeEventListener('online', goOnline);
    eng.disconnect();
    emit();
  }
  persist();
  // Nothing kept for this tab (no slot): a reload would drop unsent edits, so ask first.
  const beforeUnload = (event: BeforeUnloadEvent) => {
    if (key || options.readOnly || theEngine.pendingCount === 0) return;
    event.preventDefault();
    event.returnValue = '';
  };
  window.addEventListener('beforeunload', beforeUnload);
  // Other tabs' unsent edits left behind in slots nobody holds (editors only).
  const orphans = options.readOnly
    ? null
    : sendOrphanedEdits({ client: ws, userId, dashboardId, ownKey: key, onError: (m) => options.onError?.(m) });

  function handleEvent(event: DashboardEvent): void {
    switch (event.__typename) {
      case 'PresenceUpdated': {
        const p = event.presence as unknown as Presence;
        if (p.clientId !== theEngine.clientId) presence.set(p.clientId, p);
        break;
      }
      case 'PresenceLeft':
        presence.delete(event.clientId);
        break;
      case 'SyncCompleted':
        void loadPresence();
        break;
      case 'AccessRevoked':
        // The engine has already stopped on it (as NOT_FOUND); this says why.
        endAccess(event.reason);
        break;
    }
    eventListeners.forEach((l) => l(event));
    if (event.__typename !== 'OperationApplied') emit();
  }

  async function loadPresence(): Promise<void> {
    try {
      const data = await request<{ dashboard: { presence: Presence[] } | null }>(ws, print(PresenceDocument), {
        id: dashboardId,
      });
      presence.clear();
      for (const p of data.dashboard?.presence ?? []) {
        if (p.clientId !== theEngine.clientId) presence.set(p.clientId, p);
      }
      emit();
      sendPresence();
    } catch {
      // Presence is best effort; the stream keeps it current.
    }
  }

  const sendPresence = throttle(() => {
    if (closed || theEngine.state !== 'connected') return;
    request(ws, print(UpdatePresenceDocument), {
      dashboardId,
      clientId: theEngine.clientId,
      cursor: local.cursor,
      selection: local.textSelection ?? local.selection,
      baseVersion: theEngine.version,
    }).catch(() => {});
  }, 33);

  const unsubscribeEngine = theEngine.subscribe(() => {
    persist();
    emit();
  });
  const unsubscribeSocket = connection.onSocket(() => emit());

  const goOffline = () => {
    theEngine.disconnect();
    ws.terminate();
  };
  const goOnline = () => theEngine.connect();
  window.addEventListener('offline', goOffline);
  window.addEventListener('online', goOnline);
  if (navigator.onLine) theEngine.connect();

  return {
    engine: theEngine,
    get clientId() {
      return theEngine.clientId;
    },
    get status(): ConnectionStatus {
      if (!navigator.onLine || theEngine.state === 'offline') return 'offline';
      if (theEngine.state === 'connected' && connection.socketState === 'open') return 'connected';
      return 'reconnecting';
    },
    presence,
    get fatal() {
      return fatal;
    },
    get accessEnded() {
      return accessEnded;
    },
    endAccess(reason) {
      endAccess(reason);
    },
    get tick() {
      return tick;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setCursor(cursor) {
      local.cursor = cursor;
      sendPresence();
    },
    setSelection(selection) {
      local.selection = selection;
      sendPresence();
    },
    setTextPresence(cursor, selection) {
      local.cursor = cursor;
      local.textSelection = selection;
      sendPresence();
    },
    place(position, version) {
      return theEngine.transformPresence(position, version);
    },
    restore(version) {
      theEngine.restore(version);
    },
    onEvent(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    close() {
      closed = true;
      sendPresence.cancel();
      window.removeEventListener('offline', goOffline);
      window.removeEventListener('online', goOnline);
      window.removeEventListener('beforeunload', beforeUnload);
      unsubscribeEngine();
      unsubscribeSocket();
      theEngine.disconnect();
      persist();
      orphans?.stop();
      slot.release();
    },
  };
}
