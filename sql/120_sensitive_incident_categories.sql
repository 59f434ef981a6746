-- Categories whose reports are about people rather than things: a dispute, a public-security tip, a migrant to
-- register, a crowded rental flat, a neighbour's noise or pet. The exact point of such a report names a household
-- (and often who reported it), so public reads (Open311) show it only to the centre of its H3 resolution-8 cell.
-- Admins change the flag with PATCH /api/incidents/categories/:name.
ALTER TABLE incident_categories ADD COLUMN sensitive boolean NOT NULL DEFAULT false;

UPDATE incident_categories SET sensitive = true
WHERE code IN ('dispute', 'public-security', 'migrant-registration', 'group-renting', 'noise', 'pets');
