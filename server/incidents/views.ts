import type { Actor } from '../auth/roles';
import { seesTokenIds } from '../auth/scope';
import type { Queryable } from '../db/pool';
import { NotFoundError } from '../errors';

/** How an incident reads in the API, as SQL over a row aliased `i`: one definition for every query that shows one. */
export const incidentJson = `json_build_object(
  'id', i.id, 'category', i.category, 'source', i.source, 'status', i.status, 'description', i.description,
  'location', ST_AsGeoJSON(i.geom, 7)::json, 'gridId', i.grid_id, 'department', i.department, 'priority', i.priority,
  'assignedWorker', i.assigned_worker, 'duplicateOf', i.duplicate_of, 'photos', i.photos,
  'h3', json_build_object('r7', i.h3_r7, 'r8', i.h3_r8, 'r9', i.h3_r9),
  'reportedAt', i.reported_at, 'dueAt', i.due_at, 'stageDueAt', i.stage_due_at, 'escalatedAt', i.escalated_at, 'escalationLevel', i.escalation_level,
  'closedAt', i.closed_at, 'satisfaction', i.satisfaction, 'version', i.version)`;

/**
 * One incident with its duplicates and timeline (GET /api/incidents/:id). The relations are named so that a
 * statement that has just written incidents and events can show them from its own RETURNING rows.
 */
export function incidentDetailJson(incidents = 'incidents', events = 'incident_events'): string {
  return `${incidentJson}::jsonb || jsonb_build_object(
    'duplicates', (SELECT coalesce(json_agg(d.id ORDER BY d.id), '[]') FROM ${incidents} d WHERE d.duplicate_of = i.id),
    'uploadedPhotos', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'url', '/api/incidents/' || i.id || '/photos/' || p.id,
                         'contentType', p.content_type, 'bytes', p.bytes, 'sha256', p.sha256, 'name', p.original_name) ORDER BY p.id), '[]')
                       FROM incident_photos p WHERE p.incident_id = i.id),
    'timeline', (SELECT coalesce(json_agg(json_build_object('id', e.id, 'at', e.at, 'kind', e.kind, 'from', e.from_status, 'to', e.to_status,
                   'actorRole', e.actor_role, 'actorTokenId', e.actor_token_id, 'comment', e.comment, 'details', e.details) ORDER BY e.id), '[]')
                 FROM ${events} e WHERE e.incident_id = i.id))`;
}

/** One incident as GET /api/incidents/:id shows it; inside a transaction, as that transaction sees it. */
export async function getIncident(db: Queryable, id: number): Promise<Record<string, unknown>> {
  const { rows } = await db.query<{ incident: Record<string, unknown> }>(`SELECT ${incidentDetailJson()} AS incident FROM incidents i WHERE i.id = $1`, [id]);
  if (!rows[0]) throw new NotFoundError(`Incident ${id} does not exist`);
  return rows[0].incident;
}

/** An incident (with or without timeline) as a reader sees it: the actors' token ids only for admins. */
export function incidentAsSeenBy(reader: Actor | null, incident: Record<string, unknown>): Record<string, unknown> {
  if (seesTokenIds(reader) || !Array.isArray(incident.timeline)) return incident;
  return { ...incident, timeline: incident.timeline.map(({ actorTokenId: _hidden, ...event }: Record<string, unknown>) => event) };
}
