-- Every change to a grid, with who, when, why and the full before/after snapshot (attributes + GeoJSON), so a
-- planner can read a grid's story and revert to any earlier version. No foreign key: history outlives the grid.
CREATE TABLE grid_history (
  id bigserial PRIMARY KEY,
  grid_id bigint NOT NULL,
  version integer NOT NULL,
  action text NOT NULL CHECK (action IN ('create', 'update', 'delete', 'revert', 'split', 'merge')),
  reason text,
  token_id bigint,
  role text,
  at timestamptz NOT NULL,
  before jsonb,
  after jsonb
);
CREATE INDEX grid_history_grid_idx ON grid_history (grid_id, version);
