-- Traffic-accident risk (server/risk): trained models as versioned artefacts, and the predictions the scheduler
-- writes every 2 hours for the next 6 windows.
CREATE TABLE risk_models (
  version serial PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  unit_kind text NOT NULL CHECK (unit_kind IN ('road', 'h3')),
  h3_resolution smallint CHECK (h3_resolution BETWEEN 6 AND 10),
  utc_offset_minutes int NOT NULL,
  trained_from timestamptz NOT NULL,
  trained_to timestamptz NOT NULL CHECK (trained_to > trained_from),
  -- Feature names, standardisation, coefficients and the options they were fitted with.
  parameters jsonb NOT NULL,
  -- Hold-out evaluation (model, HA_total, HA_slot, ceiling) of the same options on the span's last part.
  evaluation jsonb NOT NULL
);

CREATE TABLE risk_predictions (
  window_start timestamptz NOT NULL,
  unit_key text NOT NULL,
  window_end timestamptz NOT NULL,
  model_version int NOT NULL REFERENCES risk_models (version) ON DELETE CASCADE,
  issued_at timestamptz NOT NULL,
  road_id bigint REFERENCES roads (id) ON DELETE CASCADE,
  expected double precision NOT NULL CHECK (expected >= 0),
  level smallint NOT NULL CHECK (level BETWEEN 1 AND 4),
  rank int NOT NULL CHECK (rank >= 1),
  top_features jsonb NOT NULL,
  geom geometry(Geometry, 4326) NOT NULL,
  geom_3857 geometry(Geometry, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
  PRIMARY KEY (window_start, unit_key)
);
CREATE INDEX risk_predictions_rank_idx ON risk_predictions (window_start, rank);
CREATE INDEX risk_predictions_geom_idx ON risk_predictions USING gist (geom);
CREATE INDEX risk_predictions_geom_3857_idx ON risk_predictions USING gist (geom_3857);
-- Like every tile table: rows are written in spatial order (server/risk/store.ts), and a CLUSTER uses this index.
ALTER TABLE risk_predictions CLUSTER ON risk_predictions_geom_3857_idx;
