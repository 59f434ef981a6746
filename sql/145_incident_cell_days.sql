-- Incidents per H3 cell (resolutions 6–10) and UTC day, kept by statement triggers in the transaction of every
-- write to incidents, so the whole-city counts of /api/hotspots read a few thousand rows for the whole days of a
-- span instead of every incident (bench/RESULTS.md, hotspots). Rows without a cell are not counted, as in the
-- raw statement. No category or status: filtered requests count the raw rows. A count that falls to 0 stays
-- (readers skip it) rather than cost each delete a search for it.
CREATE TABLE incident_cell_days (
  res smallint NOT NULL,
  day date NOT NULL,
  cell bigint NOT NULL,
  count integer NOT NULL,
  PRIMARY KEY (res, day, cell)
);

-- Adds `sign` × the rows of `changed` (a transition table's rows as (reported_at, h3_r10)) to the counts, one
-- upsert per statement; rows are upserted in key order so concurrent writers lock them in the same order.
CREATE FUNCTION incident_cell_days_add(changed jsonb, sign int) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO incident_cell_days AS d (res, day, cell, count)
  SELECT r.res, (c.reported_at AT TIME ZONE 'UTC')::date, h3_cell_parent(c.h3_r10, r.res), sign * count(*)
  FROM jsonb_to_recordset(changed) AS c(reported_at timestamptz, h3_r10 bigint)
  CROSS JOIN generate_series(6, 10) AS r(res)
  WHERE c.h3_r10 IS NOT NULL
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3
  ON CONFLICT (res, day, cell) DO UPDATE SET count = d.count + excluded.count;
$$;

CREATE FUNCTION incident_cell_days_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM incident_cell_days_add((SELECT jsonb_agg(jsonb_build_object('reported_at', reported_at, 'h3_r10', h3_r10)) FROM new_rows), 1);
  RETURN NULL;
END $$;

CREATE FUNCTION incident_cell_days_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM incident_cell_days_add((SELECT jsonb_agg(jsonb_build_object('reported_at', reported_at, 'h3_r10', h3_r10)) FROM old_rows), -1);
  RETURN NULL;
END $$;

-- Status transitions, grid re-assignment and the like change neither time nor cell: only rows whose time or cell
-- changed move between counts.
CREATE FUNCTION incident_cell_days_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  moved_from jsonb;
  moved_to jsonb;
BEGIN
  SELECT jsonb_agg(jsonb_build_object('reported_at', o.reported_at, 'h3_r10', o.h3_r10)),
         jsonb_agg(jsonb_build_object('reported_at', n.reported_at, 'h3_r10', n.h3_r10))
    INTO moved_from, moved_to
  FROM old_rows o JOIN new_rows n USING (id)
  WHERE (o.reported_at, o.h3_r10) IS DISTINCT FROM (n.reported_at, n.h3_r10);
  IF moved_from IS NULL THEN RETURN NULL; END IF;
  PERFORM incident_cell_days_add(moved_from, -1);
  PERFORM incident_cell_days_add(moved_to, 1);
  RETURN NULL;
END $$;

CREATE FUNCTION incident_cell_days_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE incident_cell_days;
  RETURN NULL;
END $$;

CREATE TRIGGER incident_cell_days_insert AFTER INSERT ON incidents
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION incident_cell_days_inserted();
CREATE TRIGGER incident_cell_days_delete AFTER DELETE ON incidents
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION incident_cell_days_deleted();
CREATE TRIGGER incident_cell_days_update AFTER UPDATE ON incidents
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION incident_cell_days_updated();
CREATE TRIGGER incident_cell_days_truncate AFTER TRUNCATE ON incidents
  FOR EACH STATEMENT EXECUTE FUNCTION incident_cell_days_truncated();

INSERT INTO incident_cell_days (res, day, cell, count)
SELECT r.res, (i.reported_at AT TIME ZONE 'UTC')::date, h3_cell_parent(i.h3_r10, r.res), count(*)
FROM incidents i CROSS JOIN generate_series(6, 10) AS r(res)
WHERE i.h3_r10 IS NOT NULL
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
-- Written in key order, a span's rows of one resolution lie together (the triggers append day after day), and
-- with fresh statistics the planner reads them by the key instead of guessing a handful of rows.
ANALYZE incident_cell_days;
