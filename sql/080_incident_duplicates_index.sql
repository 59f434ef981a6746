-- Reading an incident lists its duplicates (duplicate_of = id): without an index every read scanned the whole
-- table, 0.8 ms per incident on the small demo city and growing with it. Only linked reports are indexed.
CREATE INDEX incidents_duplicate_of_idx ON incidents (duplicate_of) WHERE duplicate_of IS NOT NULL;

-- The near-duplicate search at intake looks only for first reports (duplicate_of IS NULL) around a point. At a
-- hotspot most rows are linked reports, which the plain geometry index still returned and the filter dropped.
CREATE INDEX incidents_first_reports_geom_idx ON incidents USING gist (geom) WHERE duplicate_of IS NULL;
