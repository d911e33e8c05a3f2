/**
 * Live data: pushing points (rule LD1) and reading series (LD2). The caller authorizes
 * (EDITOR and up to push, any member to read: the resolvers and the remote-write route do,
 * through DashboardService.authorize); this service budgets, validates, stores and tells the
 * other instances. Every transport (GraphQL, REST, Prometheus remote write) pushes through
 * `push`, so one validation and one budget judge them all.
 */
import { DomainError, badInput } from '../errors.js';
import { checkMatch, validatePoints, type PointInput } from '../domain/series.js';
import type { Config } from '../config.js';
import type { Clock } from '../ports/clock.js';
import type {
  Aggregation,
  SeriesMatch,
  SeriesPoints,
  SeriesRow,
  SeriesStore,
  WriteOutcome,
} from '../ports/series-store.js';
import { createPointBudget, type PointBudget } from './point-budget.js';

/** LD2: more raw points than this for one series asks for a step. */
export const MAX_POINTS_PER_SERIES = 11_000;
export const MAX_SERIES_LIST = 1000;

export interface PushResult {
  accepted: number;
  series: number;
}

export interface SeriesService {
  /** LD1: all of `points` or none; RATE_LIMITED beyond the user's points a minute. */
  push(userId: string, dashboardId: string, points: readonly PointInput[]): Promise<PushResult>;
  /** Dashboard.series: with each series' newest point. */
  list(
    dashboardId: string,
    match: SeriesMatch | null,
    first: number,
    search?: string | null,
  ): Promise<Array<SeriesRow & { last: { t: number; v: number } | null }>>;
  /** Dashboard.seriesData (LD2). */
  data(
    dashboardId: string,
    match: SeriesMatch,
    range: { from: number; to?: number | null; step?: number | null; agg?: Aggregation | null },
  ): Promise<SeriesPoints[]>;
  /** Deletes points older than the retention, a chunk at a time; returns how many. */
  prune(): Promise<number>;
}

export interface SeriesServiceDeps {
  store: SeriesStore;
  clock: Clock;
  config: Config;
  /** RATE_LIMIT_POINTS, counted for every instance (ports/shared-limits.ts); default: on this one. */
  budget?: PointBudget;
  /** After a write is committed (metrics, the live stream's hint to other instances). */
  onWritten?(dashboardId: string, outcome: WriteOutcome, points: number): void;
}

const PRUNE_CHUNK = 50_000;

export function createSeriesService(deps: SeriesServiceDeps): SeriesService {
  const { store, clock, config } = deps;
  const budget = deps.budget ?? createPointBudget(config.rateLimits.pointsPerMinute, () => clock.now().getTime());

  return {
    async push(userId, dashboardId, input) {
      const now = clock.now().getTime();
      const points = validatePoints(input, { now, retentionMs: config.series.retentionMs });
      await budget.take(userId, points.length);
      if (points.length === 0) return { accepted: 0, series: 0 };
      let outcome: WriteOutcome;
      try {
        outcome = await store.writePoints(dashboardId, points, { maxSeries: config.series.maxPerDashboard });
      } catch (error) {
        await budget.giveBack(userId, points.length); // nothing stored
        throw error;
      }
      deps.onWritten?.(dashboardId, outcome, points.length);
      return { accepted: outcome.accepted, series: outcome.series };
    },

    async list(dashboardId, given, first, search) {
      const match = given && checkMatch(given);
      if (search != null && search.length > 200) throw badInput('search must be at most 200 characters');
      if (!Number.isInteger(first) || first < 1 || first > MAX_SERIES_LIST) {
        throw badInput(`first must be between 1 and ${MAX_SERIES_LIST}`);
      }
      const rows = await store.listSeries(dashboardId, match, first, search);
      const last = await store.lastPoints(rows.map((r) => r.id));
      return rows.map((row) => ({ ...row, last: last.get(row.id) ?? null }));
    },

    async data(dashboardId, given, range) {
      const match = checkMatch(given);
      const to = range.to ?? clock.now().getTime();
      const { from } = range;
      if (!Number.isFinite(from) || !Number.isFinite(to) || from > to) throw badInput('from must be at most to');
      const step = range.step ?? undefined;
      if (step !== undefined) {
        if (!Number.isInteger(step) || step < 1) throw badInput('step must be a whole number of milliseconds');
        if ((to - from) / step > MAX_POINTS_PER_SERIES) {
          throw badInput(`A step of ${step} ms gives more than ${MAX_POINTS_PER_SERIES} points; ask for a larger step`);
        }
      }
      const result = await store.readPoints(dashboardId, match, {
        from,
        to,
        step,
        agg: step === undefined ? undefined : (range.agg ?? 'AVG'),
        limit: MAX_POINTS_PER_SERIES + 1,
      });
      const over = result.find((s) => s.points.length > MAX_POINTS_PER_SERIES);
      if (over) {
        throw new DomainError(
          'BAD_USER_INPUT',
          `Series ${over.series.name} has more than ${MAX_POINTS_PER_SERIES} points in the range; ask for a step`,
          { limit: MAX_POINTS_PER_SERIES },
        );
      }
      return result;
    },

    async prune() {
      const before = clock.now().getTime() - config.series.retentionMs;
      let total = 0;
      for (;;) {
        const deleted = await store.prunePoints(before, PRUNE_CHUNK);
        total += deleted;
        if (deleted < PRUNE_CHUNK) return total;
      }
    },
  };
}
