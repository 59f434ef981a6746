-- Raw GPS fixes without a spatial index on every row (issue 17: 50,000 fixes/s). The SP-GiST index of sql/220
-- still cost ≈ 5 µs of the ≈ 36 µs of CPU a fix takes (27 ms per 5,000 fixes into a table of 1,000,000), and only
-- grid edits read fixes by place. They now find the fixes whose grid may change by the grids of the edited area
-- (server/grids/membership: a placed fix lies in its grid, so its grid meets the area) through
-- patrol_points_grid_idx, and by place only the fixes no grid holds: for those this partial index remains.
CREATE INDEX patrol_points_unplaced_geom_idx ON patrol_points USING gist (geom) WHERE grid_id IS NULL;
DROP INDEX patrol_points_geom_spgist_idx;
