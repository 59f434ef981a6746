-- A grid's incidents page by page (GET /api/incidents?grid=…, a grid worker's list): WHERE grid_id = $1 AND id > cursor
-- ORDER BY id LIMIT n reads n entries of this index. Without it the planner walked the primary key filtering on the
-- grid, ~4,000 rows for a busy grid of the demo city (16 ms instead of 0.4 ms); see bench/RESULTS.md, bench:load.
CREATE INDEX incidents_grid_id_id_idx ON incidents (grid_id, id);
