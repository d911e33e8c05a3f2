/**
 * Presence (rules PR1, PR2): who is on a dashboard, where they point, what they selected.
 *
 * Subscribing to dashboardEvents joins; ending the subscription (or losing the socket)
 * leaves. This instance refreshes the entries of the clients it holds, marks them IDLE
 * after IDLE_AFTER without activity, and sweeps entries any crashed instance left behind.
 * Updates are coalesced per client: at most one broadcast per COALESCE_MS, latest wins.
 */
import { randomUUID } from 'node:crypto';
import {
  transformThrough,
  validateCursor,
  validateSelection,
  type JSONOp,
  type PresencePosition,
} from '@collab-dashboards/core';
import { DomainError, badInput, forbidden } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { DashboardMessage, EventBus, PresenceEntryMessage } from '../ports/event-bus.js';
import type { PresenceEntry, PresenceStore } from '../ports/presence-store.js';
import type { DashboardStore } from '../ports/dashboard-store.js';
import type { OperationLog } from '../ports/operation-log.js';
import type { DashboardService } from './dashboard-service.js';

/** About 30 broadcasts a second per client at most. */
export const COALESCE_MS = 33;
export const MAX_PRESENCE_BYTES = 4096;

export type PresenceStatus = 'ACTIVE' | 'IDLE';

export interface PresenceUpdate {
  dashboardId: string;
  clientId: string;
  cursor?: unknown;
  selection?: unknown;
  baseVersion?: number | null;
  status?: PresenceStatus | null;
}

export interface PresenceService {
  /** Joins the room for a new subscription; returns its session id. */
  join(input: { dashboardId: string; clientId: string; userId: string; version: number }): Promise<string>;
  /** Leaves, unless a newer subscription with the same clientId replaced the entry. */
  leave(dashboardId: string, clientId: string, sessionId: string): Promise<void>;
  update(userId: string, input: PresenceUpdate): Promise<void>;
  list(dashboardId: string): Promise<PresenceEntry[]>;
  /** Number of clients this instance holds (metrics). */
  localCount(): number;
  /** Stops timers; with `cleanup`, removes this instance's entries (graceful shutdown). */
  stop(options?: { cleanup: boolean }): Promise<void>;
}

interface Session {
  dashboardId: string;
  clientId: string;
  userId: string;
  /** null for a client updated through this instance but subscribed elsewhere. */
  sessionId: string | null;
  entry: PresenceEntry | null;
  lastActivity: number;
  lastFlush: number;
  pending: PresenceEntry | null;
  timer: NodeJS.Timeout | null;
  /** Arrival number of the newest update scheduled: an older one finishing later is dropped. */
  newest: number;
}

const toMessage = (e: PresenceEntry): PresenceEntryMessage => ({
  clientId: e.clientId,
  userId: e.userId,
  cursor: e.cursor,
  selection: e.selection,
  version: e.version,
  status: e.status,
  lastSeen: new Date(e.lastSeen).toISOString(),
});

const isTextPosition = (value: unknown) =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && 'widgetId' in (value as object);

export function createPresenceService(deps: {
  store: DashboardStore & Pick<OperationLog, 'listOperations' | 'claimClientId'>;
  presence: PresenceStore;
  bus: EventBus;
  clock: Clock;
  dashboards: DashboardService;
  ttlMs: number;
  idleAfterMs: number;
  /** How often idle checks and sweeps run (default: min(1 s, ttl / 3)). */
  tickMs?: number;
  onError?: (error: unknown, where: string) => void;
  metrics?: { update(): void };
}): PresenceService {
  const { store, presence, bus, clock } = deps;
  const sessions = new Map<string, Session>(); // `${dashboardId}|${clientId}` -> session
  const report = (error: unknown, where: string) => deps.onError?.(error, where);
  const now = () => clock.now().getTime();
  const key = (dashboardId: string, clientId: string) => `${dashboardId}|${clientId}`;
  let stopped = false;
  let arrivals = 0;

  const publish = (dashboardId: string, message: DashboardMessage) =>
    bus.publish(`dashboard:${dashboardId}`, message).catch((error) => report(error, 'publish'));

  async function write(entry: PresenceEntry) {
    await presence.upsert(entry);
    await publish(entry.dashboardId, { type: 'presence', dashboardId: entry.dashboardId, presence: toMessage(entry) });
  }

  async function flush(session: Session) {
    session.timer = null;
    const entry = session.pending;
    if (!entry || stopped) return;
    session.pending = null;
    session.lastFlush = now();
    session.entry = entry;
    try {
      await write(entry);
    } catch (error) {
      report(error, 'presence write');
    }
    if (session.sessionId === null && !session.pending) sessions.delete(key(session.dashboardId, session.clientId));
  }

  /** Latest wins: at most one write and broadcast per COALESCE_MS per client. */
  function schedule(session: Session, entry: PresenceEntry) {
    session.pending = entry;
    if (session.timer) return;
    const wait = session.lastFlush + COALESCE_MS - now();
    if (wait <= 0) void flush(session);
    else session.timer = setTimeout(() => void flush(session), wait);
  }

  /** Text positions refer to `baseVersion`: move them to the current version (PR2). */
  async function placeAt(dashboardId: string, base: number | null | undefined, cursor: unknown, selection: unknown) {
    const needsTransform = isTextPosition(cursor) || (isTextPosition(selection) && !Array.isArray(selection));
    if (base == null) {
      const current = (await store.getDashboard(dashboardId))?.version ?? 0;
      return { version: current, cursor, selection };
    }
    if (!Number.isSafeInteger(base) || base < 0) throw badInput('baseVersion must be a non-negative integer');
    if (!needsTransform) return { version: base, cursor, selection };
    const ops = await store.listOperations(dashboardId, base, 1000);
    if (ops.length === 0) {
      const current = (await store.getDashboard(dashboardId))?.version ?? 0;
      if (base > current) throw badInput(`baseVersion ${base} is ahead of the current version ${current}`);
      return { version: base, cursor, selection };
    }
    const list = ops.map((o) => o.op).filter((op): op is JSONOp => op !== null);
    return {
      version: ops[ops.length - 1]!.version,
      cursor: transformThrough(cursor as PresencePosition | null, list),
      selection: transformThrough(selection as PresencePosition | null, list),
    };
  }

  async function tick() {
    const t = now();
    // Idle after IDLE_AFTER without activity (another instance may have seen some: re-read first).
    for (const session of sessions.values()) {
      if (!session.sessionId || !session.entry || session.entry.status === 'IDLE') continue;
      if (t - session.lastActivity < deps.idleAfterMs) continue;
      const stored = (await presence.list(session.dashboardId, t)).find((e) => e.clientId === session.clientId);
      if (!stored || stored.sessionId !== session.sessionId) continue;
      if (t - stored.lastSeen < deps.idleAfterMs) {
        session.lastActivity = stored.lastSeen;
        continue;
      }
      schedule(session, { ...(session.pending ?? session.entry), status: 'IDLE', expiresAt: t + deps.ttlMs });
    }
    for (const gone of await presence.sweep(t)) {
      await publish(gone.dashboardId, {
        type: 'presence-left',
        dashboardId: gone.dashboardId,
        clientId: gone.clientId,
        userId: gone.userId,
      });
    }
  }

  async function refresh() {
    const mine = [...sessions.values()].filter((s) => s.sessionId !== null);
    if (mine.length === 0) return;
    await presence.refresh(
      mine.map((s) => ({ dashboardId: s.dashboardId, clientId: s.clientId, sessionId: s.sessionId! })),
      now() + deps.ttlMs,
    );
  }

  const tickMs = deps.tickMs ?? Math.max(10, Math.min(1000, deps.ttlMs / 3));
  let ticking = false;
  const tickTimer = setInterval(() => {
    if (ticking || stopped) return;
    ticking = true;
    tick()
      .catch((error) => report(error, 'presence tick'))
      .finally(() => (ticking = false));
  }, tickMs);
  tickTimer.unref();
  const refreshTimer = setInterval(
    () => {
      refresh().catch((error) => report(error, 'presence refresh'));
    },
    Math.max(10, deps.ttlMs / 3),
  );
  refreshTimer.unref();

  return {
    async join({ dashboardId, clientId, userId, version }) {
      const sessionId = randomUUID();
      const t = now();
      const entry: PresenceEntry = {
        dashboardId,
        clientId,
        userId,
        sessionId,
        cursor: null,
        selection: null,
        version,
        status: 'ACTIVE',
        lastSeen: t,
        expiresAt: t + deps.ttlMs,
      };
      const previous = sessions.get(key(dashboardId, clientId));
      if (previous?.timer) clearTimeout(previous.timer);
      sessions.set(key(dashboardId, clientId), {
        dashboardId,
        clientId,
        userId,
        sessionId,
        entry,
        lastActivity: t,
        lastFlush: t,
        pending: null,
        timer: null,
        newest: previous?.newest ?? 0,
      });
      await write(entry);
      return sessionId;
    },

    async leave(dashboardId, clientId, sessionId) {
      if (stopped) return;
      const k = key(dashboardId, clientId);
      const session = sessions.get(k);
      if (session?.sessionId === sessionId) {
        if (session.timer) clearTimeout(session.timer);
        sessions.delete(k);
      }
      const removed = await presence.remove(dashboardId, clientId, sessionId);
      if (removed) await publish(dashboardId, { type: 'presence-left', dashboardId, clientId, userId: removed.userId });
    },

    async update(userId, input) {
      // Updates of one client may finish their lookups out of order (a pool runs them in
      // parallel): the latest to arrive wins, not the latest to finish.
      const arrival = ++arrivals;
      const { dashboardId, clientId } = input;
      for (const [name, value] of [
        ['cursor', input.cursor],
        ['selection', input.selection],
      ] as const) {
        if (value !== undefined && Buffer.byteLength(JSON.stringify(value)) > MAX_PRESENCE_BYTES) {
          throw new DomainError('PAYLOAD_TOO_LARGE', `${name} is larger than ${MAX_PRESENCE_BYTES} bytes`);
        }
      }
      const cursorProblem = input.cursor === undefined ? null : validateCursor(input.cursor);
      if (cursorProblem) throw badInput(cursorProblem);
      const selectionProblem = input.selection === undefined ? null : validateSelection(input.selection);
      if (selectionProblem) throw badInput(selectionProblem);

      let session = sessions.get(key(dashboardId, clientId));
      if (session && session.userId !== userId) throw forbidden('This clientId belongs to another user');
      if (!session?.sessionId) {
        // Not subscribed through this instance: check membership and clientId ownership here.
        await deps.dashboards.authorize(userId, dashboardId, 'read');
        if ((await store.claimClientId(clientId, userId)) !== userId) {
          throw forbidden('This clientId belongs to another user');
        }
      }
      const t = now();
      const base =
        session?.pending ??
        session?.entry ??
        (await presence.list(dashboardId, t)).find((e) => e.clientId === clientId) ??
        null;
      const cursor = input.cursor === undefined ? (base?.cursor ?? null) : input.cursor;
      const selection = input.selection === undefined ? (base?.selection ?? null) : input.selection;
      const placed =
        input.cursor === undefined && input.selection === undefined && input.baseVersion == null && base
          ? { version: base.version, cursor, selection }
          : await placeAt(dashboardId, input.baseVersion, cursor, selection);
      if (!session) {
        session = {
          dashboardId,
          clientId,
          userId,
          sessionId: null,
          entry: base,
          lastActivity: t,
          lastFlush: 0,
          pending: null,
          timer: null,
          newest: 0,
        };
        sessions.set(key(dashboardId, clientId), session);
      }
      session.lastActivity = t;
      deps.metrics?.update();
      if (arrival < session.newest) return;
      session.newest = arrival;
      schedule(session, {
        dashboardId,
        clientId,
        userId,
        sessionId: session.sessionId ?? base?.sessionId ?? randomUUID(),
        cursor: placed.cursor,
        selection: placed.selection,
        version: placed.version,
        status: input.status ?? 'ACTIVE',
        lastSeen: t,
        expiresAt: t + deps.ttlMs,
      });
    },

    async list(dashboardId) {
      return presence.list(dashboardId, now());
    },

    localCount: () => [...sessions.values()].filter((s) => s.sessionId !== null).length,

    async stop(options = { cleanup: true }) {
      clearInterval(tickTimer);
      clearInterval(refreshTimer);
      for (const session of sessions.values()) if (session.timer) clearTimeout(session.timer);
      const held = [...sessions.values()].filter((s) => s.sessionId !== null);
      sessions.clear();
      if (options.cleanup) {
        for (const s of held) {
          const removed = await presence.remove(s.dashboardId, s.clientId, s.sessionId!).catch(() => null);
          if (removed)
            await publish(s.dashboardId, {
              type: 'presence-left',
              dashboardId: s.dashboardId,
              clientId: s.clientId,
              userId: s.userId,
            });
        }
      }
      stopped = true;
    },
  };
}
