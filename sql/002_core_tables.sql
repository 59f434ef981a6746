-- Core tables every feature builds on. Geometry is stored in WGS84 (EPSG:4326) as received and validated;
-- a generated EPSG:3857 copy with its own GIST index lets tile queries use the index without a per-row transform.

CREATE TABLE grids (
  id bigserial PRIMARY KEY,
  code text NOT NULL UNIQUE,
  name text NOT NULL,
  level smallint NOT NULL CHECK (level BETWEEN 1 AND 4),
  parent_id bigint REFERENCES grids (id),
  geom geometry(MultiPolygon, 4326) NOT NULL,
  geom_3857 geometry(MultiPolygon, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
  leader text,
  workers text[] NOT NULL DEFAULT '{}',
  households_target integer CHECK (households_target > 0),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((level = 1) = (parent_id IS NULL))
);
CREATE INDEX grids_geom_idx ON grids USING gist (geom);
CREATE INDEX grids_geom_3857_idx ON grids USING gist (geom_3857);
CREATE INDEX grids_parent_idx ON grids (parent_id);
CREATE INDEX grids_level_idx ON grids (level);

-- 房: a building footprint; it belongs to the level-4 grid holding its centroid.
CREATE TABLE buildings (
  id bigserial PRIMARY KEY,
  code text UNIQUE,
  address text,
  use text NOT NULL DEFAULT 'residential',
  floors smallint NOT NULL DEFAULT 1 CHECK (floors BETWEEN 1 AND 200),
  households integer NOT NULL DEFAULT 0 CHECK (households >= 0),
  rental_units integer NOT NULL DEFAULT 0 CHECK (rental_units >= 0),
  geom geometry(MultiPolygon, 4326) NOT NULL,
  geom_3857 geometry(MultiPolygon, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
  grid_id bigint REFERENCES grids (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX buildings_geom_idx ON buildings USING gist (geom);
CREATE INDEX buildings_geom_3857_idx ON buildings USING gist (geom_3857);
CREATE INDEX buildings_grid_idx ON buildings (grid_id);

-- 人: personal data. No geometry of its own: a person lives in a building. Demo rows carry no names.
CREATE TABLE people (
  id bigserial PRIMARY KEY,
  building_id bigint NOT NULL REFERENCES buildings (id),
  category text NOT NULL CHECK (category IN ('常住', '流动', '重点关注')),
  household_no text,
  birth_year smallint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX people_building_idx ON people (building_id);

-- 危险源
CREATE TABLE hazards (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  kind text NOT NULL,
  risk_level smallint NOT NULL CHECK (risk_level BETWEEN 1 AND 4),
  last_inspected_at date,
  next_inspection_due date,
  geom geometry(Point, 4326) NOT NULL,
  geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
  grid_id bigint REFERENCES grids (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hazards_geom_idx ON hazards USING gist (geom);
CREATE INDEX hazards_geom_3857_idx ON hazards USING gist (geom_3857);
CREATE INDEX hazards_grid_idx ON hazards (grid_id);

-- 重点场所
CREATE TABLE key_places (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  kind text NOT NULL,
  capacity integer CHECK (capacity >= 0),
  geom geometry(Point, 4326) NOT NULL,
  geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
  grid_id bigint REFERENCES grids (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX key_places_geom_idx ON key_places USING gist (geom);
CREATE INDEX key_places_geom_3857_idx ON key_places USING gist (geom_3857);
CREATE INDEX key_places_grid_idx ON key_places (grid_id);

CREATE TABLE incidents (
  id bigserial PRIMARY KEY,
  category text NOT NULL,
  source text NOT NULL CHECK (source IN ('app', 'hotline', 'wechat', 'patrol', 'open311')),
  status text NOT NULL,
  description text,
  reported_at timestamptz NOT NULL,
  closed_at timestamptz,
  geom geometry(Point, 4326) NOT NULL,
  geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
  grid_id bigint REFERENCES grids (id),
  -- H3 cells (hex strings from h3-js) at three resolutions for hotspot aggregation without geometry work.
  h3_r7 text,
  h3_r8 text,
  h3_r9 text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incidents_geom_idx ON incidents USING gist (geom);
CREATE INDEX incidents_geom_3857_idx ON incidents USING gist (geom_3857);
CREATE INDEX incidents_grid_idx ON incidents (grid_id);
CREATE INDEX incidents_reported_at_idx ON incidents (reported_at);
CREATE INDEX incidents_status_idx ON incidents (status);
CREATE INDEX incidents_h3_r9_idx ON incidents (h3_r9);

CREATE TABLE roads (
  id bigserial PRIMARY KEY,
  name text,
  kind text NOT NULL CHECK (kind IN ('arterial', 'primary', 'local')),
  lanes smallint NOT NULL DEFAULT 2,
  speed_limit smallint NOT NULL DEFAULT 40,
  geom geometry(LineString, 4326) NOT NULL,
  geom_3857 geometry(LineString, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED
);
CREATE INDEX roads_geom_idx ON roads USING gist (geom);
CREATE INDEX roads_geom_3857_idx ON roads USING gist (geom_3857);

CREATE TABLE accidents (
  id bigserial PRIMARY KEY,
  occurred_at timestamptz NOT NULL,
  severity text NOT NULL CHECK (severity IN ('fatal', 'serious', 'slight')),
  vehicles smallint NOT NULL DEFAULT 1,
  casualties smallint NOT NULL DEFAULT 0,
  road_id bigint REFERENCES roads (id),
  geom geometry(Point, 4326) NOT NULL,
  geom_3857 geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED
);
CREATE INDEX accidents_geom_idx ON accidents USING gist (geom);
CREATE INDEX accidents_geom_3857_idx ON accidents USING gist (geom_3857);
CREATE INDEX accidents_road_idx ON accidents (road_id);
CREATE INDEX accidents_occurred_at_idx ON accidents (occurred_at);

-- One line per worker per patrol; raw GPS fixes in patrol_points.
CREATE TABLE patrol_tracks (
  id bigserial PRIMARY KEY,
  worker text NOT NULL,
  grid_id bigint REFERENCES grids (id),
  started_at timestamptz NOT NULL,
  ended_at timestamptz NOT NULL,
  geom geometry(LineString, 4326) NOT NULL,
  geom_3857 geometry(LineString, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
  CHECK (ended_at >= started_at)
);
CREATE INDEX patrol_tracks_geom_idx ON patrol_tracks USING gist (geom);
CREATE INDEX patrol_tracks_geom_3857_idx ON patrol_tracks USING gist (geom_3857);
CREATE INDEX patrol_tracks_worker_idx ON patrol_tracks (worker, started_at);
CREATE INDEX patrol_tracks_grid_idx ON patrol_tracks (grid_id);

CREATE TABLE patrol_points (
  id bigserial PRIMARY KEY,
  track_id bigint NOT NULL REFERENCES patrol_tracks (id) ON DELETE CASCADE,
  worker text NOT NULL,
  recorded_at timestamptz NOT NULL,
  accuracy_m real,
  geom geometry(Point, 4326) NOT NULL
);
CREATE INDEX patrol_points_geom_idx ON patrol_points USING gist (geom);
CREATE INDEX patrol_points_track_idx ON patrol_points (track_id, recorded_at);
CREATE INDEX patrol_points_worker_time_idx ON patrol_points (worker, recorded_at);
