/**
 * Live dashboard events (rules SUB1, SUB2, AU1, PR1): one stream per subscriber, fed by its
 * dashboard's room (services/dashboard-room.ts) through the shared delivery machinery
 * (services/delivery.ts).
 *
 * Each subscriber registers with the room before reading history, then replays history from
 * the database and follows the room, skipping what it already sent, so the seam has no gap
 * and no duplicate (SUB1). Every delivery checks its role as the room caches it; losing it
 * ends the stream with AccessRevoked (AU1). The stream's start and end join and leave
 * presence through `onStart` / `onStop`, and a subscriber's own presence is not echoed (PR1).
 */
import type { Role } from '../domain/permissions.js';
import type { DashboardMessage, EventBus } from '../ports/event-bus.js';
import type { DashboardStore } from '../ports/dashboard-store.js';
import type { OperationLog } from '../ports/operation-log.js';
import {
  fromRow,
  PAGE,
  toDashboardEvent,
  type DashboardEvent,
  type OperationEvent,
  type RoomEvent,
} from './dashboard-events.js';
import {
  createDashboardRooms,
  joinAuthorized,
  type DashboardRooms,
  type Listener,
  type Room,
} from './dashboard-room.js';
import { sharedConversion, Subscriber, type EventStream as StreamOf } from './delivery.js';

export type { DashboardEvent, OperationEvent } from './dashboard-events.js';

/** A subscriber's dashboard events, in order (pull them, or `pipe` them: services/delivery.ts). */
export type EventStream = StreamOf<DashboardEvent>;

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

export function createHub(deps: {
  /** Reads only: the hub never commits. */
  store: DashboardStore & Pick<OperationLog, 'listOperations' | 'listOperationRange'>;
  bus: EventBus;
  /**
   * How often (ms) rooms compare their version with the database, so an op whose bus
   * message was lost, with no later op to reveal the gap, still arrives (SUB2). 0 = never.
   */
  recheckIntervalMs?: number;
  onError?: (error: unknown, context: string) => void;
  /** The dashboard rooms, when other streams share them (services/series-live.ts). */
  rooms?: DashboardRooms;
  metrics?: { catchUp(seconds: number): void; syncFailure(): void; delivered(seconds: number): void };
}): Hub {
  const { store } = deps;
  const report = (error: unknown, context: string) => deps.onError?.(error, context);
  const rooms = deps.rooms ?? createDashboardRooms({ ...deps, report });
  let live = 0;
  // Every subscriber of a room receives the same event object, so the GraphQL layer can
  // execute and serialise it once per selection (transport/shared-execution.ts).
  const sharedEvent = sharedConversion(toDashboardEvent);

  /** One subscriber of a dashboard's room. */
  class DashboardSubscriber extends Subscriber<RoomEvent, DashboardEvent> implements Listener, EventStream {
    readonly userId: string;
    private lastSent: number;
    private room: Room | null = null;
    private starting: Promise<void> | undefined; // onStart, so onStop runs after it
    private counted = false;

    constructor(private readonly input: Parameters<Hub['events']>[0]) {
      super(report);
      this.userId = input.userId;
      this.lastSent = input.fromVersion ?? 0;
    }

    protected beginFailed(error: unknown) {
      deps.metrics?.syncFailure();
      report(error, 'catch-up');
    }

    /** Joins the room, re-checks the role, runs onStart, replays history, SyncCompleted. */
    protected async begin() {
      const { dashboardId, fromVersion, onStart } = this.input;
      const startedAt = performance.now();
      live++;
      this.counted = true;
      const joined = await joinAuthorized(rooms, store, dashboardId, this, this.input.role);
      const room = (this.room = joined.room);
      if (this.ended) return rooms.leave(room, this);
      if (!joined.role) return this.revoke(joined.deleted ? 'DASHBOARD_DELETED' : 'REMOVED');
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

    /** Undefined when the event was handled synchronously. */
    protected handle(event: RoomEvent): void | Promise<void> {
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

    /** Leaves the room; runs onStop (after onStart) if the stream started. */
    protected close(started: boolean): void | Promise<void> {
      if (this.counted) live--;
      this.counted = false;
      if (this.room) rooms.leave(this.room, this);
      if (started) {
        return (async () => {
          await this.starting;
          await this.input.onStop?.().catch((error) => report(error, 'subscription stop'));
        })();
      }
    }
  }

  return {
    events(input) {
      return new DashboardSubscriber(input);
    },
    roomCount: () => rooms.count(),
    deliverLocally: (message) => rooms.deliverLocally(message),
    subscriberCount: () => live,
    stop: () => rooms.stop(),
  };
}
