-- Photos uploaded with a report (multipart intake): the bytes live on disk under UPLOAD_DIR with a random name,
-- the row says which incident they belong to and what they are. The row is inserted in the intake transaction,
-- so a photo is either referenced by a committed incident or removed with the failed request.
CREATE TABLE incident_photos (
  id bigserial PRIMARY KEY,
  incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  -- Random name chosen by the server (never the client's file name): a path segment under UPLOAD_DIR.
  stored_name text NOT NULL UNIQUE CHECK (stored_name ~ '^[0-9a-f-]{36}\.(jpg|png|webp)$'),
  content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
  bytes integer NOT NULL CHECK (bytes > 0),
  sha256 text NOT NULL,
  original_name text,
  uploaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_photos_incident_idx ON incident_photos (incident_id, id);
CREATE TRIGGER incident_photos_audit AFTER INSERT OR UPDATE OR DELETE ON incident_photos FOR EACH ROW EXECUTE FUNCTION audit_row_change();
