import { type WriteContext, withWriteTransaction } from '../db/write-context';
import { checkVersion } from '../db/versions';
import type { Actor } from '../auth/roles';
import { inGridScope } from '../auth/scope';
import type { Pool, PoolClient, Queryable } from '../db/pool';
import type { Clock } from '../deps';
import { ConflictError, ForbiddenError, NotFoundError, RuleViolationError } from '../errors';
import { publishChange } from '../events/bus';
import { assertTwoDimensional } from '../geo/extent';
import { type IntakeAttachment, intakeQueue } from './intake';
import type { CreateIncidentInput, ListIncidentsQuery, TransitionInput } from './schemas';
import { categoryExistsSql, departmentExistsSql, incidentPageQuery, insertEventSql, type InsertedEventRow, listCategoriesSql, lockIncidentSql, type LockedIncidentRow, transitionSql, updateCategorySql } from './sql';
import { getIncident, incidentAsSeenBy } from './views';
import { allowedFrom, findTransition, finalStatuses, type StageHours, type Status, stageHours } from './workflow';

export interface EventRecord {
  incidentId: number;
  at: Date;
  kind: 'reported' | 'transition' | 'escalated' | 'duplicate-linked';
  from: Status | null;
  to: Status;
  actor: Actor | null;
  comment?: string | null;
  details?: Record<string, unknown>;
}

/**
 * Stores one timeline event and announces it to every process (delivered when the transaction commits), with
 * the extent of the incident and its level-4 grid: the area whose tiles (its point, its grid's count) it alters.
 */
export async function recordEvent(client: Queryable, event: EventRecord): Promise<number> {
  const { rows } = await client.query<InsertedEventRow>(
    insertEventSql,
    [event.incidentId, event.at, event.kind, event.from, event.to, event.actor?.tokenId ?? null, event.actor?.role ?? null, event.comment ?? null, JSON.stringify(event.details ?? {})],
  );
  const { id, grid_bbox: gridBbox } = rows[0];
  await publishChange(client, { kind: 'incident-changed', id: event.incidentId, status: event.to, eventId: id, ...(gridBbox ? { gridBbox } : {}) });
  return id;
}

/**
 * Intake (发现): the incident lands in its level-4 grid with that grid's first worker and the catalogue's
 * department and deadlines (trigger in sql/030), and is linked to an open near-duplicate if there is one.
 * Resolves once the report is committed (group commit with the reports arriving meanwhile: see intake.ts).
 */
export async function reportIncident(pool: Pool, clock: Clock, writer: WriteContext, input: CreateIncidentInput, attach?: IntakeAttachment): Promise<Record<string, unknown>> {
  assertTwoDimensional(input.location, 'location');
  return intakeQueue(pool).submit({ input, writer, reportedAt: clock(), attach });
}

/** Intake for callers that need only the new incident's id. */
export async function createIncident(pool: Pool, clock: Clock, writer: WriteContext, input: CreateIncidentInput, attach?: IntakeAttachment): Promise<number> {
  return (await reportIncident(pool, clock, writer, input, attach)).id as number;
}

/** One incident as this reader may see it: outside a grid worker's grids it does not exist (the same 404). */
export async function readIncident(db: Queryable, id: number, reader: Actor | null): Promise<Record<string, unknown>> {
  const incident = await getIncident(db, id);
  if (!inGridScope(reader, incident.gridId as number | null)) throw new NotFoundError(`Incident ${id} does not exist`);
  return incidentAsSeenBy(reader, incident);
}

/**
 * The HTTP filters plus what other domains (Open311) ask for: open or final incidents, these ids, and the grids a
 * reader is limited to (gridScope).
 */
export type IncidentFilter = ListIncidentsQuery & { open?: boolean; ids?: number[]; grids?: number[] | null };

export interface IncidentSummary {
  id: number;
  category: string;
  source: string;
  status: Status;
  description: string | null;
  location: { type: 'Point'; coordinates: [number, number] };
  department: string | null;
  photos: string[];
  reportedAt: string;
  dueAt: string | null;
  closedAt: string | null;
}

export async function listIncidents(db: Queryable, query: IncidentFilter): Promise<{ items: IncidentSummary[]; nextCursor: number | null }> {
  const { rows } = await db.query<{ id: number; incident: IncidentSummary }>(incidentPageQuery(query, query.cursor ?? 0, query.limit + 1));
  const page = rows.slice(0, query.limit);
  return { items: page.map((row) => row.incident), nextCursor: rows.length > query.limit ? page[page.length - 1].id : null };
}

export interface Category extends StageHours {
  name: string;
  code: string;
  department: string;
  priority: number;
  /** Reports of this category are about people: public reads show them only approximately located. */
  sensitive: boolean;
}

export async function listCategories(db: Queryable): Promise<Category[]> {
  const { rows } = await db.query<Category>(listCategoriesSql);
  return rows;
}

/** Whether the catalogue has this category. */
export async function categoryExists(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query(categoryExistsSql, [name]);
  return Boolean(rowCount);
}

/** Admin edits of the catalogue apply to incidents reported from then on; deadlines already set stay. */
export async function updateCategory(pool: Pool, writer: WriteContext, name: string, change: Partial<Omit<Category, 'name' | 'code'>>): Promise<Category> {
  return withWriteTransaction(pool, writer, async (client) => {
    if (change.department !== undefined) {
      const { rowCount } = await client.query(departmentExistsSql, [change.department]);
      if (!rowCount) throw new RuleViolationError(`Unknown department ${change.department}`, { rule: 'known-department' });
    }
    const { rows } = await client.query<Category>(
      updateCategorySql,
      [name, change.department ?? null, change.priority ?? null, change.accept_hours ?? null, change.dispatch_hours ?? null, change.handle_hours ?? null, change.feedback_hours ?? null,
        change.supervise_hours ?? null, change.sensitive ?? null],
    );
    if (!rows[0]) throw new NotFoundError(`Incident category ${name} does not exist`);
    return rows[0];
  });
}

/**
 * Locks an incident that this actor changes: a grid worker only within the grids they serve, else 404. With the
 * version the client last read (If-Match), 412 when the incident has moved on since.
 */
export async function lockIncidentFor(client: PoolClient, actor: Actor, id: number, expectedVersion?: string): Promise<LockedIncidentRow> {
  const { rows } = await client.query<LockedIncidentRow>(
    lockIncidentSql,
    [id],
  );
  if (!rows[0] || !inGridScope(actor, rows[0].grid_id)) throw new NotFoundError(`Incident ${id} does not exist`);
  // Imported history may carry categories outside the catalogue: without deadlines the workflow cannot run.
  if (!rows[0].catalogued) throw new RuleViolationError(`Category ${rows[0].category} is not in the catalogue`, { rule: 'known-category' });
  checkVersion(`incident ${id}`, rows[0].version, expectedVersion, false, { id });
  return rows[0];
}

async function checkDepartment(client: Queryable, input: TransitionInput): Promise<void> {
  if (input.department === undefined) return;
  if (input.to !== 'dispatched') {
    throw new RuleViolationError('A department is named only when dispatching or reassigning', { rule: 'department-on-dispatch' });
  }
  const { rowCount } = await client.query(departmentExistsSql, [input.department]);
  if (!rowCount) throw new RuleViolationError(`Unknown department ${input.department}`, { rule: 'known-department' });
}

/** One workflow step: checked against the transition table and the actor's role, stored, announced. */
export async function transitionIncident(pool: Pool, clock: Clock, writer: WriteContext, id: number, input: TransitionInput, expectedVersion?: string): Promise<void> {
  const actor = writer.actor;
  if (!actor) throw new ForbiddenError('Workflow steps need an authenticated actor');
  if (input.satisfaction !== undefined && input.to !== 'closed') {
    throw new RuleViolationError('Satisfaction is recorded only when closing (评价)', { rule: 'satisfaction-on-close' });
  }
  await withWriteTransaction(pool, writer, async (client) => {
    const incident = await lockIncidentFor(client, actor, id, expectedVersion);
    const transition = findTransition(incident.status, input.to);
    if (!transition) {
      throw new ConflictError(`An incident cannot go from ${incident.status} to ${input.to}`, {
        from: incident.status,
        allowed: allowedFrom(incident.status, actor.role).map((t) => t.to),
      });
    }
    if (!transition.roles.includes(actor.role)) {
      throw new ForbiddenError(`Role ${actor.role} may not move an incident from ${incident.status} to ${input.to}`, { allowedRoles: transition.roles });
    }
    await checkDepartment(client, input);
    const now = clock();
    const hours = stageHours(input.to, incident);
    await client.query(
      transitionSql,
      [id, input.to, hours === null ? null : String(hours), now, input.department ?? null, finalStatuses, input.satisfaction ?? null],
    );
    await recordEvent(client, {
      incidentId: id,
      at: now,
      kind: 'transition',
      from: incident.status,
      to: input.to,
      actor,
      comment: input.comment,
      details: { ...(input.department && { department: input.department, previousDepartment: incident.department }), ...(input.satisfaction && { satisfaction: input.satisfaction }) },
    });
  });
}
