/**
 * Live queries of pulled data sources (rule LD5): `queryUpdates` streams, one upstream
 * evaluation per distinct (data source, expression, step) per step, whatever the number of
 * watchers and instances.
 *
 * On each instance the subscribers of one key form a *group*. At every multiple of `step`
 * each group asks the lease store for the key's lease: the one instance that holds it
 * evaluates the range since its last evaluation up to now and publishes the result on the
 * key's bus topic (and hands it to its own group without the bus); every other instance's
 * group receives it there. The holder renews the lease each step; the lease lives 1.5 steps,
 * so when the holder dies another instance takes over at the latest two steps later, and its
 * first evaluation covers the steps it missed (its group knows the last one delivered). When
 * the lease store cannot be reached every instance evaluates for itself: more upstream load,
 * no stopped charts. A group whose last member leaves stops and gives the lease up: nobody
 * watching, nothing evaluated.
 *
 * Exactness: a result covers the evaluation times (from, to]. A group keeps the last time it
 * delivered and passes on only newer points; a result that starts after it (a lost bus
 * message) makes the group query the gap itself. Each subscriber keeps its own last time too,
 * so the replay of `since` (read for it when it opens, up to where the group stands) meets
 * the live results with no gap and no duplicate. An evaluation that fails delivers a batch
 * with `error` set and leaves the last time where it was: the next good one covers the
 * outage.
 *
 * Access is checked on every delivery through the dashboard's room (AU1), as series streams do.
 */
import { createHash } from 'node:crypto';
import type { Role } from '../domain/permissions.js';
import { DomainError } from '../errors.js';
import type { DashboardStore } from '../ports/dashboard-store.js';
import type { EventBus, QueryMessage } from '../ports/event-bus.js';
import type { LeaseStore } from '../ports/lease-store.js';
import type { RoomEvent } from './dashboard-events.js';
import type { DashboardRooms, Listener } from './dashboard-room.js';
import { RoomStream, type SeriesBatchEvent, type SeriesEvent } from './room-stream.js';
import { MAX_QUERY_POINTS, type DatasourceService, type QueryKey, type QuerySeriesData } from './datasource-service.js';
import type { EventStream, ReportError } from './delivery.js';

/** A group that took over (or missed messages) reads at most this many steps back. */
const MAX_CATCH_UP_STEPS = 600;
/** How long a query found valid is not checked again when a new group opens (ms). */
const VALID_FOR_MS = 60_000;

export interface QueryFeed {
  /**
   * Checks a key before a stream opens: the shape, and the expression against the upstream
   * (BAD_USER_INPUT with its message). An unreachable upstream passes: the stream says so.
   */
  check(input: QueryKey): Promise<QueryKey>;
  updates(input: {
    dashboardId: string;
    userId: string;
    role: Role;
    key: QueryKey;
    since: number | null;
  }): EventStream<SeriesEvent>;
  /** Groups open on this instance. */
  groupCount(): number;
  /** Groups whose lease this instance holds (it evaluates them). */
  holdingCount(): number;
  subscriberCount(): number;
  stop(): Promise<void>;
}

export function encodeQueryCursor(t: number): string {
  return Buffer.from(`q1:${t}`).toString('base64url');
}

/** The bus topic and lease name of a key: a digest, so any expression makes a safe name. */
export function queryDigest(key: QueryKey, url: string): string {
  return createHash('sha256').update(`${key.datasource}\n${url}\n${key.step}\n${key.expr}`).digest('base64url');
}

/** What a group hands its members. */
interface GroupBatch {
  type: 'result';
  /** The evaluation times covered: (from, to]; `from` null: the group's first. */
  from: number | null;
  to: number;
  series: QuerySeriesData[];
  error: string | null;
  /**
   * The batch every member standing at `from` is handed as it is: one object, so shared
   * execution (transport/shared-execution.ts) runs and serialises it once for them all.
   * Null when a good result holds no point.
   */
  event: SeriesBatchEvent | null;
}

type QueryIn = RoomEvent | GroupBatch;

interface Group {
  digest: string;
  key: QueryKey;
  members: Set<QueryStream>;
  /** The newest evaluation time delivered to the members. */
  lastT: number | null;
  /** The newest failed evaluation delivered (an error is delivered once per step). */
  lastErrorT: number | null;
  holding: boolean;
  busy: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  unsubscribe: Promise<(() => Promise<void>) | null>;
  closed: boolean;
}

interface QueryStream extends Listener {
  deliver(event: QueryIn): void;
}

export function createQueryFeed(deps: {
  datasources: DatasourceService;
  /** The configured URL of a source (part of the digest: two deployments never share a key). */
  urlOf(datasource: string): string;
  leases: LeaseStore;
  bus: EventBus;
  rooms: DashboardRooms;
  store: Pick<DashboardStore, 'getRole' | 'getDashboard'>;
  /** This instance's id, the lease holder's name. */
  instanceId: string;
  now(): number;
  report: ReportError;
  onBatch?(): void;
}): QueryFeed {
  const { datasources, rooms, store, report } = deps;
  const groups = new Map<string, Group>();
  const validUntil = new Map<string, number>();
  const checking = new Map<string, Promise<void>>();
  let stopped = false;

  const align = (t: number, step: number) => Math.floor(t / step) * step;

  /** Identical reads in flight share one upstream request (DatasourceService.queryRange). */
  const readRange = (group: Pick<Group, 'key'>, start: number, end: number) =>
    datasources.queryRange(group.key, start, end);

  const errorText = (error: unknown) =>
    error instanceof DomainError ? error.message : 'The data source could not be queried';

  // ---- groups -------------------------------------------------------------------------

  function joinGroup(key: QueryKey, member: QueryStream): Group {
    const digest = queryDigest(key, deps.urlOf(key.datasource));
    let group = groups.get(digest);
    if (!group) {
      const created: Group = {
        digest,
        key,
        members: new Set(),
        lastT: null,
        lastErrorT: null,
        holding: false,
        busy: false,
        timer: null,
        unsubscribe: Promise.resolve(null),
        closed: false,
      };
      created.unsubscribe = deps.bus
        .subscribe(`query:${digest}`, (message) => accept(created, message))
        .catch((error: unknown) => {
          // Without the bus this instance still gets data: it evaluates when it holds the lease.
          report(error, 'query subscribe');
          return null;
        });
      groups.set(digest, (group = created));
      scheduleTick(created);
    }
    group.members.add(member);
    return group;
  }

  function leaveGroup(group: Group, member: QueryStream) {
    group.members.delete(member);
    if (group.members.size > 0) return;
    void closeGroup(group);
  }

  /** Stops the group; resolves once its lease is given up (the next holder need not wait it out). */
  function closeGroup(group: Group): Promise<void> {
    group.closed = true;
    if (group.timer) clearTimeout(group.timer);
    if (groups.get(group.digest) === group) groups.delete(group.digest);
    void group.unsubscribe.then((stop) => stop?.()).catch((error: unknown) => report(error, 'query unsubscribe'));
    if (!group.holding) return Promise.resolve();
    group.holding = false;
    return deps.leases
      .releaseLease(group.digest, deps.instanceId)
      .catch((error: unknown) => report(error, 'query lease'));
  }

  /** The next tick at the next multiple of the step (a few ms after, so `now` has reached it). */
  function scheduleTick(group: Group) {
    if (group.closed || stopped) return;
    const { step } = group.key;
    const now = deps.now();
    const next = align(now, step) + step;
    group.timer = setTimeout(() => void tick(group, next), next - now + 5);
  }

  async function tick(group: Group, t: number) {
    group.timer = null;
    scheduleTick(group);
    if (group.busy || group.closed) return;
    group.busy = true;
    try {
      let mine: boolean;
      try {
        mine = await deps.leases.acquireLease(group.digest, deps.instanceId, Math.round(group.key.step * 1.5));
      } catch (error) {
        // The lease store is down: evaluate here rather than leave the charts standing still.
        report(error, 'query lease');
        mine = true;
      }
      group.holding = mine;
      if (mine && !group.closed) await evaluate(group, t);
    } finally {
      group.busy = false;
    }
  }

  /** Evaluates (lastT, t] upstream, delivers it here and publishes it for the other instances. */
  async function evaluate(group: Group, t: number) {
    const { step } = group.key;
    const from = group.lastT ?? t - step;
    if (t <= from) return;
    const start = Math.max(from + step, t - MAX_CATCH_UP_STEPS * step);
    let message: QueryMessage;
    try {
      const series = await readRange(group, start, t);
      message = { type: 'query-result', from: group.lastT === null ? null : from, to: t, series, error: null };
    } catch (error) {
      if (!(error instanceof DomainError)) report(error, 'query evaluation');
      message = { type: 'query-result', from: group.lastT, to: t, series: [], error: errorText(error) };
    }
    if (group.closed) return;
    accept(group, message);
    deps.bus.publish(`query:${group.digest}`, message).catch((error: unknown) => report(error, 'query publish'));
  }

  /** A result, evaluated here or received over the bus. */
  function accept(group: Group, message: QueryMessage) {
    if (group.closed || message.type !== 'query-result') return;
    if (message.error !== null) {
      if ((group.lastT !== null && message.to <= group.lastT) || (group.lastErrorT ?? -Infinity) >= message.to) return;
      group.lastErrorT = message.to;
      const event = batchEvent([], message.to, message.error);
      broadcast(group, { type: 'result', from: group.lastT, to: message.to, series: [], error: message.error, event });
      return;
    }
    if (group.lastT !== null && message.to <= group.lastT) return;
    if (group.lastT !== null && message.from !== null && message.from > group.lastT) {
      // A result was lost on the way: read the gap (and this one) upstream, once.
      void fillGap(group, message.to);
      return;
    }
    const from = group.lastT;
    group.lastT = message.to;
    const series = after(message.series, from);
    const event = series.length > 0 ? batchEvent(series, message.to, null) : null;
    broadcast(group, { type: 'result', from, to: message.to, series, error: null, event });
  }

  async function fillGap(group: Group, to: number) {
    if (group.busy) return; // the running evaluation or fill covers it, or the next tick will
    group.busy = true;
    try {
      await evaluate(group, to);
    } finally {
      group.busy = false;
    }
  }

  function broadcast(group: Group, batch: GroupBatch) {
    for (const member of group.members) member.deliver(batch);
  }

  // ---- checks -------------------------------------------------------------------------

  async function check(input: QueryKey): Promise<QueryKey> {
    const key = datasources.checkKey(input);
    const digest = queryDigest(key, deps.urlOf(key.datasource));
    const group = groups.get(digest);
    if (group?.lastT != null || (validUntil.get(digest) ?? 0) > deps.now()) return key;
    let pending = checking.get(digest);
    if (!pending) {
      const t = align(deps.now(), key.step);
      pending = readRange({ key }, t, t)
        .then(
          () => void validUntil.set(digest, deps.now() + VALID_FOR_MS),
          (error: unknown) => {
            if (error instanceof DomainError && error.code === 'BAD_USER_INPUT') throw error;
            // Unreachable: the stream opens and reports it in SeriesBatch.error.
          },
        )
        .finally(() => checking.delete(digest));
      checking.set(digest, pending);
    }
    await pending;
    return key;
  }

  // ---- subscribers --------------------------------------------------------------------

  const streamDeps = { rooms, store, report, counter: { live: 0 } };

  class Stream extends RoomStream<GroupBatch> implements QueryStream {
    private group: Group | null = null;
    /** The newest evaluation time delivered to this subscriber. */
    private lastT: number | null = null;
    private erred = false;

    constructor(private readonly input: Parameters<QueryFeed['updates']>[0]) {
      super(streamDeps, input.dashboardId, input.userId, input.role);
    }

    protected isOwn(event: QueryIn): event is GroupBatch {
      return event.type === 'result';
    }

    protected async begin() {
      const { key, since } = this.input;
      if (!(await this.joinRoom())) return;
      // In the group before the replay is read, so no result from here on is missed.
      this.group = joinGroup(key, this);
      if (since === null) return;
      const { step } = key;
      const end = this.group.lastT ?? align(deps.now(), step);
      const start = Math.max(Math.floor(since / step) * step + step, end - (MAX_QUERY_POINTS - 1) * step);
      if (start > end) {
        this.lastT = end;
        return this.send([], end, null);
      }
      try {
        const series = await readRange(this.group, start, end);
        this.lastT = end;
        await this.send(series, end, null);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'BAD_USER_INPUT') throw error;
        if (!(error instanceof DomainError)) report(error, 'query replay');
        // The next good result reads the window for this subscriber (its lastT is before it).
        this.lastT = start - step;
        await this.send([], end, errorText(error));
      }
    }

    protected handle(event: QueryIn): void | Promise<void> {
      if (this.ended) return;
      const revoked = this.checkAccess(event);
      if (revoked) return revoked;
      if (event.type !== 'result') return;
      if (event.error !== null) return this.deliverBatch(event.event!);
      if (this.lastT !== null && event.to <= this.lastT) return;
      if (this.lastT !== null && (event.from === null || event.from > this.lastT)) return this.readOwn(event.to);
      const shared = this.lastT === null || this.lastT === event.from;
      const series = shared ? event.series : after(event.series, this.lastT);
      this.lastT = event.to;
      if (shared && event.event) return this.deliverBatch(event.event);
      // After an error, even an empty result tells the client the source is back.
      if (series.length > 0 || this.erred) return this.send(series, event.to, null);
    }

    private deliverBatch(event: SeriesBatchEvent) {
      this.erred = event.error !== null;
      deps.onBatch?.();
      return this.emit(event);
    }

    /** The results after this subscriber's last time up to `to`, read for it alone. */
    private async readOwn(to: number) {
      const { step } = this.input.key;
      const start = Math.max(this.lastT! + step, to - (MAX_QUERY_POINTS - 1) * step);
      try {
        const series = await readRange(this.group!, start, to);
        this.lastT = to;
        await this.send(series, to, null);
      } catch (error) {
        await this.send([], to, errorText(error));
      }
    }

    /** A batch of this subscriber's own (its replay, a gap it read, a partial result). */
    private send(series: QuerySeriesData[], t: number, error: string | null) {
      return this.deliverBatch(batchEvent(series, t, error));
    }

    protected leaveGroup() {
      if (this.group) leaveGroup(this.group, this);
    }
  }

  return {
    check,
    updates: (input) => {
      if (stopped) throw new DomainError('UNAVAILABLE', 'The server is stopping');
      return new Stream(input);
    },
    groupCount: () => groups.size,
    holdingCount: () => [...groups.values()].filter((g) => g.holding).length,
    subscriberCount: () => streamDeps.counter.live,
    async stop() {
      stopped = true;
      await Promise.all([...groups.values()].map(closeGroup));
    },
  };
}

const batchEvent = (series: QuerySeriesData[], t: number, error: string | null): SeriesBatchEvent => ({
  __typename: 'SeriesBatch',
  series,
  cursor: encodeQueryCursor(t),
  error,
});

/** The points of each series after `t` (all when null); series left without points are dropped. */
function after(series: readonly QuerySeriesData[], t: number | null): QuerySeriesData[] {
  if (t === null) return [...series];
  const result: QuerySeriesData[] = [];
  for (const s of series) {
    if (s.points.length === 0 || s.points[s.points.length - 1]![0] <= t) continue;
    const first = s.points.findIndex(([pt]) => pt > t);
    result.push(first === 0 ? s : { series: s.series, points: s.points.slice(first) });
  }
  return result;
}
