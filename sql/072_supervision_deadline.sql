-- Supervision (督办) gets its own deadline from the catalogue, so an incident left under supervision is escalated
-- again (each round raises escalation_level) and counts as overdue like any other stage.
ALTER TABLE incident_categories ADD COLUMN supervise_hours real CHECK (supervise_hours > 0);
-- Urgent categories are supervised hour by hour; routine ones within two days.
UPDATE incident_categories SET supervise_hours = CASE priority WHEN 1 THEN 2 WHEN 2 THEN 12 WHEN 3 THEN 24 ELSE 48 END;
ALTER TABLE incident_categories ALTER COLUMN supervise_hours SET NOT NULL, ALTER COLUMN supervise_hours SET DEFAULT 24;

ALTER TABLE incidents ADD COLUMN escalation_level smallint NOT NULL DEFAULT 0;

-- Incidents already under supervision without a deadline get one from now (a bulk change: one audit row is
-- not needed per demo incident).
SELECT set_config('citygrid.bulk', 'on', true);
UPDATE incidents i SET stage_due_at = now() + make_interval(secs => 3600 * c.supervise_hours)
FROM incident_categories c
WHERE c.name = i.category AND i.status = 'supervising' AND i.stage_due_at IS NULL;
