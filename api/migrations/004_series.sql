-- Live data (DESIGN.md section 10, rules LD1-LD3): series and their points, beside the
-- document. Runs on PostgreSQL 15 and PGlite.

-- A dashboard's ingest position (LD3). Every write of points bumps `pos` first, which locks
-- the row: writes to one dashboard serialise and their positions commit in order, so a reader
-- that reads the head and then `pos <= head` never misses a point committed later with a
-- lower position. The row is made by the dashboard's first write; the series hang off it
-- (not off `dashboards`), so creating a series never takes a lock on the dashboards row that
-- op commits lock (`FOR UPDATE`).
CREATE TABLE series_heads (
  dashboard_id uuid PRIMARY KEY REFERENCES dashboards(id) ON DELETE CASCADE,
  pos          bigint NOT NULL
);

-- A series is (name, labels) within its dashboard; `key` is domain/series.ts seriesKey (the
-- name and the labels with sorted keys), so label order never makes two series. "C" collation:
-- both backends order names the same way, and one index serves `name = $1` and `ORDER BY name`.
CREATE TABLE series (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dashboard_id uuid NOT NULL REFERENCES series_heads(dashboard_id) ON DELETE CASCADE,
  name         text COLLATE "C" NOT NULL,
  labels       jsonb NOT NULL,
  key          text COLLATE "C" NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (dashboard_id, key)
);
-- Matching (`name = $2 AND labels @> $3`): at most MAX_SERIES_PER_DASHBOARD rows per
-- dashboard, so the labels are filtered on the rows of one name.
CREATE INDEX series_name ON series (dashboard_id, name);

-- One value per (series, t): writing it again replaces the value (LD1) and moves the point to
-- the write's position, which is what a stream resumed `after` a position reads (LD3).
CREATE TABLE points (
  series_id bigint NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  t         bigint NOT NULL,                   -- ms since the epoch
  v         double precision NOT NULL,
  pos       bigint NOT NULL,                   -- the dashboard's ingest position that wrote it
  PRIMARY KEY (series_id, t)
);
CREATE INDEX points_pos ON points (series_id, pos);
