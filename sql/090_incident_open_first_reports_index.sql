-- The near-duplicate search at intake wants open first reports around a point. Closed first reports pile up at
-- hotspots year after year, and the index of sql/080 still returned them for the filter to drop. The predicate is
-- written exactly as intake.ts writes it (finalStatuses of workflow.ts), so the planner can prove it applies.
DROP INDEX incidents_first_reports_geom_idx;
CREATE INDEX incidents_open_first_reports_geom_idx ON incidents USING gist (geom)
  WHERE duplicate_of IS NULL AND status <> ALL ('{closed,rejected}'::text[]);
