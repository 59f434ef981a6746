-- Audit of every write: one row per changed row, written by a trigger so no write path can forget it.
-- Who and through which route come from transaction-local settings made by withWriteTransaction().
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  token_id bigint,
  role text,
  route text,
  request_id text,
  entity text NOT NULL,
  entity_id bigint,
  action text NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
  before jsonb,
  after jsonb
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);
CREATE INDEX audit_log_at_idx ON audit_log (at);

CREATE FUNCTION audit_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  -- The 3857 copy is derived, and a token hash is a secret: neither belongs in the log.
  old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) - 'geom_3857' - 'token_hash' END;
  new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) - 'geom_3857' - 'token_hash' END;
BEGIN
  -- Bulk loads (demo data, imports) record one summary row themselves instead of one per row.
  IF current_setting('citygrid.bulk', true) = 'on' THEN
    RETURN NULL;
  END IF;
  INSERT INTO audit_log (token_id, role, route, request_id, entity, entity_id, action, before, after)
  VALUES (
    nullif(current_setting('citygrid.token_id', true), '')::bigint,
    nullif(current_setting('citygrid.role', true), ''),
    nullif(current_setting('citygrid.route', true), ''),
    nullif(current_setting('citygrid.request_id', true), ''),
    TG_TABLE_NAME,
    (coalesce(new_row, old_row) ->> 'id')::bigint,
    lower(TG_OP),
    old_row,
    new_row
  );
  RETURN NULL;
END
$$;

CREATE TRIGGER grids_audit AFTER INSERT OR UPDATE OR DELETE ON grids FOR EACH ROW EXECUTE FUNCTION audit_row_change();
CREATE TRIGGER buildings_audit AFTER INSERT OR UPDATE OR DELETE ON buildings FOR EACH ROW EXECUTE FUNCTION audit_row_change();
CREATE TRIGGER people_audit AFTER INSERT OR UPDATE OR DELETE ON people FOR EACH ROW EXECUTE FUNCTION audit_row_change();
CREATE TRIGGER hazards_audit AFTER INSERT OR UPDATE OR DELETE ON hazards FOR EACH ROW EXECUTE FUNCTION audit_row_change();
CREATE TRIGGER key_places_audit AFTER INSERT OR UPDATE OR DELETE ON key_places FOR EACH ROW EXECUTE FUNCTION audit_row_change();
CREATE TRIGGER incidents_audit AFTER INSERT OR UPDATE OR DELETE ON incidents FOR EACH ROW EXECUTE FUNCTION audit_row_change();
CREATE TRIGGER api_tokens_audit AFTER INSERT OR UPDATE OR DELETE ON api_tokens FOR EACH ROW EXECUTE FUNCTION audit_row_change();
