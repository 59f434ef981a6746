-- grid_at() (sql/004) asks for level-4 grids only, but grids_geom_idx holds every level: each point matched its
-- district, street and community too and had them dropped by the level filter, four point-in-polygon tests for
-- one answer. Patrol ingest places every GPS fix this way (thousands per batch).
CREATE INDEX grids_level4_geom_idx ON grids USING gist (geom) WHERE level = 4;
