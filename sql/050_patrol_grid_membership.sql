-- Patrol data belongs to grids like every other member and follows them when boundaries change (issue 3).
-- A GPS fix is placed like any point, by grid_at(). A track counts for the level-4 grid that holds the longest
-- stretch of it: a worker who walks their grid and crosses a border road for a few hundred metres still
-- patrolled their own grid, which is how a grid manager reads a patrol; ties (a track running exactly along a
-- shared border) go to the lower id, as in grid_at(). Lengths are measured on the spheroid so that east-west and
-- north-south stretches compare fairly.
ALTER TABLE patrol_points ADD COLUMN grid_id bigint REFERENCES grids (id);
CREATE INDEX patrol_points_grid_idx ON patrol_points (grid_id);

CREATE FUNCTION track_grid_at(track geometry) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT id FROM grids
  WHERE level = 4 AND geom && track AND ST_Intersects(geom, track)
  ORDER BY ST_Length(ST_Intersection(geom, track)::geography) DESC, id
  LIMIT 1
$$;

UPDATE patrol_points SET grid_id = grid_at(geom);
UPDATE patrol_tracks SET grid_id = track_grid_at(geom) WHERE grid_id IS DISTINCT FROM track_grid_at(geom);
