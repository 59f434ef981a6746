-- incidents_grid_counts_idx (sql/040) leads with grid_id, so it serves every lookup by grid (the foreign key
-- check when a grid is deleted, per-grid lists and statistics) that incidents_grid_idx served; the second btree
-- only cost every report and every import one more index insert.
DROP INDEX incidents_grid_idx;
