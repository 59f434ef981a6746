import type { Actor } from '../auth/roles';
import { seesTokenIds } from '../auth/scope';
import type { Queryable } from '../db/pool';
import { NotFoundError } from '../errors';
import { type IncidentDetailRow, incidentDetailQuery } from './sql';

/** One incident as GET /api/incidents/:id shows it; inside a transaction, as that transaction sees it. */
export async function getIncident(db: Queryable, id: number): Promise<Record<string, unknown>> {
  const { rows } = await db.query<IncidentDetailRow>({ ...incidentDetailQuery, values: [id] });
  if (!rows[0]) throw new NotFoundError(`Incident ${id} does not exist`);
  return rows[0].incident;
}

/** An incident (with or without timeline) as a reader sees it: the actors' token ids only for admins. */
export function incidentAsSeenBy(reader: Actor | null, incident: Record<string, unknown>): Record<string, unknown> {
  if (seesTokenIds(reader) || !Array.isArray(incident.timeline)) return incident;
  return { ...incident, timeline: incident.timeline.map(({ actorTokenId: _hidden, ...event }: Record<string, unknown>) => event) };
}
