-- Supervision (督办) gets its own deadline from the catalogue, so an incident left under supervision is escalated
-- again (each round raises escalation_level) and counts as overdue like any other stage. Rows already under
-- supervision keep no stage deadline, as rows loaded in any other stage do: deadlines start with the workflow.
ALTER TABLE incident_categories ADD COLUMN supervise_hours real CHECK (supervise_hours > 0);
-- Urgent categories are supervised hour by hour; routine ones within two days.
UPDATE incident_categories SET supervise_hours = CASE priority WHEN 1 THEN 2 WHEN 2 THEN 12 WHEN 3 THEN 24 ELSE 48 END;
ALTER TABLE incident_categories ALTER COLUMN supervise_hours SET NOT NULL, ALTER COLUMN supervise_hours SET DEFAULT 24;

ALTER TABLE incidents ADD COLUMN escalation_level smallint NOT NULL DEFAULT 0;
