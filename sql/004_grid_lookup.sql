-- The one point-in-polygon rule every domain uses to place a thing in a level-4 grid. A point exactly on a
-- shared border touches two grids; the lower id wins so the answer is always the same.
CREATE FUNCTION grid_at(point geometry) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT id FROM grids WHERE level = 4 AND ST_Intersects(geom, point) ORDER BY id LIMIT 1
$$;
