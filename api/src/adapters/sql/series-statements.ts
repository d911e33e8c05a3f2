/**
 * The SQL of the SeriesStore (`./series.ts`): which series a match selects, and the reads of
 * their points (LD2 raw and bucketed, LD3 since a position or a time). Each read returns one
 * row per series, its points as two float8 arrays (t ascending), so neither driver builds a
 * row object per point. Times and positions leave the database as float8: both are integers
 * well below 2^53, and both drivers return float8 as a JS number.
 */
import type { Aggregation, SeriesMatch } from '../../ports/series-store.js';
import { json } from './rows.js';

/** The columns a SeriesRow is read from (`s` the series). */
export const SERIES_COLUMNS = 's.id::text AS id, s.dashboard_id, s.name, s.labels, s.created_at';

/**
 * Name, then labels: `key` is the JSON array [name, k1, v1, k2, v2, ...] (keys sorted), and
 * without its closing bracket a label list sorts after each of its prefixes, so `{}` comes
 * first. "C" collation (the columns'): byte order, the same on both backends.
 */
export const SERIES_ORDER = `s.name, rtrim(s.key, ']')`;

/**
 * `s` matching one SeriesMatch: the name, and the labels holding the match's labels
 * (`@>`: every pair present, values equal). Parameters from `$first`: name, labels (JSON).
 */
export function oneMatch(first: number, match: SeriesMatch): { sql: string; params: unknown[] } {
  return {
    sql: `s.name = $${first} AND s.labels @> $${first + 1}::jsonb`,
    params: [match.name, json(match.labels ?? {})],
  };
}

/** `s` matching any of `matches`. Parameters from `$first`: names, labels (JSON texts). */
export function anyMatch(first: number, matches: readonly SeriesMatch[]): { sql: string; params: unknown[] } {
  return {
    sql: `s.name = ANY($${first}::text[]) AND EXISTS (
            SELECT 1 FROM unnest($${first}::text[], $${first + 1}::text[]) AS m(name, labels)
            WHERE m.name = s.name AND s.labels @> m.labels::jsonb)`,
    params: [matches.map((m) => m.name), matches.map((m) => json(m.labels ?? {}))],
  };
}

/** v of a bucket. LAST: the value with the bucket's largest t (t is unique within a series). */
const AGGREGATES: Record<Aggregation, string> = {
  AVG: 'avg(p.v)',
  MIN: 'min(p.v)',
  MAX: 'max(p.v)',
  SUM: 'sum(p.v)',
  COUNT: 'count(*)::float8',
  LAST: '(array_agg(p.v ORDER BY p.t DESC))[1]',
};

/**
 * LD2: the series of dashboard $1 matching `where` ($5, $6) with their points lo <= t <= hi
 * ($2, $3, integers), at most $4 each. With an aggregation, one point per non-empty bucket
 * [from + k*step, from + (k+1)*step) (from $7, step $8), t its start: computed in float8,
 * exact for integers below 2^52 (a quotient k - 1/step never rounds to k there).
 */
export function readPointsSql(where: string, agg: Aggregation | null): string {
  const points = agg
    ? `SELECT $7::float8 + floor((p.t - $7::float8) / $8::float8) * $8::float8 AS t, ${AGGREGATES[agg]} AS v
       FROM points p WHERE p.series_id = s.id AND p.t >= $2 AND p.t <= $3
       GROUP BY 1 ORDER BY 1 LIMIT $4`
    : `SELECT p.t::float8 AS t, p.v FROM points p
       WHERE p.series_id = s.id AND p.t >= $2 AND p.t <= $3 ORDER BY p.t LIMIT $4`;
  return `
    SELECT ${SERIES_COLUMNS}, x.ts, x.vs
    FROM series s CROSS JOIN LATERAL (
      SELECT array_agg(q.t ORDER BY q.t) AS ts, array_agg(q.v ORDER BY q.t) AS vs FROM (${points}) AS q) AS x
    WHERE s.dashboard_id = $1 AND ${where}
    ORDER BY ${SERIES_ORDER}`;
}

/**
 * LD3, in one statement and so one snapshot: the head of dashboard $1, and for the series
 * matching `where` the points written after position $2 up to that head (`after`), or with
 * t > $2 (`since`, an integer): the newest $3 of each, series without such points left out
 * (a row of nulls when none is left). A writer commits its points and its head together, so
 * every point at or below the head read here is visible here too.
 */
export function readSinceSql(where: string, from: 'after' | 'since'): string {
  const filter = from === 'after' ? 'p.pos > $2 AND p.pos <= h.pos' : 'p.t > $2';
  return `
    WITH h AS (SELECT coalesce((SELECT pos FROM series_heads WHERE dashboard_id = $1), 0) AS pos)
    SELECT h.pos::float8 AS head, m.* FROM h LEFT JOIN LATERAL (
      SELECT ${SERIES_COLUMNS}, rtrim(s.key, ']') AS sort, x.ts, x.vs
      FROM series s CROSS JOIN LATERAL (
        SELECT array_agg(q.t ORDER BY q.t) AS ts, array_agg(q.v ORDER BY q.t) AS vs FROM (
          SELECT p.t::float8 AS t, p.v FROM points p
          WHERE p.series_id = s.id AND ${filter} ORDER BY p.t DESC LIMIT $3) AS q) AS x
      WHERE s.dashboard_id = $1 AND ${where} AND x.ts IS NOT NULL) AS m ON true
    ORDER BY m.name, m.sort`;
}
