-- Same audit rule as sql/005, but a bulk load returns before building the row images: to_jsonb of every
-- imported row made a 50,000-building import spend 3.1 of its 3.6 s in this trigger for rows it then skipped.
CREATE OR REPLACE FUNCTION audit_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_row jsonb;
  new_row jsonb;
BEGIN
  -- Bulk loads (demo data, imports) record one summary row themselves instead of one per row.
  IF current_setting('citygrid.bulk', true) = 'on' THEN
    RETURN NULL;
  END IF;
  -- The 3857 copy is derived, and a token hash is a secret: neither belongs in the log.
  old_row := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) - 'geom_3857' - 'token_hash' END;
  new_row := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) - 'geom_3857' - 'token_hash' END;
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
