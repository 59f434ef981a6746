-- Bulk imports check every row's geometry in one pass over a staging table; a row that PostGIS cannot even
-- parse must become a per-row error ("row 17: geometry: ..."), not abort the whole statement.
CREATE FUNCTION parse_import_geometry(source text, OUT geom geometry, OUT reason text)
-- Not PARALLEL SAFE: the EXCEPTION block starts a subtransaction, which parallel workers cannot.
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  geom := CASE WHEN left(ltrim(source), 1) = '{' THEN ST_GeomFromGeoJSON(source) ELSE ST_GeomFromEWKT(source) END;
  IF ST_SRID(geom) NOT IN (0, 4326) THEN
    reason := format('SRID %s is not WGS84 (4326)', ST_SRID(geom));
  ELSIF ST_XMin(geom) < -180 OR ST_XMax(geom) > 180 OR ST_YMin(geom) < -90 OR ST_YMax(geom) > 90 THEN
    reason := 'coordinates out of range for WGS84 longitude/latitude';
  ELSIF NOT ST_IsValid(geom) THEN
    reason := ST_IsValidReason(geom);
  END IF;
  geom := CASE WHEN reason IS NULL THEN ST_SetSRID(geom, 4326) END;
EXCEPTION WHEN others THEN
  geom := NULL;
  reason := SQLERRM;
END
$$;
