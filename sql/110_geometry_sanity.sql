-- Geometry every write must pass besides validity (issue 13: a whole-world building, antimeridian-crossing
-- polygons and a hazard at latitude 90 were stored). One rule for the HTTP writes and the bulk imports, so a dry
-- run, an import and a single POST refuse the same shapes with the same words.

-- The city's extent grown by a margin: the configured one (CITY_EXTENT, as minLon, minLat, maxLon, maxLat), else
-- the extent of the top-level grids when from_grids; NULL when there is neither (a city without grids yet).
CREATE FUNCTION city_extent(configured float8[], margin_m float8, from_grids boolean DEFAULT true) RETURNS box2d
LANGUAGE sql STABLE AS $$
  SELECT ST_Expand(e, margin_m / (111320 * cos(radians(least(89, greatest(abs(ST_YMin(e)), abs(ST_YMax(e))))))), margin_m / 111320)
  FROM (
    SELECT CASE WHEN configured IS NOT NULL THEN ST_MakeBox2D(ST_Point(configured[1], configured[2]), ST_Point(configured[3], configured[4]))
                WHEN from_grids THEN (SELECT ST_Extent(geom) FROM grids WHERE parent_id IS NULL) END AS e
  ) extent
  WHERE e IS NOT NULL
$$;

-- Why a geometry cannot be stored, or NULL. Z (and M) are refused, not dropped: every table is 2D, and a
-- coordinate silently lost is worse than a request refused with the reason (README: geometry rules).
-- STABLE, not IMMUTABLE, because format() is: PostgreSQL inlines a SQL function only when its body is no more
-- volatile than declared, and called instead of inlined this cost 6.3 s per 200,000 imported rows, not 1.4 s.
CREATE FUNCTION geometry_problem(g geometry, extent box2d) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN ST_NDims(g) > 2 THEN 'has a third (Z or M) coordinate: citygrid stores longitude and latitude only (drop it, e.g. ogr2ogr -dim XY)'
    WHEN ST_YMin(g) < -85.051129 OR ST_YMax(g) > 85.051129 THEN 'reaches beyond latitude ±85.0511°, where web maps end'
    WHEN ST_XMax(g) - ST_XMin(g) > 180 THEN 'spans more than 180° of longitude: a shape across the antimeridian or around the world'
    WHEN extent IS NOT NULL AND (ST_XMin(g) < ST_XMin(extent) OR ST_XMax(g) > ST_XMax(extent) OR ST_YMin(g) < ST_YMin(extent) OR ST_YMax(g) > ST_YMax(extent))
      THEN format('lies outside the city (%s,%s,%s,%s with its margin; CITY_EXTENT sets it)',
                  round(ST_XMin(extent)::numeric, 4), round(ST_YMin(extent)::numeric, 4), round(ST_XMax(extent)::numeric, 4), round(ST_YMax(extent)::numeric, 4))
  END
$$;
