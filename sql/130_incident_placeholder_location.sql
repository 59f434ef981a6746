-- Imported histories put reports without a real location at the city's default point (Boston: 14 % of 2015 at
-- one point). Such rows keep the point they came with but are flagged, have no grid and no H3 cells, and are
-- left off maps, so they make no false hotspot (server/incidents/import.ts decides which points are placeholders).
ALTER TABLE incidents ADD COLUMN location_placeholder boolean NOT NULL DEFAULT false;
