/**
 * Series and their points (DESIGN.md section 10): data beside the document, never in it.
 * Part of the Store (`./store.ts`); errors as described there. Rules: LD1 (a write is all or
 * nothing; the same (series, t) again replaces its value), LD2 (reads, aggregation in the
 * database), LD3 (the ingest position: what a live stream resumes from).
 */

import type { Labels } from '../domain/series.js';

export type { Labels };

/** A series as stored: identified within its dashboard by (name, labels). */
export interface SeriesRow {
  /** Stable for the life of the series (a decimal string). */
  id: string;
  dashboardId: string;
  name: string;
  /** Keys in sorted order. */
  labels: Labels;
  createdAt: Date;
}

/** SeriesMatch: the name, and a subset of the labels matched exactly. */
export interface SeriesMatch {
  name: string;
  labels?: Labels | null;
}

/** A point to store, already valid (domain/series.ts validatePoints). */
export interface PointWrite {
  name: string;
  labels: Labels;
  /** domain/series.ts seriesKey(name, labels). */
  key: string;
  t: number;
  v: number;
}

export type Aggregation = 'AVG' | 'MIN' | 'MAX' | 'SUM' | 'LAST' | 'COUNT';

/** [t, v] pairs, t ascending. */
export type PointPairs = Array<[number, number]>;

export interface SeriesPoints {
  series: SeriesRow;
  points: PointPairs;
}

export interface WriteOutcome {
  /** Points stored (replacements included). */
  accepted: number;
  /** Distinct series the request touched. */
  series: number;
  /** Series the request created. */
  created: SeriesRow[];
  /** The dashboard's ingest position after this write (LD3). */
  position: number;
}

export interface SeriesStore {
  /**
   * LD1: stores `points` atomically and advances the dashboard's ingest position by one
   * (writes to one dashboard are serialised, so positions commit in order). Concurrent writes
   * may be committed together, as one write: then they share its position. Creates the
   * series it does not know, unless the dashboard would then hold more than `maxSeries`: then
   * nothing is stored and it throws BAD_USER_INPUT naming the index of the first point of a
   * series beyond the cap (`extensions.index`). An existing (series, t) takes the new value.
   * NOT_FOUND when the dashboard does not exist or is deleted.
   */
  writePoints(
    dashboardId: string,
    points: readonly PointWrite[],
    options: { maxSeries: number },
  ): Promise<WriteOutcome>;
  /**
   * The series matching `match` (all when null), ordered by name then labels, at most `first`.
   * `search`: words that must each occur, case-insensitively, in the name or a label's name
   * or value (a series picker's search box).
   */
  listSeries(
    dashboardId: string,
    match: SeriesMatch | null,
    first: number,
    search?: string | null,
  ): Promise<SeriesRow[]>;
  /** The newest point of each series (absent: the series has no point left). */
  lastPoints(seriesIds: readonly string[]): Promise<Map<string, { t: number; v: number }>>;
  /**
   * LD2: for every series matching `match`, its points with from <= t <= to, ascending, at
   * most `limit` each (ask for limit + 1 to tell that a series has more). With `step`, one
   * point per non-empty bucket [from + k*step, from + (k+1)*step): t the bucket's start, v
   * the aggregation of its points (computed in the database).
   */
  readPoints(
    dashboardId: string,
    match: SeriesMatch,
    range: { from: number; to: number; step?: number; agg?: Aggregation; limit: number },
  ): Promise<SeriesPoints[]>;
  /**
   * LD3: the points written after ingest position `after` (whatever their t) for the series
   * matching any of `matches`, and the position they reach. `since` (ms) instead of `after`
   * reads the stored points with t > since (the first batch of a stream opened with `since`).
   * At most `limit` points per series, the newest kept.
   */
  readSince(
    dashboardId: string,
    matches: readonly SeriesMatch[],
    from: { after: number } | { since: number },
    limit: number,
  ): Promise<{ position: number; series: SeriesPoints[] }>;
  /** The dashboard's current ingest position (0 before any write). */
  ingestPosition(dashboardId: string): Promise<number>;
  /** How many series the dashboard holds (null: every dashboard, the dash_series gauge). */
  countSeries(dashboardId: string | null): Promise<number>;
  /**
   * LD1 retention: deletes at most `limit` points with t < `before`, over all dashboards;
   * when that finishes them (fewer than `limit` deleted, or `limit` 0), also the series left
   * without points and older than `before`. Returns the points deleted.
   */
  prunePoints(before: number, limit: number): Promise<number>;
}
