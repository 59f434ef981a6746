-- Incidents per grid, kept by statement triggers in the transaction of every write to incidents, so the counts
-- band of the incident tiles (below z15, no filter) reads one row per grid instead of counting every incident of
-- every grid in the tile: about 77,000 index entries for a z12 tile of the demo city, made again after each intake
-- batch touching it (bench/RESULTS.md, bench:load). Filtered tiles count the raw rows. A count that falls to 0
-- stays (tiles skip it) rather than cost each delete a search for it; rows are upserted in grid order so
-- concurrent writers lock them in the same order.
CREATE TABLE incident_grid_counts (
  grid_id bigint PRIMARY KEY,
  count integer NOT NULL
);

-- Adds `sign` × the occurrences of each grid in `grids` (NULLs: incidents outside every grid, not counted).
CREATE FUNCTION incident_grid_counts_add(grids bigint[], sign int) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO incident_grid_counts AS c (grid_id, count)
  SELECT g, sign * count(*) FROM unnest(grids) AS g WHERE g IS NOT NULL GROUP BY g ORDER BY g
  ON CONFLICT (grid_id) DO UPDATE SET count = c.count + excluded.count;
$$;

CREATE FUNCTION incident_grid_counts_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM incident_grid_counts_add(ARRAY(SELECT grid_id FROM new_rows), 1);
  RETURN NULL;
END $$;

CREATE FUNCTION incident_grid_counts_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM incident_grid_counts_add(ARRAY(SELECT grid_id FROM old_rows), -1);
  RETURN NULL;
END $$;

-- Workflow steps leave the grid as it is: only incidents moved to another grid (a grid edit re-placing them)
-- change counts, and a statement moving none writes nothing.
CREATE FUNCTION incident_grid_counts_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  moved_from bigint[];
  moved_to bigint[];
BEGIN
  SELECT array_agg(o.grid_id), array_agg(n.grid_id) INTO moved_from, moved_to
  FROM old_rows o JOIN new_rows n USING (id)
  WHERE o.grid_id IS DISTINCT FROM n.grid_id;
  IF moved_from IS NULL THEN RETURN NULL; END IF;
  PERFORM incident_grid_counts_add(moved_from, -1);
  PERFORM incident_grid_counts_add(moved_to, 1);
  RETURN NULL;
END $$;

CREATE FUNCTION incident_grid_counts_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE incident_grid_counts;
  RETURN NULL;
END $$;

CREATE TRIGGER incident_grid_counts_insert AFTER INSERT ON incidents
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION incident_grid_counts_inserted();
CREATE TRIGGER incident_grid_counts_delete AFTER DELETE ON incidents
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION incident_grid_counts_deleted();
CREATE TRIGGER incident_grid_counts_update AFTER UPDATE ON incidents
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION incident_grid_counts_updated();
CREATE TRIGGER incident_grid_counts_truncate AFTER TRUNCATE ON incidents
  FOR EACH STATEMENT EXECUTE FUNCTION incident_grid_counts_truncated();

INSERT INTO incident_grid_counts (grid_id, count)
SELECT grid_id, count(*) FROM incidents WHERE grid_id IS NOT NULL GROUP BY grid_id ORDER BY grid_id;
ANALYZE incident_grid_counts;
