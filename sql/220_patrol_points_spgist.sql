-- Raw GPS fixes arrive by the tens of thousands per second (issue 17) and are read by place only when a grid edit
-- re-places the fixes in its area (server/grids/membership: `geom && area`). On points, SP-GiST's quad-tree serves
-- that `&&` as GIST's R-tree does, at half the cost per inserted row: a GIST insert weighs every entry of a page at
-- each level to choose where a point goes (≈ 10 µs per fix on a table of 1,000,000 fixes, the largest single cost
-- of storing one), a quad-tree descends by comparing the point with one centre per level (≈ 5 µs).
CREATE INDEX patrol_points_geom_spgist_idx ON patrol_points USING spgist (geom);
DROP INDEX patrol_points_geom_idx;
