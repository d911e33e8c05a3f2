/**
 * A live data stream that belongs to a dashboard's room only for access (AU1): seriesUpdates
 * (series-live.ts) and queryUpdates (query-live.ts). Its data comes from a group of its own
 * kind; the room tells it when the user's role changes or the dashboard goes. On joining it
 * re-reads the role; on every delivery it checks the role the room keeps, and losing it
 * delivers AccessRevoked and completes the stream.
 */
import type { Role } from '../domain/permissions.js';
import type { DashboardStore } from '../ports/dashboard-store.js';
import type { RoomEvent } from './dashboard-events.js';
import { joinAuthorized, type DashboardRooms, type Listener, type Room } from './dashboard-room.js';
import { Subscriber, type ReportError } from './delivery.js';
import type { Labels } from '../domain/series.js';
import type { PointPairs } from '../ports/series-store.js';

export interface SeriesBatchEvent {
  __typename: 'SeriesBatch';
  /** Stored series (SeriesPoints) or a data source's results (LD5). */
  series: ReadonlyArray<{ series: { id: string; name: string; labels: Labels }; points: PointPairs }>;
  cursor: string;
  /** Set by pulled data sources (LD5); always null for pushed series. */
  error: string | null;
}

export type SeriesEvent =
  SeriesBatchEvent | { __typename: 'AccessRevoked'; dashboardId: string; reason: 'REMOVED' | 'DASHBOARD_DELETED' };

export interface RoomStreamDeps {
  rooms: DashboardRooms;
  store: Pick<DashboardStore, 'getRole' | 'getDashboard'>;
  report: ReportError;
  /** Counts the streams open (begun and not yet closed). */
  counter: { live: number };
}

export abstract class RoomStream<Own extends { type: string }>
  extends Subscriber<RoomEvent | Own, SeriesEvent>
  implements Listener
{
  private room: Room | null = null;
  private counted = false;

  constructor(
    private readonly deps: RoomStreamDeps,
    protected readonly dashboardId: string,
    readonly userId: string,
    private readonly role: Role,
  ) {
    super(deps.report);
  }

  /** The room's other traffic (ops, presence) matters only for the role it may change. */
  deliver(event: RoomEvent | Own) {
    if (event.type !== 'revoked' && event.type !== 'changed' && !this.isOwn(event)) return;
    super.deliver(event);
  }

  /** Whether an event is this stream's data (its group's), as opposed to the room's. */
  protected abstract isOwn(event: RoomEvent | Own): event is Own;

  /** Joins the room and re-reads the role; false when the stream must not go on (it ended or was revoked). */
  protected async joinRoom(): Promise<boolean> {
    this.deps.counter.live++;
    this.counted = true;
    const joined = await joinAuthorized(this.deps.rooms, this.deps.store, this.dashboardId, this, this.role);
    this.room = joined.room;
    if (this.ended) {
      this.deps.rooms.leave(joined.room, this);
      return false;
    }
    if (!joined.role) {
      await this.revoke(joined.deleted ? 'DASHBOARD_DELETED' : 'REMOVED');
      return false;
    }
    return true;
  }

  /**
   * AU1, on every delivery, against the roles the room keeps: null when access holds, else
   * the revocation (the caller returns it and handles nothing more).
   */
  protected checkAccess(event: RoomEvent | Own): Promise<void> | null {
    if (this.room!.roles.get(this.userId) != null) return null;
    const deleted = event.type === 'revoked' && (event as { userId?: unknown }).userId === null;
    return this.revoke(deleted ? 'DASHBOARD_DELETED' : 'REMOVED');
  }

  private async revoke(reason: 'REMOVED' | 'DASHBOARD_DELETED') {
    if (this.ended) return;
    await this.emit({ __typename: 'AccessRevoked', dashboardId: this.dashboardId, reason });
    await this.end();
  }

  /** Leaves the stream's group (runs once, when the stream closes). */
  protected abstract leaveGroup(): void;

  protected close() {
    if (this.counted) this.deps.counter.live--;
    this.counted = false;
    this.leaveGroup();
    if (this.room) this.deps.rooms.leave(this.room, this);
  }
}
