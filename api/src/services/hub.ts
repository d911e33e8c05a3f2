/**
 * Live dashboard events (rules SUB1, SUB2, AU1).
 *
 * One room per dashboard per instance holds one bus subscription, whatever the number of
 * local subscribers. A room delivers ops in version order without gaps: a version jump is
 * filled from the database, and after a bus reconnect the room re-reads what it may have
 * missed. Each subscriber first replays history from the database, then follows the room,
 * skipping what it already sent, so the seam has no gap and no duplicate.
 */
import { Repeater } from 'graphql-yoga';
import type { Role } from '../domain/permissions.js';
import type { DashboardMessage, EventBus, PresenceEntryMessage } from '../ports/event-bus.js';
import type { OperationRow, Store } from '../ports/store.js';

export interface OperationEvent {
  __typename: 'OperationApplied';
  version: number;
  op: unknown;
  clientId: string;
  seq: number;
  authorId: string;
  createdAt: Date;
  /** Commit time (ms) when the op came live from the bus, for delivery-latency metrics. */
  committedAt?: number;
}

export type DashboardEvent =
  | OperationEvent
  | { __typename: 'SyncCompleted'; version: number }
  | { __typename: 'CheckpointCreated'; dashboardId: string; checkpointId: string }
  | { __typename: 'PresenceUpdated'; dashboardId: string; presence: PresenceEntryMessage }
  | { __typename: 'PresenceLeft'; dashboardId: string; clientId: string; userId: string }
  | { __typename: 'DashboardChanged'; dashboardId: string }
  | { __typename: 'AccessRevoked'; dashboardId: string; reason: 'REMOVED' | 'DASHBOARD_DELETED' };

/** What a room hands its listeners: ops as events, the other bus messages as they are. */
type RoomEvent = (OperationEvent & { type: 'op' }) | Exclude<DashboardMessage, { type: 'op' }>;

interface Listener {
  userId: string;
  deliver(event: RoomEvent): void;
}

interface Room {
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

export interface Hub {
  /**
   * The event stream of one subscriber. The caller has authorized `role` and checked
   * `fromVersion` (null = start live with SyncCompleted at the current version).
   */
  events(input: {
    dashboardId: string;
    userId: string;
    /** The subscriber's clientId: its own presence is not echoed back to it. */
    clientId: string;
    role: Role;
    fromVersion: number | null;
    /** Runs once the subscriber is in the room, before catch-up (e.g. joining presence, PR1). */
    onStart?: () => Promise<void>;
    /** Runs once the stream has ended, however it ended (e.g. leaving presence). Runs only
     * if the stream started: a subscription cancelled before its first pull never starts. */
    onStop?: () => Promise<void>;
  }): AsyncIterableIterator<DashboardEvent>;
  /** Number of rooms open on this instance (tests, metrics). */
  roomCount(): number;
  /** Live subscriptions on this instance (metrics). */
  subscriberCount(): number;
  /** A message committed on this instance, delivered to its rooms without the bus. */
  deliverLocally(message: DashboardMessage): void;
  stop(): Promise<void>;
}

const PAGE = 1000;

const fromRow = (row: OperationRow): OperationEvent & { type: 'op' } => ({
  type: 'op',
  __typename: 'OperationApplied',
  version: row.version,
  op: row.op,
  clientId: row.clientId,
  seq: row.seq,
  authorId: row.authorId,
  createdAt: row.createdAt,
});

export function createHub(deps: {
  store: Store;
  bus: EventBus;
  /**
   * How often (ms) rooms compare their version with the database, so an op whose bus
   * message was lost, with no later op to reveal the gap, still arrives (SUB2). 0 = never.
   */
  recheckIntervalMs?: number;
  onError?: (error: unknown, context: string) => void;
  metrics?: { catchUp(seconds: number): void; syncFailure(): void; delivered(seconds: number): void };
}): Hub {
  const { store, bus } = deps;
  const rooms = new Map<string, Room>(); // dashboardId -> room
  const report = (error: unknown, context: string) => deps.onError?.(error, context);

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

  // Every subscriber of a room receives the same event object, so the GraphQL layer can
  // execute and serialise it once per selection (transport/shared-execution.ts).
  const converted = new WeakMap<RoomEvent, DashboardEvent>();
  function sharedEvent(event: Extract<RoomEvent, { type: 'checkpoint' | 'changed' | 'presence' | 'presence-left' }>) {
    let shared = converted.get(event);
    if (!shared) {
      const { dashboardId } = event;
      shared =
        event.type === 'checkpoint'
          ? { __typename: 'CheckpointCreated', dashboardId, checkpointId: event.checkpointId }
          : event.type === 'changed'
            ? { __typename: 'DashboardChanged', dashboardId }
            : event.type === 'presence'
              ? { __typename: 'PresenceUpdated', dashboardId, presence: event.presence }
              : { __typename: 'PresenceLeft', dashboardId, clientId: event.clientId, userId: event.userId };
      converted.set(event, shared);
    }
    return shared;
  }

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
        broadcast(room, {
          type: 'op',
          __typename: 'OperationApplied',
          version: message.version,
          op: message.op,
          clientId: message.clientId,
          seq: message.seq,
          authorId: message.authorId,
          createdAt: new Date(message.createdAt),
          committedAt: message.committedAt,
        });
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
        const row = await store.getDashboard(dashboardId);
        room.version = row?.version ?? 0;
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
      rooms.delete(room.dashboardId);
      // Unsubscribing waits for the subscription itself, which may wait out a Redis outage.
      void room.subscription.then((unsubscribe) => unsubscribe?.()).catch((error) => report(error, 'bus unsubscribe'));
    })();
  }

  return {
    events({ dashboardId, userId, clientId, role, fromVersion, onStart, onStop }) {
      return new Repeater<DashboardEvent>(async (push, stop) => {
        let lastSent = fromVersion ?? 0;
        let ended = false;
        let chain: Promise<void> = Promise.resolve();
        let starting: Promise<void> | undefined; // onStart, so onStop runs after it
        const started = performance.now();

        const end = () => {
          ended = true;
          stop();
        };

        const revoke = async (reason: 'REMOVED' | 'DASHBOARD_DELETED') => {
          if (ended) return;
          await push({ __typename: 'AccessRevoked', dashboardId, reason });
          end();
        };

        const handle = async (event: RoomEvent) => {
          if (ended) return;
          // AU1: authorization is checked on every delivered event, not only at subscribe.
          if (room.roles.get(userId) == null) {
            const deleted = event.type === 'revoked' && event.userId === null;
            return revoke(deleted ? 'DASHBOARD_DELETED' : 'REMOVED');
          }
          if (event.type === 'op') {
            if (event.version <= lastSent) return;
            if (event.version > lastSent + 1) {
              // Cannot happen while the room is gap-free; kept so a subscriber never skips.
              for (const row of await store.listOperationRange(dashboardId, lastSent, event.version - 1)) {
                lastSent = row.version;
                await push(fromRow(row));
              }
            }
            lastSent = event.version;
            if (event.committedAt !== undefined)
              deps.metrics?.delivered(Math.max(0, Date.now() - event.committedAt) / 1000);
            await push(event);
          } else if (event.type === 'checkpoint' || event.type === 'changed') {
            await push(sharedEvent(event));
          } else if (event.type === 'presence') {
            if (event.presence.clientId !== clientId) await push(sharedEvent(event));
          } else if (event.type === 'presence-left') {
            if (event.clientId !== clientId) await push(sharedEvent(event));
          }
        };

        const listener: Listener = {
          userId,
          deliver(event) {
            chain = chain.then(() => handle(event)).catch((error) => report(error, 'subscriber'));
          },
        };

        // Catch-up runs first on the subscriber's chain; live events queue behind it.
        const catchUp = async () => {
          await room.chain; // the room has read its version
          // The role checked before subscribing may be stale by now (removed meanwhile, and
          // the revocation already published): re-read it now that the room listens, on the
          // room's chain so it cannot overwrite a revocation the room handles meanwhile.
          const current = await new Promise<Role | null>((resolve, reject) =>
            enqueue(room, async () => {
              try {
                const role = await store.getRole(dashboardId, userId);
                room.roles.set(userId, role);
                resolve(role);
              } catch (error) {
                reject(error);
              }
            }),
          );
          if (!current) {
            const deleted = !(await store.getDashboard(dashboardId));
            return revoke(deleted ? 'DASHBOARD_DELETED' : 'REMOVED');
          }
          // Cancelled while catching up: never join (the stop hook has already run).
          if (ended) return;
          starting = onStart?.().catch((error) => report(error, 'subscription start'));
          await starting;
          if (fromVersion === null) {
            lastSent = room.version;
          } else {
            for (;;) {
              const rows = await store.listOperations(dashboardId, lastSent, PAGE);
              if (rows.length === 0) break;
              for (const row of rows) {
                if (ended) return;
                lastSent = row.version;
                await push(fromRow(row));
              }
            }
          }
          deps.metrics?.catchUp((performance.now() - started) / 1000);
          await push({ __typename: 'SyncCompleted', version: lastSent });
        };
        let openGate!: () => void;
        chain = new Promise<void>((resolve) => (openGate = resolve)).then(catchUp).catch((error) => {
          deps.metrics?.syncFailure();
          report(error, 'catch-up');
          stop(error);
        });
        // `room` is read by catchUp only after the gate opens, once it is assigned.
        const room = await join(dashboardId, listener, role);
        openGate();

        await stop;
        ended = true;
        leave(room, listener);
        await starting;
        await onStop?.().catch((error) => report(error, 'subscription stop'));
      });
    },

    roomCount: () => rooms.size,
    deliverLocally(message) {
      const room = rooms.get(message.dashboardId);
      if (room && !room.closing) onMessage(room, message);
    },

    subscriberCount: () => [...rooms.values()].reduce((n, room) => n + room.listeners.size, 0),

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
