-- The patrol pipeline (issue 17): phones post GPS fixes (server/patrols), tracks are built from them per worker
-- and local day, live positions and patrol coverage are read from them.

-- A grid worker's token speaks for one worker id (as named in grids.workers): they post and read their own fixes.
ALTER TABLE api_tokens ADD COLUMN worker text;
-- "Is this a known worker?" and "which grids are this worker's own?" are asked on every batch and summary.
CREATE INDEX grids_workers_idx ON grids USING gin (workers);

-- Tracks keep the time of every vertex as M (epoch seconds): geometry and times cannot drift apart, PostGIS keeps
-- M through ST_Simplify, ST_Transform and ST_LocateAlong, and playback needs nothing but the track once the raw
-- fixes are gone (retention). geom stays the 2D line the tiles, grid membership and track_grid_at read.
ALTER TABLE patrol_tracks
  ADD COLUMN geom_m geometry(LineStringM, 4326),
  ADD COLUMN distance_m float8,
  ADD COLUMN fixes integer,
  -- The level-4 grids the track crossed (those of its fixes); grid_id is the one holding most of it (sql/050).
  ADD COLUMN grid_ids bigint[] NOT NULL DEFAULT '{}';

UPDATE patrol_tracks t SET geom_m = p.line, fixes = p.n, grid_ids = p.grids
FROM (
  SELECT track_id, ST_SetSRID(ST_MakeLine(ST_MakePointM(ST_X(geom), ST_Y(geom), extract(epoch FROM recorded_at)) ORDER BY recorded_at), 4326) AS line,
         count(*)::int AS n, coalesce(array_agg(DISTINCT grid_id) FILTER (WHERE grid_id IS NOT NULL), '{}') AS grids
  FROM patrol_points GROUP BY track_id HAVING count(*) > 1
) p
WHERE p.track_id = t.id;
-- A stored track without two fixes of its own gets times spread evenly from its start to its end.
UPDATE patrol_tracks SET geom_m = ST_AddMeasure(geom, extract(epoch FROM started_at), extract(epoch FROM ended_at)), fixes = ST_NPoints(geom)
WHERE geom_m IS NULL;
UPDATE patrol_tracks SET distance_m = ST_Length(geom::geography);
ALTER TABLE patrol_tracks ALTER COLUMN geom_m SET NOT NULL, ALTER COLUMN distance_m SET NOT NULL, ALTER COLUMN fixes SET NOT NULL;

-- Raw fixes: tracks are rebuilt from them, so a fix no longer belongs to one track row (rebuilding replaces the
-- rows); it is identified by worker and time, which makes a repeated batch change nothing.
ALTER TABLE patrol_points DROP COLUMN track_id;
DELETE FROM patrol_points a USING patrol_points b WHERE a.worker = b.worker AND a.recorded_at = b.recorded_at AND a.id > b.id;
DROP INDEX patrol_points_worker_time_idx;
CREATE UNIQUE INDEX patrol_points_worker_time_key ON patrol_points (worker, recorded_at);
ALTER TABLE patrol_points
  ADD COLUMN speed_mps real,
  ADD COLUMN heading_deg real,
  -- Stored but left out of tracks: accuracy worse than 100 m, an implied speed above 40 m/s, outside the city.
  ADD COLUMN flag text CHECK (flag IN ('inaccurate', 'too_fast', 'outside_city')),
  ADD COLUMN received_at timestamptz NOT NULL DEFAULT now();
UPDATE patrol_points SET flag = 'inaccurate' WHERE accuracy_m > 100;
-- Retention deletes by time alone.
CREATE INDEX patrol_points_recorded_at_idx ON patrol_points (recorded_at);

-- Each worker's newest accepted fix: GET /api/patrols/live without scanning fixes, and the per-worker throttle
-- of position events (announced_at), shared by every server process.
CREATE TABLE patrol_live (
  worker text PRIMARY KEY,
  recorded_at timestamptz NOT NULL,
  geom geometry(Point, 4326) NOT NULL,
  announced_at timestamptz
);

-- A counter per local day, raised whenever a track of that day is rebuilt: coverage computed for an older
-- version of a day is stale and computed again.
CREATE TABLE patrol_days (
  day date PRIMARY KEY,
  version bigint NOT NULL DEFAULT 1
);

-- Coverage per level-4 grid and day, computed on first read from that day's tracks and kept: tracks stay when
-- the raw fixes go, and so do these figures.
CREATE TABLE patrol_coverage (
  day date NOT NULL,
  grid_id bigint NOT NULL REFERENCES grids (id) ON DELETE CASCADE,
  version bigint NOT NULL,
  road_m float8 NOT NULL,
  road_covered_m float8 NOT NULL,
  buildings integer NOT NULL,
  buildings_covered integer NOT NULL,
  distance_m float8 NOT NULL,
  seconds float8 NOT NULL,
  workers text[] NOT NULL,
  PRIMARY KEY (day, grid_id)
);
CREATE INDEX patrol_coverage_grid_idx ON patrol_coverage (grid_id, day);
