-- Water and parks: what the offline basemap draws under the streets (tile layer land_cover). The demo city fills
-- it; a real city imports its own.
CREATE TABLE land_cover (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('water', 'park')),
  name text,
  geom geometry(MultiPolygon, 4326) NOT NULL,
  geom_3857 geometry(MultiPolygon, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED
);
CREATE INDEX land_cover_geom_idx ON land_cover USING gist (geom);
CREATE INDEX land_cover_geom_3857_idx ON land_cover USING gist (geom_3857);
