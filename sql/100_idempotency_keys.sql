-- Idempotency-Key (server/idempotency/keys.ts): what a create returned, kept 24 hours under the key its client
-- sent, so that a retry of a request whose answer was lost (a commit during a database restart, a server killed)
-- gets that answer again instead of creating a second thing. Written in the transaction of the create itself.
CREATE TABLE idempotency_keys (
  -- Whose key: keys of different tokens never meet ('token:12'; 'public' without one).
  scope text NOT NULL,
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  -- SHA-256 of the request (method, path, query, body): the same key with another request is refused.
  fingerprint text NOT NULL,
  -- What the write returned; json, not jsonb, so the replayed answer keeps the first one's member order.
  result json NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
