/**
 * The SeriesStore on SQL: `series_heads` (each dashboard's ingest position), `series` and
 * `points` (statements for reads in `./series-statements.ts`). Rules: LD1 (a write is one
 * transaction, all or nothing, with the series cap counted under the head lock; the same
 * (series, t) again replaces its value), LD2 (raw and bucketed reads, aggregated in the
 * database), LD3 (positions commit in order, so a read after a position misses nothing).
 * Deleting a dashboard deletes its series (`deleteSeriesOf`, run by the soft delete).
 */
import { canonicalLabels, type Labels } from '../../domain/series.js';
import { DomainError, notFound } from '../../errors.js';
import type { PointPairs, PointWrite, SeriesPoints, SeriesRow, SeriesStore } from '../../ports/series-store.js';
import type { Queryable, SqlDb } from '../sql-db.js';
import { date, json, type Row } from './rows.js';
import { anyMatch, oneMatch, readPointsSql, readSinceSql, SERIES_COLUMNS, SERIES_ORDER } from './series-statements.js';

const toSeries = (r: Row): SeriesRow => ({
  id: String(r.id),
  dashboardId: r.dashboard_id as string,
  name: r.name as string,
  // jsonb keeps keys shortest first; the port promises them sorted.
  labels: canonicalLabels(r.labels as Labels),
  createdAt: date(r.created_at),
});

const toSeriesPoints = (r: Row): SeriesPoints => {
  const ts = (r.ts as number[] | null) ?? [];
  const vs = (r.vs as number[] | null) ?? [];
  return { series: toSeries(r), points: ts.map((t, i): [number, number] => [Number(t), Number(vs[i])]) as PointPairs };
};

/**
 * Bumps the dashboard's ingest position, creating it on the first write, and holds the row
 * until commit: the lock that serialises writes to one dashboard (LD3). No row for a
 * dashboard that does not exist. The dashboards row is only FK-checked by that first insert.
 */
const BUMP_HEAD = `
  INSERT INTO series_heads (dashboard_id, pos) SELECT id, 1 FROM dashboards WHERE id = $1
  ON CONFLICT (dashboard_id) DO UPDATE SET pos = series_heads.pos + 1
  RETURNING pos::float8 AS pos`;

/**
 * Read after the head lock, so in a snapshot that sees every write committed before it: no
 * row when the dashboard was deleted, else one row per known series of the request (or one
 * row of nulls).
 */
const KNOWN_SERIES = `
  SELECT s.id::text AS id, s.key FROM dashboards d
  LEFT JOIN series s ON s.dashboard_id = d.id AND s.key = ANY($2::text[])
  WHERE d.id = $1 AND d.deleted_at IS NULL`;

const INSERT_SERIES = `
  INSERT INTO series (dashboard_id, name, labels, key)
  SELECT $1, u.name, u.labels::jsonb, u.key FROM unnest($2::text[], $3::text[], $4::text[]) AS u(key, name, labels)
  RETURNING id::text AS id, dashboard_id, name, labels, key, created_at`;

/** One row per (series, t): ON CONFLICT cannot touch a row twice in one statement. */
const UPSERT_POINTS = `
  INSERT INTO points (series_id, t, v, pos)
  SELECT u.series_id, u.t, u.v, $4 FROM unnest($1::bigint[], $2::bigint[], $3::float8[]) AS u(series_id, t, v)
  ON CONFLICT (series_id, t) DO UPDATE SET v = excluded.v, pos = excluded.pos`;

/**
 * Deletes the dashboard's series and (by cascade) their points, inside the caller's
 * transaction, which has marked the dashboard deleted. It takes the head lock first (creating
 * the row if no write ever did), so a write in flight either commits before and is deleted
 * here, or waits and then finds the dashboard deleted (NOT_FOUND).
 */
export async function deleteSeriesOf(tx: Queryable, dashboardId: string): Promise<void> {
  await tx.query(
    `INSERT INTO series_heads (dashboard_id, pos) VALUES ($1, 0)
     ON CONFLICT (dashboard_id) DO UPDATE SET pos = series_heads.pos`,
    [dashboardId],
  );
  await tx.query('DELETE FROM series WHERE dashboard_id = $1', [dashboardId]);
}

/** Series ids of the request's keys, read without a lock (the fast path's first step). */
const SERIES_IDS = `SELECT id::text AS id, key FROM series WHERE dashboard_id = $1 AND key = ANY($2::text[])`;

/**
 * The fast path of a write whose series all exist: the head bump and the points in one
 * autocommit statement, so the head lock is held only inside the database, never while the
 * server's event loop gets round to its next statement. No row from `h` when the dashboard is
 * deleted (then nothing is written). A series deleted since its id was read (retention pruning
 * it, or the dashboard's deletion) fails the foreign key: the caller falls back to the
 * transaction, which looks the series up under the lock.
 */
const FAST_WRITE = `
  WITH h AS (
    UPDATE series_heads SET pos = pos + 1
    WHERE dashboard_id = $1 AND EXISTS (SELECT 1 FROM dashboards WHERE id = $1 AND deleted_at IS NULL)
    RETURNING pos
  ), w AS (
    INSERT INTO points (series_id, t, v, pos)
    SELECT u.series_id, u.t, u.v, h.pos FROM h, unnest($2::bigint[], $3::bigint[], $4::float8[]) AS u(series_id, t, v)
    ON CONFLICT (series_id, t) DO UPDATE SET v = excluded.v, pos = excluded.pos
    RETURNING 1
  )
  SELECT (SELECT pos FROM h)::float8 AS pos, (SELECT count(*) FROM w)::int AS n`;

const FOREIGN_KEY_VIOLATION = '23503';

type PointRow = [seriesId: string, t: number, v: number];

/** "series id:t" -> row; the last of a (series, t) given twice wins (ON CONFLICT cannot touch a row twice). */
function dedupe(rows: Iterable<PointRow>): PointRow[] {
  const byKey = new Map<string, PointRow>();
  for (const row of rows) byKey.set(`${row[0]}:${row[1]}`, row);
  return [...byKey.values()];
}

const columns = (rows: readonly PointRow[]) => [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])];

const rowsOf = (points: readonly PointWrite[], ids: ReadonlyMap<string, string>): PointRow[] =>
  points.map((p) => [ids.get(p.key)!, p.t, p.v]);

/** At most this many points in one coalesced fast write (five full requests). */
const MAX_COALESCED_POINTS = 50_000;

interface FastWrite {
  rows: PointRow[];
  settle(outcome: { position: number | null } | { error: unknown }): void;
}

export function createSqlSeries(db: SqlDb): SeriesStore {
  /**
   * Fast writes to one dashboard that arrive while one is running are coalesced into the
   * next statement (group commit, as the op engine does): they would wait for the head lock
   * anyway, and one statement for several requests costs the database one lock hand-off and
   * one index pass instead of several. They share its position; a later request's value wins
   * on a (series, t) two of them write. dashboardId -> requests waiting for the next statement.
   */
  const waiting = new Map<string, FastWrite[]>();

  async function runFastWrites(dashboardId: string, queue: FastWrite[]) {
    while (queue.length > 0) {
      let points = 0;
      let taken = 0;
      while (taken < queue.length && (taken === 0 || points + queue[taken]!.rows.length <= MAX_COALESCED_POINTS)) {
        points += queue[taken]!.rows.length;
        taken++;
      }
      const group = queue.splice(0, taken);
      try {
        const { rows } = await db.query<Row>(FAST_WRITE, [
          dashboardId,
          ...columns(dedupe(group.flatMap((w) => w.rows))),
        ]);
        const position = rows[0]?.pos == null ? null : Number(rows[0].pos);
        for (const write of group) write.settle({ position });
      } catch (error) {
        for (const write of group) write.settle({ error });
      }
    }
    waiting.delete(dashboardId);
  }

  /** The fast write's position (null: the dashboard is deleted); rejects as the statement did. */
  function fastWrite(dashboardId: string, rows: PointRow[]): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const write: FastWrite = {
        rows,
        settle: (outcome) => ('error' in outcome ? reject(outcome.error) : resolve(outcome.position)),
      };
      const queue = waiting.get(dashboardId);
      if (queue) return void queue.push(write);
      const fresh = [write];
      waiting.set(dashboardId, fresh);
      void runFastWrites(dashboardId, fresh);
    });
  }

  return {
    async writePoints(dashboardId, points, { maxSeries }) {
      // key -> the series and the index of its first point, in order of first appearance
      const wanted = new Map<string, { name: string; labels: Labels; first: number }>();
      points.forEach((p, i) => {
        if (!wanted.has(p.key)) wanted.set(p.key, { name: p.name, labels: p.labels, first: i });
      });
      const known = await db.query<Row>(SERIES_IDS, [dashboardId, [...wanted.keys()]]);
      if (known.rows.length === wanted.size) {
        const ids = new Map(known.rows.map((r) => [r.key as string, r.id as string]));
        try {
          const position = await fastWrite(dashboardId, rowsOf(points, ids));
          if (position !== null) return { accepted: points.length, series: wanted.size, created: [], position };
          // No head bumped: the dashboard is deleted. The transaction says NOT_FOUND.
        } catch (error) {
          // A series deleted meanwhile (by this request's series or another's coalesced
          // with it): each request retries alone, under the lock.
          if ((error as { code?: string }).code !== FOREIGN_KEY_VIOLATION) throw error;
        }
      }
      return db.transaction(async (tx) => {
        const head = await tx.query<Row>(BUMP_HEAD, [dashboardId]);
        if (!head.rows[0]) throw notFound();
        const position = Number(head.rows[0].pos);
        const known = await tx.query<Row>(KNOWN_SERIES, [dashboardId, [...wanted.keys()]]);
        if (known.rows.length === 0) throw notFound();
        // key -> series id
        const ids = new Map(known.rows.filter((r) => r.id != null).map((r) => [r.key as string, r.id as string]));
        const fresh = [...wanted].filter(([key]) => !ids.has(key));
        let created: SeriesRow[] = [];
        if (fresh.length > 0) {
          // Counted under the head lock: no other write to this dashboard can add series now.
          const count = await tx.query<Row>('SELECT count(*)::int AS n FROM series WHERE dashboard_id = $1', [
            dashboardId,
          ]);
          const room = maxSeries - Number(count.rows[0]!.n);
          if (fresh.length > room) {
            const index = fresh[Math.max(room, 0)]![1].first;
            throw new DomainError(
              'BAD_USER_INPUT',
              `Point ${index}: the dashboard already holds ${maxSeries} series (MAX_SERIES_PER_DASHBOARD); this one would be one more`,
              { index },
            );
          }
          const inserted = await tx.query<Row>(INSERT_SERIES, [
            dashboardId,
            fresh.map(([key]) => key),
            fresh.map(([, s]) => s.name),
            fresh.map(([, s]) => json(s.labels)),
          ]);
          for (const r of inserted.rows) ids.set(r.key as string, r.id as string);
          const order = new Map(fresh.map(([key], i) => [key, i]));
          created = inserted.rows
            .sort((a, b) => order.get(a.key as string)! - order.get(b.key as string)!)
            .map(toSeries);
        }
        await tx.query(UPSERT_POINTS, [...columns(dedupe(rowsOf(points, ids))), position]);
        return { accepted: points.length, series: wanted.size, created, position };
      });
    },

    async listSeries(dashboardId, match, first, search) {
      const words = (search ?? '').toLowerCase().split(/\s+/).filter(Boolean);
      const m = match ? oneMatch(4, match) : null;
      // The key spells the name and every label name and value: each word must occur in it.
      const searched = `AND (cardinality($3::text[]) = 0
        OR (SELECT bool_and(strpos(lower(s.key), w) > 0) FROM unnest($3::text[]) AS w))`;
      const { rows } = await db.query<Row>(
        `SELECT ${SERIES_COLUMNS} FROM series s WHERE s.dashboard_id = $1 ${m ? `AND ${m.sql}` : ''} ${searched}
         ORDER BY ${SERIES_ORDER} LIMIT $2`,
        [dashboardId, first, words, ...(m?.params ?? [])],
      );
      return rows.map(toSeries);
    },

    async lastPoints(seriesIds) {
      if (seriesIds.length === 0) return new Map();
      const { rows } = await db.query<Row>(
        `SELECT u.id::text AS id, p.t::float8 AS t, p.v FROM unnest($1::bigint[]) AS u(id)
         CROSS JOIN LATERAL (SELECT t, v FROM points WHERE series_id = u.id ORDER BY t DESC LIMIT 1) AS p`,
        [[...seriesIds]],
      );
      return new Map(rows.map((r) => [r.id as string, { t: Number(r.t), v: Number(r.v) }]));
    },

    async readPoints(dashboardId, match, { from, to, step, agg, limit }) {
      const m = oneMatch(5, match);
      const bucketed = step !== undefined && step > 0;
      const { rows } = await db.query<Row>(readPointsSql(m.sql, bucketed ? (agg ?? 'AVG') : null), [
        dashboardId,
        // t is an integer: t >= from is t >= ceil(from), t <= to is t <= floor(to).
        Math.ceil(from),
        Math.floor(to),
        limit,
        ...m.params,
        ...(bucketed ? [from, step] : []),
      ]);
      return rows.map(toSeriesPoints);
    },

    async readSince(dashboardId, matches, from, limit) {
      const m = anyMatch(4, matches);
      const after = 'after' in from;
      const { rows } = await db.query<Row>(readSinceSql(m.sql, after ? 'after' : 'since'), [
        dashboardId,
        after ? from.after : Math.floor(from.since),
        limit,
        ...m.params,
      ]);
      return {
        position: Number(rows[0]?.head ?? 0),
        series: rows.filter((r) => r.id != null).map(toSeriesPoints),
      };
    },

    async ingestPosition(dashboardId) {
      const { rows } = await db.query<Row>('SELECT pos::float8 AS pos FROM series_heads WHERE dashboard_id = $1', [
        dashboardId,
      ]);
      return Number(rows[0]?.pos ?? 0);
    },

    async countSeries(dashboardId) {
      const { rows } =
        dashboardId === null
          ? await db.query<Row>('SELECT count(*)::int AS n FROM series')
          : await db.query<Row>('SELECT count(*)::int AS n FROM series WHERE dashboard_id = $1', [dashboardId]);
      return Number(rows[0]!.n);
    },

    async prunePoints(before, limit) {
      // Per series, its oldest points through the primary key: no index on t alone to keep
      // up at ingest. t < before is t < ceil(before) for an integer t.
      const { rowCount } = await db.query(
        `DELETE FROM points p USING (
           SELECT o.series_id, o.t FROM series s CROSS JOIN LATERAL (
             SELECT series_id, t FROM points WHERE series_id = s.id AND t < $1 ORDER BY t LIMIT $2) AS o
           LIMIT $2) AS old
         WHERE p.series_id = old.series_id AND p.t = old.t`,
        [Math.ceil(before), limit],
      );
      // Series left empty: once per pass, when the points are done (fewer deleted than asked,
      // or limit 0), not on every chunk: finding them scans the series.
      const done = rowCount < limit || limit === 0;
      if (!done) return rowCount;
      await db.transaction(async (tx) => {
        const empty = `s.created_at < to_timestamp($1::float8 / 1000)
          AND NOT EXISTS (SELECT 1 FROM points p WHERE p.series_id = s.id)`;
        // The heads of their dashboards, in id order, so no write is adding points to them
        // meanwhile; the delete then re-checks in a snapshot taken after the locks.
        const { rows } = await tx.query<Row>(
          `SELECT dashboard_id FROM series_heads
           WHERE dashboard_id IN (SELECT s.dashboard_id FROM series s WHERE ${empty})
           ORDER BY dashboard_id FOR UPDATE`,
          [before],
        );
        if (rows.length === 0) return;
        await tx.query(`DELETE FROM series s WHERE s.dashboard_id = ANY($2::uuid[]) AND ${empty}`, [
          before,
          rows.map((r) => r.dashboard_id),
        ]);
      });
      return rowCount;
    },
  };
}
