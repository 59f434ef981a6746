import type { WriteContext } from '../db/write-context';
import type { Pool, Queryable } from '../db/pool';
import type { Clock } from '../deps';
import { BadRequestError, NotFoundError } from '../errors';
import { type Category, createIncident, type IncidentSummary, listCategories, listIncidents } from '../incidents/service';
import { finalStatuses } from '../incidents/workflow';
import { publicDescription, publicLocation } from './public-view';
import type { Open311RequestBody, Open311RequestsQuery } from './schemas';

/** GeoReport v2 over the incidents domain: a service is a catalogue category, a request is an incident. */
export function toService(category: Category) {
  return {
    service_code: category.code,
    service_name: category.name,
    description: `${category.name}（${category.department}，优先级 ${category.priority}）`,
    metadata: false,
    type: 'realtime',
    keywords: category.name,
    group: category.department,
  };
}

/** An incident as the public reads it: numbers that identify people removed, sensitive categories approximately located. */
function toRequest(incident: IncidentSummary, categories: Map<string, Category>) {
  const category = categories.get(incident.category);
  const { lat, long } = publicLocation(incident.location.coordinates, category?.sensitive ?? false);
  return {
    service_request_id: String(incident.id),
    status: finalStatuses.includes(incident.status) ? 'closed' : 'open',
    status_notes: incident.status,
    service_name: incident.category,
    service_code: category?.code ?? null,
    description: publicDescription(incident.description),
    agency_responsible: incident.department,
    service_notice: null,
    requested_datetime: incident.reportedAt,
    updated_datetime: incident.closedAt ?? incident.reportedAt,
    expected_datetime: incident.dueAt,
    address: null,
    lat,
    long,
    media_url: incident.photos[0] ?? null,
  };
}

export async function listServices(db: Queryable) {
  return (await listCategories(db)).map(toService);
}

export async function getService(db: Queryable, code: string) {
  const category = (await listCategories(db)).find((c) => c.code === code);
  if (!category) throw new NotFoundError(`Service ${code} does not exist`);
  return { service_code: category.code, attributes: [] };
}

const defaultWindowDays = 90;
const maxRequests = 1000;

export async function findRequests(db: Queryable, clock: Clock, query: Open311RequestsQuery) {
  const categories = await listCategories(db);
  const byName = new Map(categories.map((c) => [c.name, c]));
  const category = query.service_code === undefined ? undefined : categories.find((c) => c.code === query.service_code)?.name;
  if (query.service_code !== undefined && !category) return [];
  const ids = query.service_request_id;
  // GeoReport v2: without dates, the last 90 days; with ids, the dates do not apply.
  const end = query.end_date;
  const start = query.start_date ?? new Date(new Date(end ?? clock()).getTime() - defaultWindowDays * 86_400_000).toISOString();
  const page = await listIncidents(db, {
    ids,
    category,
    open: query.status === undefined ? undefined : query.status === 'open',
    from: ids ? undefined : start,
    to: ids ? undefined : end,
    limit: maxRequests,
  });
  return page.items.map((incident) => toRequest(incident, byName));
}

export async function getRequest(db: Queryable, clock: Clock, id: number) {
  const found = await findRequests(db, clock, { service_request_id: [id] });
  if (!found.length) throw new NotFoundError(`Service request ${id} does not exist`);
  return found;
}

export async function fileRequest(pool: Pool, clock: Clock, writer: WriteContext, body: Open311RequestBody) {
  const category = (await listCategories(pool)).find((c) => c.code === body.service_code);
  if (!category) throw new BadRequestError(`Unknown service_code ${body.service_code}`, { rule: 'known-service' });
  const contact = [body.first_name, body.last_name, body.email, body.phone].filter(Boolean).join(' ') || undefined;
  const id = await createIncident(pool, clock, writer, {
    category: category.name,
    location: { type: 'Point', coordinates: [body.long, body.lat] },
    description: body.description,
    source: 'open311',
    reporterContact: contact,
    photos: body.media_url ? [body.media_url] : [],
  });
  return [{ service_request_id: String(id), service_notice: `已受理登记，${category.department}负责`, account_id: null }];
}
