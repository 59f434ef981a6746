import { incidentCells } from '../geo/h3';
import { type WriteContext, withWriteTransaction } from '../db/write-context';
import { type Pool, type PoolClient, type Queryable, withTransaction } from '../db/pool';
import { RuleViolationError } from '../errors';
import { changeChannel } from '../events/bus';
import { claimKeys, type KeyedWrite, keyLockRows, rememberResults, scopesAndKeys } from '../idempotency/keys';
import type { CreateIncidentInput } from './schemas';
import { incidentDetailJson, getIncident } from './views';
import { finalStatuses } from './workflow';

/** Near-duplicates: same category, still open, this close in space and time, are linked to the first report. */
export const duplicateRadiusMetres = 50;
export const duplicateWindowHours = 24;

/** Reports written in one statement at most; more wait for the next batch. */
export const maxBatchSize = 200;

/** More rows of a new incident (its uploaded photos), written in the intake transaction. */
export type IntakeAttachment = (client: PoolClient, incidentId: number) => Promise<void>;

export interface IntakeReport {
  input: CreateIncidentInput;
  writer: WriteContext;
  reportedAt: Date;
  attach?: IntakeAttachment;
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
 * so nothing acknowledged is lost. Near-duplicate linking stays exact: a batch sees every report committed before
 * it, links to earlier reports of its own batch (`decided` in writeBatchSql), and waits for batches of other
 * processes with a report of the same category (lockCategoriesAndKeys).
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
      while (this.waiting.length) await this.write(this.waiting.splice(0, batchLength(this.waiting)));
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

/** A report with attachments is written alone (its own transaction, see writeAlone); others in arrival order. */
function batchLength(waiting: Pending[]): number {
  const attached = waiting.findIndex((pending) => pending.report.attach);
  if (attached === 0) return 1;
  return Math.min(maxBatchSize, attached < 0 ? waiting.length : attached);
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

/** `replayed`: the report's Idempotency-Key was used by a committed report, whose incident this is. */
type Outcome = { incident: Incident; replayed?: boolean } | { error: Error };

interface WrittenReport {
  ord: number;
  known_category: boolean;
  inside_grid: boolean;
  incident: Incident | null;
}

/**
 * A batch is one statement, and so one transaction: its incidents, audit rows, timeline events and notification
 * commit together or not at all, in one round trip. Reports with an unknown category or outside every grid are
 * left out and answered with their own error. A report with attachments adds them in the same transaction.
 */
async function writeBatch(pool: Pool, reports: IntakeReport[]): Promise<Outcome[]> {
  const [first] = reports;
  if (first.attach) return writeAlone(pool, first, first.attach);
  return withTransaction(pool, async (client) => {
    const outcomes = await runBatch(client, reports);
    await rememberOutcomes(client, reports, outcomes);
    return outcomes;
  });
}

/**
 * One report and its attachments in one transaction, the attachments audited as every other write. Its key is
 * claimed by runBatch (after the category locks, as in every batch), so the writer goes in without it.
 */
async function writeAlone(pool: Pool, report: IntakeReport, attach: IntakeAttachment): Promise<Outcome[]> {
  return withWriteTransaction(pool, { ...report.writer, idempotency: undefined }, async (client) => {
    const [outcome] = await runBatch(client, [report]);
    if ('error' in outcome || outcome.replayed) return [outcome];
    // The batch statement switched the audit trigger off for its own rows, for the rest of the transaction.
    await client.query("SELECT set_config('citygrid.bulk', 'off', true)");
    const id = outcome.incident.id as number;
    await attach(client, id);
    const attached = [{ incident: await getIncident(client, id) }];
    await rememberOutcomes(client, [report], attached);
    return attached;
  });
}

/** The reports of a batch that carry an Idempotency-Key, with their index in the batch. */
function keyedReports(reports: IntakeReport[]): Array<KeyedWrite & { index: number }> {
  return reports.flatMap(({ writer }, index) => (writer.idempotency ? [{ actor: writer.actor, claim: writer.idempotency, index }] : []));
}

/** Stores each new incident under its report's Idempotency-Key, in the batch's transaction. */
async function rememberOutcomes(client: PoolClient, reports: IntakeReport[], outcomes: Outcome[]): Promise<void> {
  const written = keyedReports(reports).flatMap((keyed) => {
    const outcome = outcomes[keyed.index];
    return 'incident' in outcome && !outcome.replayed ? [{ ...keyed, result: outcome.incident }] : [];
  });
  await rememberResults(client, written);
}

/**
 * The reports whose Idempotency-Key a committed report used: their outcome is that report's incident (or the
 * error of a key reused for another report). Their locks were taken with the category locks
 * (lockCategoriesAndKeys), in every batch, so batches and single reports take their locks in one order.
 */
async function claimReportKeys(client: PoolClient, reports: IntakeReport[]): Promise<Map<number, Outcome>> {
  const keyed = keyedReports(reports);
  const settled = new Map<number, Outcome>();
  if (keyed.length === 0) return settled;
  const claimed = await claimKeys(client, keyed, { locked: true });
  claimed.forEach((earlier, i) => {
    if (earlier.stored) settled.set(keyed[i].index, { incident: earlier.result as Incident, replayed: true });
  });
  return settled;
}

/** Advisory lock class of intake batches (two-key form: the second key is a category's hash). */
const intakeLockClass = 7305;

/**
 * Another process's batch with a report of the same category must have committed before this batch looks for
 * near-duplicates, or two reports of one spot at one instant would both become first reports (each statement
 * sees only what committed before it started). So a batch first takes a transaction lock per category, in the
 * order of their keys (no deadlock), and only then runs its statement. Batches of other categories go on beside.
 * The same statement takes the locks of the reports' Idempotency-Keys, after the categories (a round trip less
 * than claimKeys taking them).
 */
async function lockCategoriesAndKeys(client: PoolClient, reports: IntakeReport[]): Promise<void> {
  await client.query({
    name: 'incident-intake-lock',
    text: `SELECT pg_advisory_xact_lock(class, key)
           FROM (SELECT ${intakeLockClass} AS class, hashtext(category) AS key FROM unnest($1::text[]) AS category
                 UNION ${keyLockRows('$2', '$3')}
                 ORDER BY 1, 2) locks`,
    values: [reports.map((report) => report.input.category), ...scopesAndKeys(keyedReports(reports))],
  });
}

async function runBatch(client: PoolClient, reports: IntakeReport[]): Promise<Outcome[]> {
  await lockCategoriesAndKeys(client, reports);
  const outcomes = await claimReportKeys(client, reports);
  const fresh = reports.map((report, index) => ({ report, index })).filter(({ index }) => !outcomes.has(index));
  if (fresh.length === 0) return reports.map((_, index) => outcomes.get(index) as Outcome);
  // Named, so each connection plans it once: planning took about 2 ms of every batch.
  const { rows } = await client.query<WrittenReport>({
    name: 'incident-intake-batch',
    text: writeBatchSql,
    values: [JSON.stringify(fresh.map(({ report }, ord) => reportRow(report, ord))), changeChannel, duplicateWindowHours, duplicateRadiusMetres],
  });
  for (const row of rows) {
    const { report, index } = fresh[row.ord];
    const { input } = report;
    if (!row.known_category) outcomes.set(index, { error: await unknownCategory(client, input.category) });
    else if (!row.inside_grid) outcomes.set(index, { error: new RuleViolationError('The location lies outside every level-4 grid', { rule: 'inside-grid', location: input.location }) });
    else outcomes.set(index, { incident: row.incident as Incident });
  }
  return reports.map((_, index) => outcomes.get(index) as Outcome);
}

async function unknownCategory(db: Queryable, category: string): Promise<RuleViolationError> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM incident_categories ORDER BY name');
  return new RuleViolationError(`Unknown incident category ${category}`, { rule: 'known-category', categories: rows.map((r) => r.name) });
}

function reportRow(report: IntakeReport, ord: number) {
  const { input, writer } = report;
  const [lon, lat] = input.location.coordinates;
  const [h3_r7, h3_r8, h3_r9, h3_r10] = incidentCells(lon, lat);
  return {
    ord,
    category: input.category,
    source: input.source,
    description: input.description ?? null,
    reported_at: report.reportedAt.toISOString(),
    lon,
    lat,
    h3_r7,
    h3_r8,
    h3_r9,
    h3_r10,
    reporter_contact: input.reporterContact ?? null,
    photos: input.photos,
    token_id: writer.actor?.tokenId ?? null,
    role: writer.actor?.role ?? null,
    route: writer.route,
    request_id: writer.requestId ?? null,
  };
}

/** Statuses left out of the open-first-reports index (sql/090): the text must match its predicate to use it. */
const openFirstReportsIndexStatuses = `{${finalStatuses.join(',')}}`;

/*
 * $1 the reports (reportRow, in arrival order), $2 the change channel, $3 the duplicate window (hours), $4 the
 * duplicate radius (metres). The final statuses are written into the text, as the partial index of sql/090 has them.
 *
 * Near-duplicates as if the reports were written one by one, in arrival order (`decided`, one step per report): a
 * report links to the nearest open first report (lowest id on a tie) among those committed before (`open`) and
 * the first reports earlier in this batch (`pairs`).
 *
 * Audit: one statement carries many writers, but the trigger of sql/021 reads one writer per transaction. So the
 * statement switches the trigger off (citygrid.bulk, set by `quiet` before the first row is inserted, while row
 * triggers fire at the end of the statement) and writes each row's audit entry itself, the entry the trigger
 * would write, with that report's actor, role, route and request id.
 */
const writeBatchSql = `
WITH RECURSIVE report AS (
  SELECT r.*, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326) AS geom
  FROM jsonb_to_recordset($1::jsonb) AS r (ord int, category text, source text, description text, reported_at timestamptz,
    lon float8, lat float8, h3_r7 text, h3_r8 text, h3_r9 text, h3_r10 bigint, reporter_contact text, photos text[],
    token_id bigint, role text, route text, request_id text)
),
placed AS (
  SELECT r.ord, EXISTS (SELECT 1 FROM incident_categories c WHERE c.name = r.category) AS known_category, grid_at(r.geom) AS grid_id
  FROM report r
),
accepted AS (
  SELECT r.*, p.grid_id FROM report r JOIN placed p USING (ord) WHERE p.known_category AND p.grid_id IS NOT NULL
),
-- Ids in arrival order, whatever order nextval() ran in: the earlier report is also the lower id.
drawn AS (SELECT nextval(pg_get_serial_sequence('incidents', 'id')) AS id FROM accepted),
numbered AS (
  SELECT a.ord, d.id, a.n
  FROM (SELECT ord, row_number() OVER (ORDER BY ord) AS n FROM accepted) a
  JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM drawn) d USING (n)
),
open AS (
  SELECT a.ord, o.id, o.metres
  FROM accepted a
  JOIN LATERAL (
    SELECT d.id, ST_Distance(d.geom::geography, a.geom::geography) AS metres
    FROM (
      -- OFFSET 0 keeps the other conditions out of this scan, so it always reads the small index of open first
      -- reports. Left free, a cached generic plan ANDed in the (category, reported_at) index, whose rows grow with
      -- the day's reports: batches of 50 took 14-21 ms instead of 9, and p95 at 50 clients doubled.
      SELECT d.id, d.geom, d.category, d.reported_at FROM incidents d
      WHERE d.duplicate_of IS NULL AND d.status <> ALL ('${openFirstReportsIndexStatuses}'::text[]) AND d.geom && ST_Expand(a.geom, 0.001)
      OFFSET 0
    ) d
    WHERE d.category = a.category
      AND d.reported_at BETWEEN a.reported_at - make_interval(hours => $3) AND a.reported_at
      AND ST_DWithin(d.geom::geography, a.geom::geography, $4)
    ORDER BY 2, d.id LIMIT 1
  ) o ON true
),
pairs AS (
  SELECT l.ord, e.ord AS earlier, ST_Distance(e.geom::geography, l.geom::geography) AS metres
  FROM accepted l JOIN accepted e ON e.category = l.category AND e.ord < l.ord
   AND e.reported_at BETWEEN l.reported_at - make_interval(hours => $3) AND l.reported_at
   AND ST_DWithin(e.geom::geography, l.geom::geography, $4)
),
decided AS (
  SELECT 0::bigint AS n, NULL::int AS ord, '{}'::int[] AS firsts, NULL::bigint AS duplicate_of
  UNION ALL
  SELECT n.n, n.ord, CASE WHEN pick.id IS NULL THEN d.firsts || n.ord ELSE d.firsts END, pick.id
  FROM decided d
  JOIN numbered n ON n.n = d.n + 1
  LEFT JOIN LATERAL (
    SELECT c.id FROM (
      SELECT o.id, o.metres FROM open o WHERE o.ord = n.ord
      UNION ALL
      SELECT e.id, p.metres FROM pairs p JOIN numbered e ON e.ord = p.earlier WHERE p.ord = n.ord AND p.earlier = ANY (d.firsts)
    ) c ORDER BY c.metres, c.id LIMIT 1
  ) pick ON true
),
quiet AS (SELECT set_config('citygrid.bulk', 'on', true)),
created AS (
  INSERT INTO incidents (id, category, source, status, description, reported_at, geom, grid_id, h3_r7, h3_r8, h3_r9, h3_r10,
                         reporter_contact, photos, assigned_worker, duplicate_of)
  SELECT n.id, a.category, a.source, 'reported', a.description, a.reported_at, a.geom, a.grid_id, a.h3_r7, a.h3_r8, a.h3_r9, a.h3_r10,
         a.reporter_contact, a.photos, (SELECT g.workers[1] FROM grids g WHERE g.id = a.grid_id), d.duplicate_of
  FROM quiet, accepted a JOIN numbered n USING (ord) JOIN decided d USING (ord)
  ORDER BY n.id
  RETURNING *
),
written AS (
  SELECT n.ord, n.id, d.duplicate_of, a.* FROM accepted a JOIN numbered n USING (ord) JOIN decided d USING (ord)
),
audited AS (
  INSERT INTO audit_log (token_id, role, route, request_id, entity, entity_id, action, after)
  SELECT w.token_id, w.role, w.route, w.request_id, 'incidents', c.id, 'insert', to_jsonb(c) - 'geom_3857'
  FROM created c JOIN written w USING (id)
),
timeline AS (
  INSERT INTO incident_events (incident_id, at, kind, from_status, to_status, actor_token_id, actor_role, details)
  SELECT e.incident_id, w.reported_at, e.kind, NULL, 'reported', w.token_id, w.role, e.details
  FROM written w
  CROSS JOIN LATERAL (VALUES (w.id, 'reported', 1, jsonb_build_object('source', w.source)),
                             (w.duplicate_of, 'duplicate-linked', 2, jsonb_build_object('duplicate', w.id))) AS e (incident_id, kind, step, details)
  WHERE e.incident_id IS NOT NULL
  ORDER BY w.id, e.step
  RETURNING *
),
-- Where the batch shows on maps: the new incidents and the first reports they link, with their level-4 grids.
extent AS (
  SELECT ST_Extent(part.geom) AS e
  FROM (SELECT grid_id, geom FROM created
        UNION ALL SELECT d.grid_id, d.geom FROM incidents d WHERE d.id IN (SELECT duplicate_of FROM created)) i
  LEFT JOIN grids grid ON grid.id = i.grid_id,
  LATERAL (VALUES (i.geom), (grid.geom)) AS part (geom)
),
-- One notification for the batch (a ChangeEvent of kind incident-changed), only when something was written.
announced AS (
  SELECT pg_notify($2, json_build_object('kind', 'incident-changed', 'id', max(c.id), 'status', 'reported', 'ids', json_agg(c.id ORDER BY c.id),
                                         'gridBbox', (SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] FROM extent))::text)
  FROM created c HAVING count(*) > 0
)
SELECT p.ord, p.known_category, p.grid_id IS NOT NULL AS inside_grid, shown.incident, (SELECT count(*) FROM announced) AS notified
FROM placed p
LEFT JOIN numbered n USING (ord)
LEFT JOIN (SELECT i.id, ${incidentDetailJson('created', 'timeline')} AS incident FROM created i) shown ON shown.id = n.id
ORDER BY p.ord`;
