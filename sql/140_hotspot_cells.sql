-- Hotspot cells: one resolution-10 H3 index per incident and accident, as a bigint (set at write time by the
-- server, back-filled for existing rows by server/hotspots/backfill.ts when this migration runs). Coarser cells
-- are derived by h3_cell_parent(); bench/RESULTS.md (hotspots) compares this with one text column per resolution.
ALTER TABLE incidents ADD COLUMN h3_r10 bigint;
ALTER TABLE accidents ADD COLUMN h3_r10 bigint;

-- The parent of an H3 cell at a coarser resolution, by the bit layout of an H3 index (h3geo.org, "H3 Index
-- Representations"): bits 52–55 hold the resolution and each of the 15 digits takes 3 bits from bit 44 down;
-- digits finer than the resolution are 7 (all ones). So the parent is the cell with the resolution field
-- replaced and every digit below it set to 7. Checked against h3-js cellToParent in test/hotspots.
CREATE FUNCTION h3_cell_parent(cell bigint, res int) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (cell & ~(15::bigint << 52)) | (res::bigint << 52) | ((1::bigint << (3 * (15 - res))) - 1);

-- Counts per cell over a time span read these without visiting the table (index-only once vacuumed); they lead
-- with the time column like the indexes they replace.
CREATE INDEX incidents_reported_at_cells_idx ON incidents (reported_at) INCLUDE (h3_r10, category, status);
DROP INDEX incidents_reported_at_idx;
CREATE INDEX accidents_occurred_at_cells_idx ON accidents (occurred_at) INCLUDE (h3_r10, casualties);
DROP INDEX accidents_occurred_at_idx;
