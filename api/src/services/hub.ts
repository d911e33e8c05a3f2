/**
 * Live dashboard events (rules SUB1, SUB2, AU1).
 *
 * One room per dashboard per instance holds one bus subscription, whatever the number of
 * local subscribers. A room delivers ops in version order without gaps: a version jump is
 * filled from the database, and after a bus reconnect the room re-reads what it may have
 * missed. Each subscriber first replays history from the database, then follows the room,
 * skipping what it already sent, so the seam has no gap and no duplicate.
 */
import type { Role } from '../domain/permissions.js';
import { DomainError } from '../errors.js';
import type { DashboardMessage, EventBus, PresenceEntryMessage } from '../ports/event-bus.js';
import type { OperationKind, OperationRow, Store } from '../ports/store.js';

export interface OperationEvent {
  __typename: 'OperationApplied';
  version: number;
  op: unknown;
  clientId: string;
  seq: number;
  authorId: string;
  createdAt: Date;
  kind: OperationKind;
  refVersion: number | null;
  undoGroup: number | null;
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

/**
 * A subscriber's events, in order. Pull them (AsyncIterator), or `pipe` them: the handler is
 * called once per event, synchronously from the room's broadcast when nothing is pending,
 * and the next event waits while a returned promise is pending. `pipe` settles when the
 * stream ends (or rejects with its error); `return()` ends it.
 */
export interface EventStream extends AsyncIterableIterator<DashboardEvent> {
  pipe(handler: (event: DashboardEvent) => void | Promise<void>): Promise<void>;
  return(): Promise<IteratorResult<DashboardEvent>>;
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
  }): EventStream;
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
  kind: row.kind,
  refVersion: row.refVersion,
  undoGroup: row.undoGroup,
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
    if (!shared) converted.set(event, (shared = toDashboardEvent(event)));
    return shared;
  }
  function toDashboardEvent(
    event: Extract<RoomEvent, { type: 'checkpoint' | 'changed' | 'presence' | 'presence-left' }>,
  ): DashboardEvent {
    const { dashboardId } = event;
    switch (event.type) {
      case 'checkpoint':
        return { __typename: 'CheckpointCreated', dashboardId, checkpointId: event.checkpointId };
      case 'changed':
        return { __typename: 'DashboardChanged', dashboardId };
      case 'presence':
        return { __typename: 'PresenceUpdated', dashboardId, presence: event.presence };
      case 'presence-left':
        return { __typename: 'PresenceLeft', dashboardId, clientId: event.clientId, userId: event.userId };
    }
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
          // Messages from instances older than these fields: an edit alone in its step.
          kind: message.kind ?? 'edit',
          refVersion: message.refVersion ?? null,
          undoGroup: message.undoGroup ?? null,
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
      // A room that failed to open was replaced already: never remove its successor.
      if (rooms.get(room.dashboardId) === room) rooms.delete(room.dashboardId);
      // Unsubscribing waits for the subscription itself, which may wait out a Redis outage.
      void room.subscription.then((unsubscribe) => unsubscribe?.()).catch((error) => report(error, 'bus unsubscribe'));
    })();
  }

  /**
   * One subscriber: events are handled in order; while an async step runs (catch-up, a gap
   * fill, a frame still being executed) later events wait in `queue`, otherwise a live event
   * is handled synchronously from the room's broadcast, without a promise per delivery.
   * Consumed either by pulling (AsyncIterator: SSE, tests) or by `pipe` (push: WebSocket).
   */
  class Subscriber implements Listener, EventStream {
    readonly userId: string;
    private lastSent: number;
    private ended = false;
    private started = false;
    private room: Room | null = null;
    private busy: Promise<void> | null = null;
    private queue: RoomEvent[] = [];
    private starting: Promise<void> | undefined; // onStart, so onStop runs after it
    private handler: ((event: DashboardEvent) => void | Promise<void>) | null = null;
    /** Pull mode: emitted and not yet taken; `waiting` is a consumer blocked in next(). */
    private buffer: Array<{ event: DashboardEvent; taken: () => void }> = [];
    private waiting: { resolve(r: IteratorResult<DashboardEvent>): void; reject(e: unknown): void } | null = null;
    private failure: unknown = undefined;
    private done: Promise<void>;
    private settle!: () => void;

    constructor(private readonly input: Parameters<Hub['events']>[0]) {
      this.userId = input.userId;
      this.lastSent = input.fromVersion ?? 0;
      this.done = new Promise((resolve) => (this.settle = resolve));
    }

    [Symbol.asyncIterator]() {
      return this;
    }

    next(): Promise<IteratorResult<DashboardEvent>> {
      this.start();
      const item = this.buffer.shift();
      if (item) {
        item.taken();
        return Promise.resolve({ value: item.event, done: false });
      }
      if (this.failure !== undefined) return Promise.reject(this.failure);
      if (this.ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
    }

    async return(): Promise<IteratorResult<DashboardEvent>> {
      await this.end();
      return { value: undefined, done: true };
    }

    async throw(error: unknown): Promise<IteratorResult<DashboardEvent>> {
      await this.end();
      throw error;
    }

    /** Push mode; call it instead of pulling, before the stream starts. */
    pipe(handler: (event: DashboardEvent) => void | Promise<void>): Promise<void> {
      if (this.started) throw new Error('pipe() on a stream already being pulled');
      this.handler = handler;
      this.start();
      return this.done.then(() => {
        if (this.failure !== undefined) throw this.failure;
      });
    }

    private start() {
      if (this.started || this.ended) return;
      this.started = true;
      this.busy = this.begin().then(
        () => this.drain(),
        (error) => {
          deps.metrics?.syncFailure();
          report(error, 'catch-up');
          this.fail(error);
        },
      );
    }

    /** Joins the room, re-checks the role, runs onStart, replays history, SyncCompleted. */
    private async begin() {
      const { dashboardId, userId, fromVersion, onStart } = this.input;
      const startedAt = performance.now();
      const room = (this.room = await join(dashboardId, this, this.input.role));
      if (this.ended) return leave(room, this);
      await room.chain; // the room has read its version
      // The room failed to open (reading its version failed) after we joined it: it has no
      // bus subscription and will never deliver. Fail, so the client retries.
      if (rooms.get(dashboardId) !== room) {
        leave(room, this);
        throw new DomainError('UNAVAILABLE', 'The dashboard could not be opened; retry');
      }
      // The role checked before subscribing may be stale by now (removed meanwhile, and the
      // revocation already published): re-read it now that the room listens, on the room's
      // chain so it cannot overwrite a revocation the room handles meanwhile.
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
        return this.revoke(deleted ? 'DASHBOARD_DELETED' : 'REMOVED');
      }
      if (this.ended) return; // cancelled while catching up: never join presence
      this.starting = onStart?.().catch((error) => report(error, 'subscription start'));
      await this.starting;
      if (fromVersion === null) {
        this.lastSent = room.version;
      } else {
        for (;;) {
          const rows = await store.listOperations(dashboardId, this.lastSent, PAGE);
          if (rows.length === 0) break;
          for (const row of rows) {
            if (this.ended) return;
            this.lastSent = row.version;
            await this.emit(fromRow(row));
          }
        }
      }
      deps.metrics?.catchUp((performance.now() - startedAt) / 1000);
      await this.emit({ __typename: 'SyncCompleted', version: this.lastSent });
    }

    deliver(event: RoomEvent) {
      if (this.ended) return;
      if (this.busy) {
        this.queue.push(event);
        return;
      }
      this.run(event);
    }

    private run(event: RoomEvent) {
      let pending: void | Promise<void>;
      try {
        pending = this.handle(event);
      } catch (error) {
        // One subscriber's failure must not stop the room's broadcast to the others.
        report(error, 'subscriber');
        return this.fail(error);
      }
      if (pending) {
        this.busy = pending.then(
          () => this.drain(),
          (error) => {
            report(error, 'subscriber');
            this.fail(error);
          },
        );
      }
    }

    private drain() {
      this.busy = null;
      while (this.queue.length > 0 && !this.busy && !this.ended) this.run(this.queue.shift()!);
      if (this.ended) this.queue.length = 0;
    }

    /** Undefined when the event was handled synchronously. */
    private handle(event: RoomEvent): void | Promise<void> {
      if (this.ended) return;
      const room = this.room!;
      // AU1: authorization is checked on every delivered event, not only at subscribe.
      if (room.roles.get(this.userId) == null) {
        const deleted = event.type === 'revoked' && event.userId === null;
        return this.revoke(deleted ? 'DASHBOARD_DELETED' : 'REMOVED');
      }
      const { clientId } = this.input;
      if (event.type === 'op') {
        if (event.version <= this.lastSent) return;
        if (event.version > this.lastSent + 1) return this.fillGap(event);
        this.lastSent = event.version;
        if (event.committedAt !== undefined)
          deps.metrics?.delivered(Math.max(0, Date.now() - event.committedAt) / 1000);
        return this.emit(event);
      }
      if (event.type === 'checkpoint' || event.type === 'changed') return this.emit(sharedEvent(event));
      if (event.type === 'presence') {
        if (event.presence.clientId !== clientId) return this.emit(sharedEvent(event));
      } else if (event.type === 'presence-left') {
        if (event.clientId !== clientId) return this.emit(sharedEvent(event));
      }
    }

    /** Cannot happen while the room is gap-free; kept so a subscriber never skips an op. */
    private async fillGap(event: OperationEvent & { type: 'op' }) {
      for (const row of await store.listOperationRange(this.input.dashboardId, this.lastSent, event.version - 1)) {
        this.lastSent = row.version;
        await this.emit(fromRow(row));
      }
      this.lastSent = event.version;
      await this.emit(event);
    }

    private async revoke(reason: 'REMOVED' | 'DASHBOARD_DELETED') {
      if (this.ended) return;
      await this.emit({ __typename: 'AccessRevoked', dashboardId: this.input.dashboardId, reason });
      await this.end();
    }

    /** Hands an event to the consumer; a promise when it is not taken yet (backpressure). */
    private emit(event: DashboardEvent): void | Promise<void> {
      if (this.ended) return;
      if (this.handler) return this.handler(event);
      if (this.waiting) {
        const { resolve } = this.waiting;
        this.waiting = null;
        resolve({ value: event, done: false });
        return;
      }
      return new Promise<void>((taken) => this.buffer.push({ event, taken }));
    }

    private fail(error: unknown) {
      if (this.ended) return;
      this.failure = error;
      if (this.waiting) {
        const { reject } = this.waiting;
        this.waiting = null;
        reject(error);
      }
      void this.end();
    }

    /** Ends the stream once, however it ends; leaves the room and runs onStop if started. */
    private ending: Promise<void> | null = null;
    end(): Promise<void> {
      this.ending ??= (async () => {
        this.ended = true;
        this.queue.length = 0;
        if (this.waiting) {
          const { resolve } = this.waiting;
          this.waiting = null;
          resolve({ value: undefined, done: true });
        }
        if (this.room) leave(this.room, this);
        if (this.started) {
          await this.starting;
          await this.input.onStop?.().catch((error) => report(error, 'subscription stop'));
        }
        this.settle();
      })();
      return this.ending;
    }
  }

  return {
    events(input) {
      return new Subscriber(input);
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
