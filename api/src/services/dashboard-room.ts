/**
 * Dashboard rooms (rules SUB1, SUB2, AU1).
 *
 * One room per dashboard per instance holds one bus subscription, whatever the number of
 * local subscribers. A room delivers ops in version order without gaps: a version jump is
 * filled from the database, and after a bus reconnect (or when the periodic re-check finds
 * the database ahead) the room re-reads what it may have missed. It caches its users' roles,
 * re-read when collaborators change, so every delivery can check access (AU1).
 */
import type { Role } from '../domain/permissions.js';
import type { DashboardMessage, EventBus } from '../ports/event-bus.js';
import type { DashboardStore } from '../ports/dashboard-store.js';
import type { OperationLog } from '../ports/operation-log.js';
import { fromMessage, fromRow, PAGE, type RoomEvent } from './dashboard-events.js';
import type { ReportError } from './delivery.js';
import { DomainError } from '../errors.js';

/** A room's subscriber (services/delivery.ts Subscriber). */
export interface Listener {
  userId: string;
  deliver(event: RoomEvent): void;
}

export interface Room {
  dashboardId: string;
  version: number;
  listeners: Set<Listener>;
  /** userId -> role, re-read when collaborators change; null = no longer a member. */
  roles: Map<string, Role | null>;
  chain: Promise<void>;
  /** The bus subscription; resolves once Redis confirmed it (it may wait out an outage). */
  subscription: Promise<(() => Promise<void>) | null>;
  closing: Promise<void> | null;
}

export interface DashboardRooms {
  /** Adds `listener` (with the role checked at subscribe) to the dashboard's room, opening it. */
  join(dashboardId: string, listener: Listener, role: Role): Promise<Room>;
  /** Removes `listener`; the last one closes the room. */
  leave(room: Room, listener: Listener): void;
  /** Runs `task` on the room's chain, after everything queued before it. */
  enqueue(room: Room, task: () => Promise<void>): void;
  /** The open room of a dashboard on this instance. */
  get(dashboardId: string): Room | undefined;
  count(): number;
  listenerCount(): number;
  /** A message committed on this instance, delivered to its room without the bus. */
  deliverLocally(message: DashboardMessage): void;
  stop(): Promise<void>;
}

export function createDashboardRooms(deps: {
  store: DashboardStore & Pick<OperationLog, 'listOperations'>;
  bus: EventBus;
  /** How often (ms) rooms compare their version with the database (SUB2). 0 = never. */
  recheckIntervalMs?: number;
  report: ReportError;
}): DashboardRooms {
  const { store, bus, report } = deps;
  const rooms = new Map<string, Room>(); // dashboardId -> room

  // Messages may have been lost while the bus was down: ops and revocations alike.
  const stopReconnect = bus.onReconnect(() => {
    for (const room of rooms.values()) {
      enqueue(room, async () => {
        await refreshRoles(room);
        await catchUpRoom(room);
      });
    }
  });

  // One query for all rooms of this instance, however many there are.
  let rechecking = false;
  const recheckTimer =
    deps.recheckIntervalMs && deps.recheckIntervalMs > 0
      ? setInterval(async () => {
          if (rechecking || rooms.size === 0) return;
          rechecking = true;
          try {
            const versions = await store.dashboardVersions([...rooms.keys()]);
            for (const room of rooms.values()) {
              const version = versions.get(room.dashboardId);
              // Re-read roles too: a lost revocation must not leave a removed member listening.
              enqueue(room, async () => {
                await refreshRoles(room, version === undefined);
                if ((version ?? 0) > room.version) await catchUpRoom(room);
              });
            }
          } catch (error) {
            report(error, 'recheck');
          } finally {
            rechecking = false;
          }
        }, deps.recheckIntervalMs)
      : undefined;
  recheckTimer?.unref();

  function enqueue(room: Room, task: () => Promise<void>) {
    room.chain = room.chain.then(task).catch((error) => report(error, 'room'));
  }

  function broadcast(room: Room, event: RoomEvent) {
    for (const listener of room.listeners) listener.deliver(event);
  }

  /** Delivers every committed op after the room's version, from the database. */
  async function catchUpRoom(room: Room, upTo = Number.MAX_SAFE_INTEGER) {
    while (room.version < upTo) {
      const rows = await store.listOperations(room.dashboardId, room.version, Math.min(PAGE, upTo - room.version));
      if (rows.length === 0) return;
      for (const row of rows) {
        room.version = row.version;
        broadcast(room, fromRow(row));
      }
    }
  }

  /**
   * Re-reads the roles of the room's users. Whoever lost access gets AccessRevoked, even
   * when the bus lost the revocation message (SUB2).
   */
  async function refreshRoles(room: Room, deleted = false) {
    const users = new Set([...room.listeners].map((l) => l.userId));
    if (users.size === 0) return;
    const roles = deleted
      ? new Map()
      : new Map((await store.listCollaborators(room.dashboardId)).map((c) => [c.userId, c.role]));
    const gone = deleted || !(await store.getDashboard(room.dashboardId));
    for (const userId of users) {
      const role = gone ? null : (roles.get(userId) ?? null);
      const had = room.roles.get(userId);
      room.roles.set(userId, role);
      if (had && !role) {
        broadcast(room, {
          type: 'revoked',
          dashboardId: room.dashboardId,
          userId: gone ? null : userId,
          reason: gone ? 'DASHBOARD_DELETED' : 'REMOVED',
        });
      }
    }
  }

  function onMessage(room: Room, message: DashboardMessage) {
    enqueue(room, async () => {
      if (message.type === 'op') {
        if (message.version <= room.version) return;
        if (message.version > room.version + 1) await catchUpRoom(room, message.version - 1); // SUB2: fill the gap
        if (message.version !== room.version + 1) return; // the database already delivered it
        room.version = message.version;
        broadcast(room, fromMessage(message));
        return;
      }
      if (message.type === 'revoked') {
        if (message.userId === null) for (const userId of room.roles.keys()) room.roles.set(userId, null);
        else room.roles.set(message.userId, null);
      } else if (message.type === 'changed') {
        await refreshRoles(room);
      }
      broadcast(room, message);
    });
  }

  async function join(dashboardId: string, listener: Listener, role: Role): Promise<Room> {
    for (;;) {
      const existing = rooms.get(dashboardId);
      if (existing?.closing) {
        await existing.closing;
        continue;
      }
      if (existing) {
        existing.listeners.add(listener);
        existing.roles.set(listener.userId, role);
        return existing;
      }
      const room: Room = {
        dashboardId,
        version: 0,
        listeners: new Set([listener]),
        roles: new Map([[listener.userId, role]]),
        chain: Promise.resolve(),
        subscription: Promise.resolve(null),
        closing: null,
      };
      rooms.set(dashboardId, room);
      let ready!: () => void;
      room.chain = new Promise<void>((resolve) => (ready = resolve));
      // The bus is a hint (SUB2): the room serves catch-up without waiting for it (during a
      // Redis outage the subscription waits for the reconnect). Once it is confirmed, a
      // catch-up covers whatever was committed before it.
      let readStarted = false;
      room.subscription = bus
        .subscribe(`dashboard:${dashboardId}`, (m) => onMessage(room, m))
        .then(
          (unsubscribe) => {
            // Confirmed after we started reading the version: what came in between is re-read.
            if (readStarted) enqueue(room, () => catchUpRoom(room));
            return unsubscribe;
          },
          (error) => {
            report(error, 'bus subscribe');
            return null;
          },
        );
      // A healthy bus confirms within milliseconds; an outage must not hold up catch-up.
      await Promise.race([room.subscription, new Promise((resolve) => setTimeout(resolve, 250).unref())]);
      readStarted = true;
      try {
        room.version = (await store.dashboardVersions([dashboardId])).get(dashboardId) ?? 0;
      } catch (error) {
        rooms.delete(dashboardId);
        void room.subscription.then((unsubscribe) => unsubscribe?.()).catch(() => {});
        throw error;
      } finally {
        ready();
      }
      return room;
    }
  }

  function leave(room: Room, listener: Listener) {
    room.listeners.delete(listener);
    if (room.listeners.size > 0 || room.closing) return;
    room.closing = (async () => {
      await room.chain;
      // A room that failed to open was replaced already: never remove its successor.
      if (rooms.get(room.dashboardId) === room) rooms.delete(room.dashboardId);
      // Unsubscribing waits for the subscription itself, which may wait out a Redis outage.
      void room.subscription.then((unsubscribe) => unsubscribe?.()).catch((error) => report(error, 'bus unsubscribe'));
    })();
  }

  return {
    join,
    leave,
    enqueue,
    get: (dashboardId) => rooms.get(dashboardId),
    count: () => rooms.size,
    listenerCount: () => [...rooms.values()].reduce((n, room) => n + room.listeners.size, 0),
    deliverLocally(message) {
      const room = rooms.get(message.dashboardId);
      if (room && !room.closing) onMessage(room, message);
    },
    async stop() {
      stopReconnect();
      clearInterval(recheckTimer);
      const open = [...rooms.values()];
      rooms.clear();
      // A subscription still waiting for Redis is abandoned; the bus closes it.
      await Promise.allSettled(
        open.map((room) =>
          Promise.race([room.subscription.then((u) => u?.()), new Promise((r) => setTimeout(r, 100).unref())]),
        ),
      );
    },
  };
}

/**
 * Joins `listener` to the dashboard's room with the role checked at subscribe, then re-reads
 * the role now that the room listens (it may be stale: removed meanwhile, and the revocation
 * already published). The re-read runs on the room's chain, so it cannot overwrite a
 * revocation the room handles meanwhile. `role` null: no longer a member (`deleted`: the
 * dashboard is gone). UNAVAILABLE when the room failed to open after we joined it (it has no
 * bus subscription and would never deliver).
 */
export async function joinAuthorized(
  rooms: DashboardRooms,
  store: Pick<DashboardStore, 'getRole' | 'getDashboard'>,
  dashboardId: string,
  listener: Listener,
  role: Role,
): Promise<{ room: Room; role: Role | null; deleted: boolean }> {
  const room = await rooms.join(dashboardId, listener, role);
  await room.chain; // the room has read its version
  if (rooms.get(dashboardId) !== room) {
    rooms.leave(room, listener);
    throw new DomainError('UNAVAILABLE', 'The dashboard could not be opened; retry');
  }
  try {
    const current = await new Promise<Role | null>((resolve, reject) =>
      rooms.enqueue(room, async () => {
        try {
          const role = await store.getRole(dashboardId, listener.userId);
          room.roles.set(listener.userId, role);
          resolve(role);
        } catch (error) {
          reject(error);
        }
      }),
    );
    const deleted = !current && !(await store.getDashboard(dashboardId));
    return { room, role: current, deleted };
  } catch (error) {
    rooms.leave(room, listener);
    throw error;
  }
}
