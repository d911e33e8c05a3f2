/**
 * Live series (rule LD3): `seriesUpdates` streams, fed by the dashboard's room.
 *
 * A write publishes `{ type: 'points', position }` on the dashboard's bus topic (and hands it
 * to this instance's room without the bus). The room broadcasts it to its listeners; a
 * series subscriber passes the hint straight to its *group*: the subscribers of one dashboard
 * with the same match list on this instance. A group reads what was written after its
 * position once (SeriesStore.readSince), at most once per `batchMs`, and hands every member
 * the same batch object, so the read and the GraphQL execution (transport/shared-execution)
 * happen once per distinct match list, not once per subscriber.
 *
 * The ingest position is what makes a stream exact: each batch covers (from, to] of the
 * dashboard's positions, and each subscriber remembers the position it has delivered up to.
 * A batch that starts where the subscriber stands is passed on as it is; one that does not
 * (the subscriber opened with its own read in between, or missed a batch while it was busy)
 * is replaced by the subscriber's own read after its position. So the seam between the
 * opening batch and the live ones has no gap and no duplicate, and `after: cursor` resumes
 * exactly, whatever the points' times.
 *
 * The bus is a hint (SUB2): after it reconnects, and every `recheckIntervalMs`, groups compare
 * their position with the database and read what they missed. Access is checked on every
 * delivery against the roles the dashboard room keeps (AU1): losing it delivers AccessRevoked
 * and completes the stream.
 */
import type { Role } from '../domain/permissions.js';
import { badInput } from '../errors.js';
import type { EventBus } from '../ports/event-bus.js';
import type { DashboardStore } from '../ports/dashboard-store.js';
import type { SeriesMatch, SeriesPoints, SeriesStore } from '../ports/series-store.js';
import { checkMatch } from '../domain/series.js';
import type { RoomEvent } from './dashboard-events.js';
import type { DashboardRooms, Listener } from './dashboard-room.js';
import type { EventStream, ReportError } from './delivery.js';
import { RoomStream, type SeriesBatchEvent, type SeriesEvent } from './room-stream.js';

/** LD3: the opening batch holds at most this many points per series (the newest). */
export const MAX_BATCH_POINTS_PER_SERIES = 11_000;
/** Match lists longer than this are refused (each match is a condition of every read). */
export const MAX_MATCHES = 20;

export type { SeriesBatchEvent, SeriesEvent } from './room-stream.js';

/** Where a stream starts: after a cursor's position, with the points since a time, or live. */
export type SeriesStart = { after: number } | { since: number } | null;

export interface SeriesFeed {
  /**
   * One subscriber's stream. The caller has authorized `role` (VIEWER and up), checked the
   * matches (`checkMatches`) and turned a cursor into a position (`decodeCursor`).
   */
  updates(input: {
    dashboardId: string;
    userId: string;
    role: Role;
    matches: SeriesMatch[];
    start: SeriesStart;
  }): EventStream<SeriesEvent>;
  /** Groups open on this instance (tests: the work is per match list, not per subscriber). */
  groupCount(): number;
  /** Live seriesUpdates streams on this instance. */
  subscriberCount(): number;
  stop(): Promise<void>;
}

/**
 * Cursors are opaque to clients: a version tag and the ingest position, base64url. A cursor
 * that does not decode is BAD_USER_INPUT.
 */
export function encodeCursor(position: number): string {
  return Buffer.from(`p1:${position}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^p1:(\d{1,15})$/.exec(text);
  if (!match) throw badInput('after is not a cursor this server gave out');
  return Number(match[1]);
}

/** Validates a match list and returns it in a canonical form (its key names the group). */
export function checkMatches(matches: ReadonlyArray<{ name: string; labels?: unknown }>): SeriesMatch[] {
  if (matches.length === 0) throw badInput('match must name at least one series');
  if (matches.length > MAX_MATCHES) throw badInput(`match may hold at most ${MAX_MATCHES} entries`);
  return matches.map((m, i) => checkMatch(m, `match[${i}]`));
}

const groupKey = (dashboardId: string, matches: readonly SeriesMatch[]) =>
  `${dashboardId}\n${JSON.stringify(matches.map((m) => [m.name, m.labels ?? {}]))}`;

/** A batch a group hands its members: the positions it covers and the event (null: no point matched). */
interface GroupBatch {
  type: 'batch';
  from: number;
  to: number;
  event: SeriesBatchEvent | null;
}

type SeriesIn = RoomEvent | GroupBatch;

interface Group {
  key: string;
  dashboardId: string;
  matches: SeriesMatch[];
  members: Set<SeriesSubscriber>;
  /** The ingest position the group has read up to. */
  position: number;
  /** The opening read of the position. */
  ready: Promise<void>;
  /** A write after `position` is known and not read yet. */
  dirty: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  reading: boolean;
  lastRead: number;
  closed: boolean;
}

interface SeriesSubscriber extends Listener {
  deliver(event: SeriesIn): void;
}

export function createSeriesFeed(deps: {
  store: Pick<SeriesStore, 'readSince' | 'ingestPosition'> & Pick<DashboardStore, 'getRole' | 'getDashboard'>;
  rooms: DashboardRooms;
  bus: EventBus;
  /** At most one batch per group in this many ms (SERIES_BATCH_MS). */
  batchMs: number;
  /** How often (ms) groups compare their position with the database (SUB2). 0 = never. */
  recheckIntervalMs?: number;
  report: ReportError;
  /** A batch handed to a subscriber's consumer. */
  onBatch?(): void;
}): SeriesFeed {
  const { store, rooms, report } = deps;
  const groups = new Map<string, Group>();
  /** After a failed read, wait this long before the next try. */
  const retryMs = Math.max(deps.batchMs, 1000);

  const batchOf = (read: { position: number; series: SeriesPoints[] }): SeriesBatchEvent => ({
    __typename: 'SeriesBatch',
    series: read.series,
    cursor: encodeCursor(read.position),
    error: null,
  });

  function hint(group: Group, position: number) {
    if (group.closed || position <= group.position) return;
    group.dirty = true;
    schedule(group, 0);
  }

  /** Reads at the earliest `delay` ms from now and `batchMs` after the previous read. */
  function schedule(group: Group, delay: number) {
    if (group.timer || group.reading || group.closed) return;
    const wait = Math.max(delay, group.lastRead + deps.batchMs - performance.now(), 0);
    group.timer = setTimeout(() => void read(group), wait);
  }

  async function read(group: Group) {
    group.timer = null;
    group.reading = true;
    group.dirty = false;
    group.lastRead = performance.now();
    let retry = false;
    try {
      await group.ready;
      const from = group.position;
      const result = await store.readSince(
        group.dashboardId,
        group.matches,
        { after: from },
        MAX_BATCH_POINTS_PER_SERIES,
      );
      if (result.position > from && !group.closed) {
        group.position = result.position;
        const batch: GroupBatch = {
          type: 'batch',
          from,
          to: result.position,
          event: result.series.length > 0 ? batchOf(result) : null,
        };
        for (const member of group.members) member.deliver(batch);
      }
    } catch (error) {
      report(error, 'series batch');
      group.dirty = true;
      retry = true;
    } finally {
      group.reading = false;
    }
    if (group.dirty) schedule(group, retry ? retryMs : 0);
  }

  function joinGroup(dashboardId: string, matches: SeriesMatch[], member: SeriesSubscriber): Group {
    const key = groupKey(dashboardId, matches);
    let group = groups.get(key);
    if (!group) {
      const created: Group = {
        key,
        dashboardId,
        matches,
        members: new Set(),
        position: 0,
        ready: Promise.resolve(),
        dirty: false,
        timer: null,
        reading: false,
        lastRead: -Infinity,
        closed: false,
      };
      created.ready = store.ingestPosition(dashboardId).then(
        (position) => {
          created.position = Math.max(created.position, position);
        },
        (error: unknown) => {
          // The first read starts from 0 and skips what members already have: slower, exact.
          report(error, 'series group open');
        },
      );
      groups.set(key, (group = created));
    }
    group.members.add(member);
    return group;
  }

  function leaveGroup(group: Group, member: SeriesSubscriber) {
    group.members.delete(member);
    if (group.members.size > 0) return;
    group.closed = true;
    if (group.timer) clearTimeout(group.timer);
    if (groups.get(group.key) === group) groups.delete(group.key);
  }

  /** Every group compares its position with the database: a lost hint still arrives (SUB2). */
  async function recheck() {
    const byDashboard = new Map<string, Group[]>();
    for (const group of groups.values()) {
      const list = byDashboard.get(group.dashboardId) ?? [];
      list.push(group);
      byDashboard.set(group.dashboardId, list);
    }
    for (const [dashboardId, list] of byDashboard) {
      try {
        const position = await store.ingestPosition(dashboardId);
        for (const group of list) hint(group, position);
      } catch (error) {
        report(error, 'series recheck');
      }
    }
  }

  const stopReconnect = deps.bus.onReconnect(() => void recheck());
  let rechecking = false;
  const recheckTimer =
    deps.recheckIntervalMs && deps.recheckIntervalMs > 0
      ? setInterval(() => {
          if (rechecking || groups.size === 0) return;
          rechecking = true;
          void recheck().finally(() => (rechecking = false));
        }, deps.recheckIntervalMs)
      : undefined;
  recheckTimer?.unref();

  const streamDeps = { rooms, store, report, counter: { live: 0 } };

  class Stream extends RoomStream<GroupBatch> implements SeriesSubscriber {
    private group: Group | null = null;
    /** The ingest position delivered up to. */
    private position = 0;

    constructor(private readonly input: Parameters<SeriesFeed['updates']>[0]) {
      super(streamDeps, input.dashboardId, input.userId, input.role);
    }

    /** Hints go to the group at once, whatever this stream is busy with. */
    deliver(event: SeriesIn) {
      if (event.type === 'points') {
        if (this.group) hint(this.group, event.position);
        return;
      }
      super.deliver(event);
    }

    protected isOwn(event: SeriesIn): event is GroupBatch {
      return event.type === 'batch';
    }

    protected async begin() {
      const { dashboardId, matches, start } = this.input;
      if (!(await this.joinRoom())) return;
      // Registered with the group before reading, so nothing written from here on is missed.
      this.group = joinGroup(dashboardId, matches, this);
      if (start === null) {
        // Live from the group's position: the next batch it reads is this stream's first.
        await this.group.ready;
        this.position = this.group.position;
        return;
      }
      const first = await store.readSince(dashboardId, matches, start, MAX_BATCH_POINTS_PER_SERIES);
      this.position = first.position;
      await this.send(batchOf(first));
    }

    protected handle(event: SeriesIn): void | Promise<void> {
      if (this.ended) return;
      const revoked = this.checkAccess(event);
      if (revoked) return revoked;
      if (event.type !== 'batch' || event.to <= this.position) return;
      if (event.from !== this.position) return this.readOwn();
      this.position = event.to;
      if (event.event) return this.send(event.event);
    }

    /** The points after this stream's position, read for it alone (the seam, or a missed batch). */
    private async readOwn() {
      const { dashboardId, matches } = this.input;
      const read = await store.readSince(dashboardId, matches, { after: this.position }, MAX_BATCH_POINTS_PER_SERIES);
      if (read.position <= this.position) return;
      this.position = read.position;
      if (read.series.length > 0) await this.send(batchOf(read));
    }

    private send(event: SeriesBatchEvent) {
      deps.onBatch?.();
      return this.emit(event);
    }

    protected leaveGroup() {
      if (this.group) leaveGroup(this.group, this);
    }
  }

  return {
    updates: (input) => new Stream(input),
    groupCount: () => groups.size,
    subscriberCount: () => streamDeps.counter.live,
    async stop() {
      stopReconnect();
      clearInterval(recheckTimer);
      for (const group of groups.values()) {
        group.closed = true;
        if (group.timer) clearTimeout(group.timer);
      }
      groups.clear();
    },
  };
}
