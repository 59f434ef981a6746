-- Storing raw GPS fixes at the rate phones send them (issue 17: 50,000 fixes/s in batches of 5,000). A profile of
-- the ingest (perf, bench/RESULTS.md) put most of PostgreSQL's time per fix in three things no reader needs.

-- 1. The spatial index. Fixes are read by place only when a grid edit re-places those in its area
-- (server/grids/membership: `geom && area`). On points SP-GiST's quad-tree serves that `&&` as GIST's R-tree does,
-- at half the cost per insert: GIST weighs every entry of a page at each level to choose where a point goes
-- (≈ 10 µs per fix on a table of 1,000,000), the quad-tree compares the point with one centre per level (≈ 5 µs).
CREATE INDEX patrol_points_geom_spgist_idx ON patrol_points USING spgist (geom);
DROP INDEX patrol_points_geom_idx;

-- 2. The foreign key to grids: PostgreSQL checks it fix by fix, a query and a row lock each (≈ 5 µs per fix), to
-- guard the few grids of a batch. The ingest takes that same lock (FOR KEY SHARE) once per batch on the grids it
-- places fixes in (server/patrols/sql.ts), and every grid delete locks its grid (FOR UPDATE) and moves its members
-- before deleting it (server/grids): a delete waits for the batches placing fixes in its grid and then moves their
-- fixes too, and a batch after the delete no longer finds the grid. test/patrols/grid-lock.
ALTER TABLE patrol_points DROP CONSTRAINT patrol_points_grid_id_fkey;

-- 3. Compressing each rebuilt track: a day's track is 30–50 kB per geometry column, over the size PostgreSQL
-- compresses, and GPS coordinates barely compress — pglz spent 4 % of the machine's time on it. Kept out of line,
-- uncompressed.
ALTER TABLE patrol_tracks
  ALTER COLUMN geom SET STORAGE EXTERNAL,
  ALTER COLUMN geom_m SET STORAGE EXTERNAL,
  ALTER COLUMN geom_3857 SET STORAGE EXTERNAL;
