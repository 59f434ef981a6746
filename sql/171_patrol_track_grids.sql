-- Where a patrol track was, per level-4 grid, without overlaying its line on the grids: each stretch between two
-- fixes counts for the grid its first fix lies in (grid_at). Fixes come seconds apart, so this is the grid holding
-- the stretch, and ingest knows every fix's grid already. ST_Intersection of a whole track (sql/050) had GEOS node
-- a line that walks the same streets back and forth: 0.3 s for a day of 2,000 fixes, longer than storing them.
ALTER TABLE patrol_tracks
  -- Parallel to grid_ids: metres (on the sphere) and seconds of the track in each of those grids.
  ADD COLUMN grid_metres float8[] NOT NULL DEFAULT '{}',
  ADD COLUMN grid_seconds float8[] NOT NULL DEFAULT '{}';

-- The stretches of a LineStringM (M: epoch seconds) per grid of their first vertex.
CREATE FUNCTION track_grid_stretches(track geometry) RETURNS TABLE (grid_id bigint, metres float8, seconds float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT grid_at(ST_StartPoint(s.geom)) AS grid_id, sum(ST_DistanceSphere(ST_StartPoint(s.geom), ST_EndPoint(s.geom))),
         sum(coalesce(ST_M(ST_EndPoint(s.geom)) - ST_M(ST_StartPoint(s.geom)), 0))
  FROM ST_DumpSegments(track) s
  GROUP BY 1
$$;

-- The grid a track counts for: the one holding its longest stretch, ties to the lower id (as grid_at).
CREATE OR REPLACE FUNCTION track_grid_at(track geometry) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT grid_id FROM track_grid_stretches(track) WHERE grid_id IS NOT NULL ORDER BY metres DESC, grid_id LIMIT 1
$$;

UPDATE patrol_tracks t SET grid_id = track_grid_at(t.geom), grid_ids = s.ids, grid_metres = s.metres, grid_seconds = s.seconds
FROM patrol_tracks p
CROSS JOIN LATERAL (
  SELECT coalesce(array_agg(grid_id ORDER BY grid_id), '{}') AS ids, coalesce(array_agg(metres ORDER BY grid_id), '{}') AS metres,
         coalesce(array_agg(seconds ORDER BY grid_id), '{}') AS seconds
  FROM track_grid_stretches(p.geom_m) WHERE grid_id IS NOT NULL
) s
WHERE p.id = t.id;
