import { latLngToCell } from 'h3-js';
import type { WriteContext } from '../audit/write-context';
import type { Pool, PoolClient, Queryable } from '../db/pool';
import { RuleViolationError } from '../errors';
import { notifyArguments } from '../events/bus';
import type { CreateIncidentInput } from './schemas';
import { incidentDetailJson } from './views';
import { finalStatuses } from './workflow';

/** Near-duplicates: same category, still open, this close in space and time, are linked to the first report. */
export const duplicateRadiusMetres = 50;
export const duplicateWindowHours = 24;

/** Reports written in one statement at most; more wait for the next batch. */
export const maxBatchSize = 200;

export interface IntakeReport {
  input: CreateIncidentInput;
  writer: WriteContext;
  reportedAt: Date;
}

/** The stored incident as GET /api/incidents/:id shows it. */
export type Incident = Record<string, unknown>;

interface Pending {
  report: IntakeReport;
  resolve: (incident: Incident) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: reports that arrive while a batch is being written wait and are written together by the next
 * batch, with set-based SQL. Each caller is answered only once the statement holding its report has committed,
 * so nothing acknowledged is lost. One batch at a time per pool keeps near-duplicate linking exact: a batch sees
 * every report committed before it, and links to earlier reports of its own batch in decideOutcomes.
 */
class IntakeQueue {
  private waiting: Pending[] = [];
  private writing = false;

  constructor(private readonly pool: Pool) {}

  submit(report: IntakeReport): Promise<Incident> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ report, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.waiting.length) await this.write(this.waiting.splice(0, maxBatchSize));
    } finally {
      this.writing = false;
    }
  }

  /** A failed batch is retried report by report, so one bad report gets its own error and fails no other. */
  private async write(batch: Pending[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await writeBatch(this.pool, batch.map((pending) => pending.report));
    } catch (error) {
      if (batch.length === 1) batch[0].reject(error);
      else for (const pending of batch) await this.write([pending]);
      return;
    }
    outcomes.forEach((outcome, i) => ('error' in outcome ? batch[i].reject(outcome.error) : batch[i].resolve(outcome.incident)));
  }
}

// One queue per pool (so per app, and per test database), made on first use: callers keep passing the pool.
const queues = new WeakMap<Pool, IntakeQueue>();

export function intakeQueue(pool: Pool): IntakeQueue {
  let queue = queues.get(pool);
  if (!queue) {
    queue = new IntakeQueue(pool);
    queues.set(pool, queue);
  }
  return queue;
}

type Outcome = { incident: Incident } | { error: Error };

/**
 * Two statements on one connection: placement and duplicate candidates of every report, then (links decided in
 * arrival order in between) one statement that writes and reads back the whole batch. A single statement is its
 * own transaction, so its incidents, audit rows, timeline events and notification commit together or not at all.
 */
async function writeBatch(pool: Pool, reports: IntakeReport[]): Promise<Outcome[]> {
  const client = await pool.connect();
  try {
    const planned = await planBatch(client, reports);
    const decisions = await decideOutcomes(client, reports, planned);
    const rows = reports.flatMap((report, i) => {
      const decision = decisions[i];
      return 'id' in decision ? [incidentRow(report, decision)] : [];
    });
    const incidents = rows.length ? await insertBatch(client, rows) : new Map<number, Incident>();
    client.release();
    return decisions.map((decision) => ('id' in decision ? { incident: incidents.get(decision.id) as Incident } : decision));
  } catch (error) {
    client.release(error as Error);
    throw error;
  }
}

interface PlannedReport {
  ord: number;
  id: number;
  known_category: boolean;
  grid_id: number | null;
  open_id: number | null;
  open_metres: number | null;
  /** Earlier reports of the same batch within reach: same category, radius and window. */
  earlier: Array<{ ord: number; metres: number }>;
}

async function planBatch(client: PoolClient, reports: IntakeReport[]): Promise<PlannedReport[]> {
  const batch = reports.map((report, ord) => ({
    ord,
    category: report.input.category,
    reported_at: report.reportedAt.toISOString(),
    lon: report.input.location.coordinates[0],
    lat: report.input.location.coordinates[1],
  }));
  // Pairs within the batch are a join rather than a subquery per report: the planner (which guesses 100 rows for
  // jsonb_to_recordset) costed the subquery past jit_above_cost, and compiling took 30 ms of a 45 ms batch.
  const { rows } = await client.query<PlannedReport>(
    `WITH report AS (
       SELECT r.ord, r.category, r.reported_at, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326) AS geom
       FROM jsonb_to_recordset($1::jsonb) AS r (ord int, category text, reported_at timestamptz, lon float8, lat float8)
     ),
     pairs AS (
       SELECT l.ord, json_agg(json_build_object('ord', e.ord, 'metres', ST_Distance(e.geom::geography, l.geom::geography))) AS earlier
       FROM report l JOIN report e ON e.category = l.category AND e.ord < l.ord
        AND e.reported_at BETWEEN l.reported_at - make_interval(hours => $3) AND l.reported_at
        AND ST_DWithin(e.geom::geography, l.geom::geography, $4)
       GROUP BY l.ord
     )
     SELECT r.ord, nextval(pg_get_serial_sequence('incidents', 'id')) AS id,
            EXISTS (SELECT 1 FROM incident_categories c WHERE c.name = r.category) AS known_category,
            grid_at(r.geom) AS grid_id, open.id AS open_id, open.metres AS open_metres, coalesce(pairs.earlier, '[]') AS earlier
     FROM report r
     LEFT JOIN pairs USING (ord)
     LEFT JOIN LATERAL (
       SELECT d.id, ST_Distance(d.geom::geography, r.geom::geography) AS metres FROM incidents d
        WHERE d.category = r.category AND d.duplicate_of IS NULL AND d.status <> ALL ($2::text[])
          AND d.reported_at BETWEEN r.reported_at - make_interval(hours => $3) AND r.reported_at
          AND d.geom && ST_Expand(r.geom, 0.001)
          AND ST_DWithin(d.geom::geography, r.geom::geography, $4)
        ORDER BY 2, d.id LIMIT 1
     ) open ON true
     ORDER BY r.ord`,
    [JSON.stringify(batch), finalStatuses, duplicateWindowHours, duplicateRadiusMetres],
  );
  // Ids follow arrival order, whatever order nextval() ran in, so "the earlier report" is also the lower id.
  const ids = rows.map((row) => row.id).sort((a, b) => a - b);
  return rows.map((row, ord) => ({ ...row, id: ids[ord] }));
}

interface Accepted {
  id: number;
  gridId: number;
  duplicateOf: number | null;
}
type Decision = Accepted | { error: Error };

/**
 * In arrival order, as if written one by one: a report links to the nearest open first report (lowest id on a
 * tie) among those committed before and the accepted first reports earlier in this batch.
 */
async function decideOutcomes(db: Queryable, reports: IntakeReport[], planned: PlannedReport[]): Promise<Decision[]> {
  const decisions: Decision[] = [];
  for (const [ord, plan] of planned.entries()) {
    if (!plan.known_category) {
      decisions.push({ error: await unknownCategory(db, reports[ord].input.category) });
      continue;
    }
    if (plan.grid_id === null) {
      decisions.push({ error: new RuleViolationError('The location lies outside every level-4 grid', { rule: 'inside-grid', location: reports[ord].input.location }) });
      continue;
    }
    const candidates = plan.earlier
      .filter((earlier) => {
        const decision = decisions[earlier.ord];
        return 'id' in decision && decision.duplicateOf === null;
      })
      .map((earlier) => ({ id: planned[earlier.ord].id, metres: earlier.metres }));
    if (plan.open_id !== null && plan.open_metres !== null) candidates.push({ id: plan.open_id, metres: plan.open_metres });
    candidates.sort((a, b) => a.metres - b.metres || a.id - b.id);
    decisions.push({ id: plan.id, gridId: plan.grid_id, duplicateOf: candidates[0]?.id ?? null });
  }
  return decisions;
}

async function unknownCategory(db: Queryable, category: string): Promise<RuleViolationError> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM incident_categories ORDER BY name');
  return new RuleViolationError(`Unknown incident category ${category}`, { rule: 'known-category', categories: rows.map((r) => r.name) });
}

function incidentRow(report: IntakeReport, decision: Accepted) {
  const { input, writer } = report;
  const [lon, lat] = input.location.coordinates;
  return {
    id: decision.id,
    category: input.category,
    source: input.source,
    description: input.description ?? null,
    reported_at: report.reportedAt.toISOString(),
    lon,
    lat,
    grid_id: decision.gridId,
    h3_r7: latLngToCell(lat, lon, 7),
    h3_r8: latLngToCell(lat, lon, 8),
    h3_r9: latLngToCell(lat, lon, 9),
    reporter_contact: input.reporterContact ?? null,
    photos: input.photos,
    duplicate_of: decision.duplicateOf,
    token_id: writer.actor?.tokenId ?? null,
    role: writer.actor?.role ?? null,
    route: writer.route,
    request_id: writer.requestId ?? null,
  };
}

/**
 * Incidents (department, priority and deadlines from the catalogue trigger of sql/030), their audit rows, the
 * timeline ('reported' on each, 'duplicate-linked' on the first report) and one notification for the batch; the
 * result is each new incident as GET /api/incidents/:id would show it, read from the statement's own rows.
 *
 * Audit: one statement carries many writers, but the trigger of sql/021 reads one writer per transaction. So the
 * statement switches the trigger off (citygrid.bulk, set in the `quiet` CTE, which runs before the first row is
 * inserted while row triggers fire at the end of the statement) and writes each row's audit entry itself, the
 * same entry the trigger writes, with that report's actor, role, route and request id.
 */
async function insertBatch(client: PoolClient, rows: Array<ReturnType<typeof incidentRow>>): Promise<Map<number, Incident>> {
  const ids = rows.map((row) => row.id);
  const [channel, payload] = notifyArguments({ kind: 'incident-changed', id: ids[ids.length - 1], status: 'reported', ids });
  const { rows: written } = await client.query<{ id: number; incident: Incident }>(
    `WITH report AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS r (id bigint, category text, source text, description text,
         reported_at timestamptz, lon float8, lat float8, grid_id bigint, h3_r7 text, h3_r8 text, h3_r9 text,
         reporter_contact text, photos text[], duplicate_of bigint, token_id bigint, role text, route text, request_id text)
     ),
     quiet AS (SELECT set_config('citygrid.bulk', 'on', true)),
     created AS (
       INSERT INTO incidents (id, category, source, status, description, reported_at, geom, grid_id, h3_r7, h3_r8, h3_r9,
                              reporter_contact, photos, assigned_worker, duplicate_of)
       SELECT r.id, r.category, r.source, 'reported', r.description, r.reported_at, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326),
              r.grid_id, r.h3_r7, r.h3_r8, r.h3_r9, r.reporter_contact, r.photos,
              (SELECT g.workers[1] FROM grids g WHERE g.id = r.grid_id), r.duplicate_of
       FROM quiet, report r ORDER BY r.id
       RETURNING *
     ),
     audited AS (
       INSERT INTO audit_log (token_id, role, route, request_id, entity, entity_id, action, after)
       SELECT r.token_id, r.role, r.route, r.request_id, 'incidents', c.id, 'insert', to_jsonb(c) - 'geom_3857'
       FROM created c JOIN report r USING (id)
     ),
     timeline AS (
       INSERT INTO incident_events (incident_id, at, kind, from_status, to_status, actor_token_id, actor_role, details)
       SELECT e.incident_id, r.reported_at, e.kind, NULL, 'reported', r.token_id, r.role, e.details
       FROM report r
       CROSS JOIN LATERAL (VALUES (r.id, 'reported', 1, jsonb_build_object('source', r.source)),
                                  (r.duplicate_of, 'duplicate-linked', 2, jsonb_build_object('duplicate', r.id))) AS e (incident_id, kind, step, details)
       WHERE e.incident_id IS NOT NULL
       ORDER BY r.id, e.step
       RETURNING *
     )
     SELECT i.id, ${incidentDetailJson('created', 'timeline')} AS incident
     FROM created i, pg_notify($2, $3)`,
    [JSON.stringify(rows), channel, payload],
  );
  return new Map(written.map((row) => [row.id, row.incident]));
}
