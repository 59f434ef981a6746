-- Bearer tokens: only a SHA-256 hash is stored; the plain token is shown once when created.
CREATE TABLE api_tokens (
  id bigserial PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  role text NOT NULL CHECK (role IN ('admin', 'planner', 'commander', 'police', 'grid_worker', 'hotline')),
  label text,
  -- A grid worker sees only these grids (level-4 ids); empty for every other role.
  grid_ids bigint[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
