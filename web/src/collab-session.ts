/**
 * One open dashboard: the core sync engine over the shared socket, persisted in
 * localStorage after every change (clientId + serialize()), plus the presence of others.
 *
 * Presence and the other non-op events travel on the engine's own dashboardEvents stream:
 * the socket handed to the transport swaps the transport's subscription for the generated
 * DashboardEvents document (a superset of it) and taps its events, so one subscription
 * both syncs the document and joins the presence room (rule PR1).
 */
import { print } from 'graphql';
import type { Client as WsClient } from 'graphql-ws';
import {
  createGraphQLTransport,
  createSyncEngine,
  request,
  restoreSyncEngine,
  type DashboardDocument,
  type GraphQLSubscriber,
  type PresencePosition,
  type SyncEngine,
  type SyncEngineState,
  type SyncErrorEvent,
  type TextCursor,
  type TextSelection,
} from '../../core/src/index.js';
import {
  DashboardEventsDocument,
  PresenceDocument,
  RestoreVersionDocument,
  UpdatePresenceDocument,
  type DashboardEventsSubscription,
  type PresenceFieldsFragment,
} from './gql/graphql.js';
import type { Connection } from './connection.js';
import { throttle } from './throttle.js';
import { errorMessage } from './errors.js';

export type Presence = Omit<PresenceFieldsFragment, ' $fragmentName'>;
export type ConnectionStatus = 'connected' | 'reconnecting' | 'offline';
type DashboardEvent = DashboardEventsSubscription['dashboardEvents'];

export interface LocalPresence {
  cursor: unknown;
  /** The selected widgets (a list of ids). */
  selection: unknown;
  /** A text range selected in a note: sent instead of `selection` while there is one. */
  textSelection: TextSelection | null;
}

export interface CollabSession {
  readonly engine: SyncEngine;
  readonly clientId: string;
  readonly status: ConnectionStatus;
  /** clientId -> presence of everyone else. */
  readonly presence: ReadonlyMap<string, Presence>;
  /** Set when the dashboard can no longer be edited here (access revoked, ...). */
  readonly fatal: string | null;
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
  restore(version: number): Promise<void>;
  onEvent(listener: (event: DashboardEvent) => void): () => void;
  close(): void;
}

const RESTORE_PREFIX = 'r-';

export function engineStorageKey(userId: string, dashboardId: string): string {
  return `collab.engine.${userId}.${dashboardId}`;
}

export function newClientId(prefix = 'c-'): string {
  return prefix + globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 20);
}

export function openCollabSession(options: {
  connection: Connection;
  dashboardId: string;
  userId: string;
  initial: { version: number; document: DashboardDocument };
  /** Viewers never persist or submit. */
  readOnly?: boolean;
  onError?: (message: string) => void;
}): CollabSession {
  const { connection, dashboardId, userId, initial } = options;
  const ws: WsClient = connection.ws;
  const key = engineStorageKey(userId, dashboardId);
  const listeners = new Set<() => void>();
  const eventListeners = new Set<(event: DashboardEvent) => void>();
  const presence = new Map<string, Presence>();
  let tick = 0;
  let fatal: string | null = null;
  let closed = false;
  const local: LocalPresence = { cursor: null, selection: [], textSelection: null };
  const emit = () => {
    tick++;
    listeners.forEach((l) => l());
  };

  const tapped: GraphQLSubscriber = {
    subscribe(payload, sink) {
      if (!payload.query.trimStart().startsWith('subscription')) return ws.subscribe(payload, sink);
      const v = (payload.variables ?? {}) as Record<string, unknown>;
      return ws.subscribe(
        {
          query: print(DashboardEventsDocument),
          variables: {
            dashboardId: v.d ?? v.dashboardId,
            clientId: v.c ?? v.clientId,
            fromVersion: v.f ?? v.fromVersion,
          },
        },
        {
          next(result) {
            const event = (result.data as DashboardEventsSubscription | undefined)?.dashboardEvents;
            sink.next(result as never);
            if (event) handleEvent(event);
          },
          error: (error) => sink.error(error),
          complete: () => sink.complete(),
        },
      );
    },
  };

  const saved = options.readOnly ? null : loadSaved(key);
  const onError = (event: SyncErrorEvent) => {
    if (event.code === 'NOT_FOUND' || (event.code === 'FORBIDDEN' && !event.willRetry && !event.dropped)) {
      fatal = errorMessage(event.error);
      emit();
      return;
    }
    if (!event.willRetry) options.onError?.(errorMessage(event.error));
  };
  let engine: SyncEngine | null = null;
  if (saved) {
    try {
      const transport = createGraphQLTransport({ client: tapped, dashboardId, clientId: saved.clientId });
      engine = restoreSyncEngine(saved, { transport, onError });
    } catch {
      engine = null; // an unusable saved state: start over from the server
    }
  }
  if (!engine) {
    const clientId = newClientId();
    const transport = createGraphQLTransport({ client: tapped, dashboardId, clientId });
    engine = createSyncEngine({ transport, clientId, initial, onError });
  }
  const theEngine = engine;
  const clientId = theEngine.clientId;

  const persist = () => {
    if (options.readOnly) return;
    try {
      localStorage.setItem(key, JSON.stringify(theEngine.serialize()));
    } catch {
      // Storage full or disabled: the session still works, it just will not survive a reload.
    }
  };
  persist();

  function handleEvent(event: DashboardEvent): void {
    switch (event.__typename) {
      case 'PresenceUpdated': {
        const p = event.presence as unknown as Presence;
        if (p.clientId !== clientId) presence.set(p.clientId, p);
        break;
      }
      case 'PresenceLeft':
        presence.delete(event.clientId);
        break;
      case 'SyncCompleted':
        void loadPresence();
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
      for (const p of data.dashboard?.presence ?? []) if (p.clientId !== clientId) presence.set(p.clientId, p);
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
      clientId,
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
    clientId,
    get status(): ConnectionStatus {
      if (!navigator.onLine || theEngine.state === 'offline') return 'offline';
      if (theEngine.state === 'connected' && connection.socketState === 'open') return 'connected';
      return 'reconnecting';
    },
    presence,
    get fatal() {
      return fatal;
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
    async restore(version) {
      // The engine keeps its seq counter private, so a restore gets its own clientId (seq 1).
      await request(ws, print(RestoreVersionDocument), {
        dashboardId,
        version,
        clientId: newClientId(RESTORE_PREFIX),
        seq: 1,
      });
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
      unsubscribeEngine();
      unsubscribeSocket();
      theEngine.disconnect();
      persist();
    },
  };
}

function loadSaved(key: string): SyncEngineState | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as SyncEngineState) : null;
  } catch {
    return null;
  }
}
