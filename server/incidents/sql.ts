// The incidents domain's SQL: intake, the workflow, escalation, the event stream, statistics, photos and the bulk
// history import. Every value is a bound parameter (the intake's lock and batch statements travel as one message,
// their values written in as escaped literals by runAsOneMessage); grids are read through the grids domain's fragments.
import { keyLockRows, liveKeySql, type StoredKey, rememberKeysSql, sweepExpiredKeysSql } from '../idempotency/keys';
import { gridFacts, gridFirstWorker, gridOutline } from '../grids/sql';
import { identifier } from '../db/identifiers';
import type { StatsQuery } from './schemas';
import type { StageHours, Status } from './workflow';
import { finalStatuses } from './workflow';

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

export interface IncidentDetailRow {
  incident: Record<string, unknown>;
}

/**
 * $1 the incident: as GET /api/incidents/:id shows it. A named statement (prepared once per connection): its plan
 * does not depend on the id, and planning it took twice as long as running it (0.3 ms against 0.14).
 */
export const incidentDetailQuery = { name: 'incident_detail', text: `SELECT ${incidentDetailJson()} AS incident FROM incidents i WHERE i.id = $1` };

/** Advisory lock class of intake batches (two-key form: the second key is a category's hash). */
const intakeLockClass = 7305;

/**
 * The transaction locks of an intake batch: $1 the names of its near-duplicate locks (intake.ts duplicateLocks),
 * then the scopes ($2) and keys ($3) of its Idempotency-Keys (idempotency/keys scopesAndKeys), all in one order
 * (no deadlock).
 */
export const intakeLocksSql = `SELECT pg_advisory_xact_lock(class, key)
           FROM (SELECT ${intakeLockClass} AS class, hashtext(place) AS key FROM unnest($1::text[]) AS place
                 UNION ${keyLockRows('$2', '$3')}
                 ORDER BY 1, 2) locks`;

/** Switches the audit trigger back on for the rest of the transaction (the batch statement turned it off). */
export const auditTriggerOnSql = "SELECT set_config('citygrid.bulk', 'off', true)";

export interface CategoryNamesRow {
  name: string;
}

/** The catalogue's category names, for the error of an unknown one. */
export const categoryNamesSql = 'SELECT name FROM incident_categories ORDER BY name';

/** A report as the batch statement answers it (writeBatchSql). */
export interface WrittenReport {
  ord: number;
  /** Null when the report's Idempotency-Key was used before (stored_key). */
  known_category: boolean | null;
  inside_grid: boolean;
  incident: Record<string, unknown> | null;
  /** What the report's Idempotency-Key holds: a report committed with it before; then nothing was written. */
  stored_key: StoredKey | null;
  /** Keys the statement stored, over the whole batch. */
  remembered: number;
}

/** Statuses left out of the open-first-reports index (sql/090): the text must match its predicate to use it. */
const openFirstReportsIndexStatuses = `{${finalStatuses.join(',')}}`;

/*
 * $1 the reports (reportRow, in arrival order), $2 the change channel, $3 the duplicate window (hours), $4 the
 * duplicate radius (metres), $5 how long keys are kept (hours). The final statuses are written into the text, as
 * the partial index of sql/090 has them.
 *
 * Idempotency-Keys (key_scope, key_name, key_fingerprint of a report; their locks were taken by the statement
 * before, intakeLocksSql, so this statement's snapshot sees every report committed under them): a report
 * whose key is stored is not written but answered with what the key holds (`claimed`); each new incident is stored
 * under its report's key (`remembered`), in this same statement.
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
/** Grid boxes a batch's notification names one by one; a batch over more grids names only the box around them all. */
const maxAnnouncedBoxes = 64;
/**
 * The longest notification a batch sends, in bytes of its text: NOTIFY refuses 8,000 or more, and a refused NOTIFY
 * fails the batch. A batch whose notification with its points (or its grid boxes) would be longer sends it without
 * them (see `announced`); without both it is at most about 4,300 bytes (maxBatchSize ids of up to 19 digits).
 */
export const maxNotificationBytes = 7000;

export const writeBatchSql = `
WITH RECURSIVE submitted AS (
  SELECT r.* FROM jsonb_to_recordset($1::jsonb) AS r (ord int, category text, source text, description text, reported_at timestamptz,
    lon float8, lat float8, h3_r7 text, h3_r8 text, h3_r9 text, h3_r10 bigint, reporter_contact text, photos text[],
    token_id bigint, role text, route text, request_id text, key_scope text, key_name text, key_fingerprint text)
),
claimed AS (
  SELECT s.ord, json_build_object('fingerprint', k.fingerprint, 'result', k.result) AS stored_key
  FROM submitted s JOIN idempotency_keys k ON k.scope = s.key_scope AND k.key = s.key_name
  WHERE ${liveKeySql('k', '$5')}
),
report AS (
  SELECT r.*, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326) AS geom FROM submitted r WHERE r.ord NOT IN (SELECT ord FROM claimed)
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
         a.reporter_contact, a.photos, ${gridFirstWorker('a.grid_id')}, d.duplicate_of
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
-- Where the batch shows on maps, grid by grid: the new incidents and the first reports they link, with their
-- level-4 grids. A batch's reports are spread over the city, so one box around them all would cover most of it.
located AS (
  SELECT grid_id, geom FROM created
  UNION ALL SELECT d.grid_id, d.geom FROM incidents d WHERE d.id IN (SELECT duplicate_of FROM created)
),
extents AS (
  SELECT ST_Extent(part.geom) AS e
  FROM located i CROSS JOIN LATERAL (VALUES (i.geom), (${gridOutline('i.grid_id')})) AS part (geom)
  GROUP BY i.grid_id
),
-- One notification for the batch (a ChangeEvent of kind incident-changed), only when something was written: the
-- ids and the box around it all; the boxes per grid (the grids' counts change), rounded outwards to 1e-6°, only up
-- to ${maxAnnouncedBoxes}; the points (where single incidents changed), rounded to 1e-6°. The first of these texts that fits in
-- ${maxNotificationBytes} bytes is sent: with points and boxes, with boxes only, or neither (listeners then drop by the one box).
notice AS (
  SELECT jsonb_build_object('kind', 'incident-changed', 'id', max(c.id), 'status', 'reported', 'ids', jsonb_agg(c.id ORDER BY c.id),
                            'gridBbox', (SELECT ARRAY[min(ST_XMin(e)), min(ST_YMin(e)), max(ST_XMax(e)), max(ST_YMax(e))] FROM extents)) AS batch,
         (SELECT jsonb_agg(ARRAY[floor(ST_XMin(e) * 1e6) / 1e6, floor(ST_YMin(e) * 1e6) / 1e6, ceil(ST_XMax(e) * 1e6) / 1e6, ceil(ST_YMax(e) * 1e6) / 1e6])
          FROM extents HAVING count(*) <= ${maxAnnouncedBoxes}) AS boxes,
         (SELECT jsonb_agg(DISTINCT ARRAY[round(ST_X(geom)::numeric, 6), round(ST_Y(geom)::numeric, 6)]) FROM located) AS points
  FROM created c HAVING count(*) > 0
),
announced AS (
  SELECT pg_notify($2, (SELECT t.text FROM (VALUES (1, batch || jsonb_build_object('gridBboxes', boxes, 'points', points)),
                                                   (2, batch || jsonb_build_object('gridBboxes', boxes)),
                                                   (3, batch)) AS v (step, payload)
                        CROSS JOIN LATERAL (SELECT v.payload::text AS text) t
                        WHERE octet_length(t.text) <= ${maxNotificationBytes} OR v.step = 3 ORDER BY v.step LIMIT 1))
  FROM notice
),
shown AS (SELECT n.ord, ${incidentDetailJson('created', 'timeline')} AS incident FROM created i JOIN numbered n USING (id)),
remembered AS (
  ${rememberKeysSql('SELECT a.key_scope, a.key_name, a.key_fingerprint, s.incident::json FROM accepted a JOIN shown s USING (ord) WHERE a.key_name IS NOT NULL', '$5')}
  RETURNING 1
),
swept AS (${sweepExpiredKeysSql('$5', 'SELECT key_scope, key_name FROM submitted WHERE key_name IS NOT NULL')})
SELECT s.ord, p.known_category, p.grid_id IS NOT NULL AS inside_grid, shown.incident, c.stored_key,
       (SELECT count(*) FROM remembered) AS remembered, (SELECT count(*) FROM announced) AS notified
FROM submitted s
LEFT JOIN claimed c USING (ord)
LEFT JOIN placed p USING (ord)
LEFT JOIN shown USING (ord)
ORDER BY s.ord`;

/** $1–$9: incident, at, kind, from, to, actor token, actor role, comment, details. */
export const insertEventSql = `WITH event AS (
       INSERT INTO incident_events (incident_id, at, kind, from_status, to_status, actor_token_id, actor_role, comment, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
     ), extent AS (
       SELECT ST_Extent(part.geom) AS e FROM incidents i
         CROSS JOIN LATERAL (VALUES (i.geom), (${gridOutline('i.grid_id')})) AS part (geom) WHERE i.id = $1
     )
     SELECT event.id, CASE WHEN e IS NULL THEN NULL ELSE ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] END AS grid_bbox
     FROM event, extent`;

/** The new event's id and the extent of its incident and grid (null: nowhere). */
export interface InsertedEventRow {
  id: number;
  grid_bbox: [number, number, number, number] | null;
}

/** The filters a page of incidents may name: the condition each adds (`$` its value) and the type of its value. */
const incidentPageFilters = {
  status: { condition: 'i.status = $', type: 'text' },
  category: { condition: 'i.category = $', type: 'text' },
  department: { condition: 'i.department = $', type: 'text' },
  grid: { condition: 'i.grid_id = $', type: 'bigint' },
  from: { condition: 'i.reported_at >= $', type: 'timestamptz' },
  to: { condition: 'i.reported_at < $', type: 'timestamptz' },
  open: { condition: `(i.status = ANY ('{${finalStatuses.join(',')}}'::text[])) <> $`, type: 'boolean' },
  ids: { condition: 'i.id = ANY ($)', type: 'bigint[]' },
  /** The reader's grids (readerScope): none given is all. */
  grids: { condition: 'i.grid_id = ANY ($)', type: 'bigint[]' },
} as const;

export type IncidentPageFilters = Partial<Record<keyof typeof incidentPageFilters, string | number | boolean | number[] | null>>;

/**
 * One page of incidents in id order after `cursor`, with the conditions of the filters given (null or absent: not
 * given) and no others. A named statement per combination of filters, prepared once per connection: holding only its
 * own conditions, its plan fits every value (a grid's page reads that grid's rows), where one statement for all
 * combinations (`$4 IS NULL OR grid_id = $4`) had to be planned anew for each request.
 */
export function incidentPageQuery(filters: IncidentPageFilters, cursor: number, limit: number) {
  const given = (Object.keys(incidentPageFilters) as Array<keyof typeof incidentPageFilters>).filter((name) => filters[name] !== undefined && filters[name] !== null);
  const conditions = given.map((name, n) => incidentPageFilters[name].condition.replace('$', `$${n + 3}::${incidentPageFilters[name].type}`));
  return {
    name: `incident_page${given.map((name) => `_${name}`).join('')}`,
    text: `SELECT i.id, ${incidentJson} AS incident FROM incidents i WHERE ${['i.id > $1', ...conditions].join(' AND ')} ORDER BY i.id LIMIT $2`,
    values: [cursor, limit, ...given.map((name) => filters[name])],
  };
}

const categoryColumns = 'name, code, department, priority, accept_hours, dispatch_hours, handle_hours, feedback_hours, supervise_hours, sensitive';

export const listCategoriesSql = `SELECT ${categoryColumns} FROM incident_categories ORDER BY priority, name`;

/** $1 a category's name: one row when the catalogue has it. */
export const categoryExistsSql = 'SELECT 1 FROM incident_categories WHERE name = $1';

/** $1 a department's name: one row when the catalogue has it. */
export const departmentExistsSql = 'SELECT 1 FROM incident_departments WHERE name = $1';

/** $1 the category, $2–$9 department, priority, the five stage hours, sensitive (null: unchanged). */
export const updateCategorySql = `UPDATE incident_categories SET department = coalesce($2, department), priority = coalesce($3, priority),
         accept_hours = coalesce($4, accept_hours), dispatch_hours = coalesce($5, dispatch_hours),
         handle_hours = coalesce($6, handle_hours), feedback_hours = coalesce($7, feedback_hours),
         supervise_hours = coalesce($8, supervise_hours), sensitive = coalesce($9, sensitive), updated_at = now()
       WHERE name = $1
       RETURNING ${categoryColumns}`;

/** An incident locked for a workflow step, with its category's deadlines (catalogued: the catalogue has it). */
export interface LockedIncidentRow extends StageHours {
  id: number;
  category: string;
  catalogued: boolean;
  status: Status;
  grid_id: number | null;
  department: string | null;
  version: number;
}

/** $1 the incident: locked until the transaction ends. */
export const lockIncidentSql = `SELECT i.id, i.category, i.status, i.grid_id, i.department, i.version, c.name IS NOT NULL AS catalogued,
            c.accept_hours, c.dispatch_hours, c.handle_hours, c.feedback_hours, c.supervise_hours
     FROM incidents i LEFT JOIN incident_categories c ON c.name = i.category WHERE i.id = $1 FOR UPDATE OF i`;

/**
 * One workflow step: $1 incident, $2 new status, $3 the stage's hours ('keep': the stage deadline stays; null:
 * none), $4 now, $5 department, $6 the final statuses, $7 satisfaction.
 */
export const transitionSql = `UPDATE incidents SET status = $2,
         stage_due_at = CASE WHEN $3::text = 'keep' THEN stage_due_at WHEN $3::text IS NULL THEN NULL
                             ELSE $4::timestamptz + make_interval(secs => 3600 * $3::text::float8) END,
         department = coalesce($5, department),
         closed_at = CASE WHEN $2 = ANY ($6::text[]) THEN $4::timestamptz ELSE closed_at END,
         satisfaction = coalesce($7, satisfaction),
         version = version + 1, updated_at = $4
       WHERE id = $1`;

/** $1 the lock's key: true when this transaction holds it now (the round's scheduler), false when another does. */
/** An overdue incident to escalate, with the supervisor of its department. */
export interface OverdueIncidentRow {
  id: number;
  status: Status;
  stage_due_at: Date;
  department: string | null;
  supervisor: string | null;
}

/** $1 the escalable statuses, $2 now, $3 the batch size: the most overdue first, locked. */
export const overdueIncidentsSql = `SELECT i.id, i.status, i.stage_due_at, i.department, d.supervisor
       FROM incidents i LEFT JOIN incident_departments d ON d.name = i.department
       WHERE i.status = ANY ($1::text[]) AND i.stage_due_at < $2
       ORDER BY i.stage_due_at, i.id LIMIT $3
       FOR UPDATE OF i`;

export interface EscalateRow {
  escalation_level: number;
  stage_due_at: Date | null;
}

/** $1 the incident, $2 now: under supervision one level higher, due after its category's supervise_hours. */
export const escalateSql = `UPDATE incidents i SET status = 'supervising', escalated_at = $2, escalation_level = escalation_level + 1,
           stage_due_at = $2::timestamptz + make_interval(secs => 3600 * (SELECT supervise_hours FROM incident_categories WHERE name = i.category)),
           version = version + 1, updated_at = $2
         WHERE id = $1
         RETURNING escalation_level, stage_due_at`;

/** $1 now: overdue open incidents per department. */
export const overdueByDepartmentSql = `SELECT department, count(*) FILTER (WHERE due_at < $1)::int AS overdue,
            count(*) FILTER (WHERE stage_due_at < $1)::int AS "stageOverdue",
            count(*) FILTER (WHERE stage_due_at < $1 AND status = 'supervising')::int AS "supervisionOverdue"
     FROM incidents
     WHERE status NOT IN ('closed', 'rejected') AND (due_at < $1 OR stage_due_at < $1)
     GROUP BY department ORDER BY overdue DESC, department`;

/** $1 now, $2 how many grids, $3 the open statuses. */
export const mostOverdueGridsSql = `SELECT g.id::int AS "gridId", g.code, g.name, o.overdue FROM (
       SELECT grid_id, count(*)::int AS overdue FROM incidents
       WHERE status = ANY ($3::text[]) AND due_at < $1 AND grid_id IS NOT NULL
       GROUP BY grid_id ORDER BY overdue DESC, grid_id LIMIT $2) o
     JOIN ${gridFacts} g ON g.id = o.grid_id ORDER BY o.overdue DESC, g.id`;

/**
 * The oldest transaction that may still add events: the smallest in-progress xid of the statement's own snapshot,
 * leaving out only those that pg_stat_activity shows running in another database (a busy neighbour database must
 * not hold the stream back; an xid it cannot place counts, which errs on the safe side). A long write transaction
 * in this database delays the stream until it ends; nothing is lost.
 */
const horizon = `(SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
   FROM pg_snapshot_xip(pg_current_snapshot()) AS x
   WHERE x::text::bigint % 4294967296 NOT IN (
     SELECT a.backend_xid::text::bigint FROM pg_stat_activity a WHERE a.backend_xid IS NOT NULL AND a.datname <> current_database()))`;
const settled = `e.xid < ${horizon}`;

/**
 * A page of settled events after the position ($1 xid, $2 event id), $3 rows at most, each rendered as sent with
 * its position and its incident's grid.
 */
export const eventsAfterSql = `SELECT e.id, e.xid::text AS xid, i.grid_id AS "gridId",
            json_build_object('id', e.id, 'incidentId', e.incident_id, 'kind', e.kind, 'from', e.from_status, 'to', e.to_status,
              'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'incident', json_build_object('category', i.category, 'status', i.status, 'location', ST_AsGeoJSON(i.geom, 7)::json,
                                            'gridId', i.grid_id, 'department', i.department, 'priority', i.priority, 'duplicateOf', i.duplicate_of))::text AS data
     FROM incident_events e JOIN incidents i ON i.id = e.incident_id
     WHERE (e.xid, e.id) > ($1::xid8, $2::bigint) AND ${settled}
     ORDER BY e.xid, e.id LIMIT $3`;

/** One row when any event lies past the position ($1 xid, $2 event id), settled or not. */
export const eventsPastSql = 'SELECT 1 FROM incident_events e WHERE (e.xid, e.id) > ($1::xid8, $2::bigint) LIMIT 1';

/** The position of the last settled event. */
export const settledEndSql = `SELECT e.xid::text AS xid, e.id FROM incident_events e WHERE ${settled} ORDER BY e.xid DESC, e.id DESC LIMIT 1`;

/** $1 an event id: the position of that event, or of the nearest earlier one. */
export const positionAtEventSql = 'SELECT xid::text AS xid, id FROM incident_events WHERE id <= $1 ORDER BY id DESC LIMIT 1';

// Group keys come from this fixed table (the query names one of its keys, validated by zod), never from input.
export const statsGroupKeys: Record<NonNullable<StatsQuery['groupBy']> | 'all', string> = {
  all: `'all'`,
  day: `to_char(reported_at AT TIME ZONE calendar.zone, 'YYYY-MM-DD')`,
  grid: `grid_id::text`,
  category: `category`,
  department: `department`,
  source: `source`,
};

export type StatsGroupKey = keyof typeof statsGroupKeys;

/**
 * The incidents a statistic counts, with their group `key`: $1 from, $2 to, $3 grid, $4 category, $5 department,
 * $6 the reader's grids (null: all), $7 the calendar's time zone.
 */
function statsFiltered(groupBy: StatsGroupKey): string {
  return `SELECT incidents.*, ${statsGroupKeys[groupBy]} AS key FROM incidents, (SELECT $7::text AS zone) calendar
    WHERE ($1::timestamptz IS NULL OR reported_at >= $1) AND ($2::timestamptz IS NULL OR reported_at < $2)
      AND ($3::bigint IS NULL OR grid_id = $3) AND ($4::text IS NULL OR category = $4) AND ($5::text IS NULL OR department = $5)
      AND ($6::bigint[] IS NULL OR grid_id = ANY ($6))`;
}

/** Figures per group: the parameters of statsFiltered, then $8 the open statuses and $9 now (for overdueOpen). */
export function statsMetricsSql(groupBy: StatsGroupKey): string {
  return `WITH f AS (${statsFiltered(groupBy)}), h AS (SELECT *, extract(epoch FROM closed_at - reported_at) / 3600 AS hours FROM f)
       SELECT key, count(*)::int AS total,
         count(*) FILTER (WHERE status = 'closed')::int AS closed,
         (count(*) FILTER (WHERE status = 'closed'))::float8 / nullif(count(*), 0) AS "closureRate",
         (count(*) FILTER (WHERE status = 'closed' AND closed_at <= due_at))::float8 / nullif(count(*) FILTER (WHERE status = 'closed' AND due_at IS NOT NULL), 0) AS "onTimeRate",
         count(*) FILTER (WHERE status = 'closed' AND due_at IS NULL)::int AS "closedWithoutDeadline",
         avg(hours) FILTER (WHERE status = 'closed')::float8 AS "meanHandlingHours",
         percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) FILTER (WHERE status = 'closed') AS "medianHandlingHours",
         percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) FILTER (WHERE status = 'closed') AS "p90HandlingHours",
         avg(satisfaction)::float8 AS satisfaction,
         count(*) FILTER (WHERE status = ANY ($8::text[]) AND due_at < $9)::int AS "overdueOpen"
       FROM h GROUP BY key ORDER BY key`;
}

export interface StatsByStatusRow {
  key: string | null;
  status: string;
  n: number;
}

/** Incidents per group and status: the parameters of statsFiltered. */
export function statsByStatusSql(groupBy: StatsGroupKey): string {
  return `WITH f AS (${statsFiltered(groupBy)}) SELECT key, status, count(*)::int AS n FROM f GROUP BY key, status`;
}

/**
 * Worker indicators: $1 from, $2 to, $3 grid, $4 the reader's grids (null: all). An incident without an assigned
 * worker counts for its grid's first worker.
 */
export const workerIndicatorsSql = `WITH f AS (
       SELECT i.*, coalesce(i.assigned_worker, g.first_worker) AS worker FROM incidents i JOIN ${gridFacts} g ON g.id = i.grid_id
       WHERE ($1::timestamptz IS NULL OR i.reported_at >= $1) AND ($2::timestamptz IS NULL OR i.reported_at < $2) AND ($3::bigint IS NULL OR i.grid_id = $3)
         AND ($4::bigint[] IS NULL OR i.grid_id = ANY ($4)))
     SELECT worker, count(*)::int AS assigned,
       count(*) FILTER (WHERE source = 'patrol')::int AS "patrolReports",
       (count(*) FILTER (WHERE source = 'patrol' AND status <> 'rejected'))::float8 / nullif(count(*) FILTER (WHERE source = 'patrol'), 0) AS "validReportRate",
       (count(*) FILTER (WHERE status = 'closed' AND closed_at <= due_at))::float8 / nullif(count(*) FILTER (WHERE status = 'closed'), 0) AS "verifiedOnTimeRate"
     FROM f WHERE worker IS NOT NULL GROUP BY worker ORDER BY worker`;

/** Incidents reported in [$1, $2) per H3 cell of one stored resolution. */
export function cellCountsSql(resolution: 7 | 8 | 9): string {
  const column = identifier(`h3_r${resolution}`);
  return `SELECT ${column} AS h3, count(*)::int AS count FROM incidents
     WHERE reported_at >= $1 AND reported_at < $2 AND ${column} IS NOT NULL GROUP BY ${column} ORDER BY ${column}`;
}

/** Incidents reported in [$1, $2) per district (found by location), busiest first, with its bounding box. */
export const districtCountsSql = `SELECT g.id::int AS "gridId", g.name,
            json_build_array(round(ST_XMin(g.geom)::numeric, 5), round(ST_YMin(g.geom)::numeric, 5), round(ST_XMax(g.geom)::numeric, 5), round(ST_YMax(g.geom)::numeric, 5)) AS bbox,
            (SELECT count(*)::int FROM incidents i WHERE i.reported_at >= $1 AND i.reported_at < $2 AND ST_Intersects(g.geom, i.geom)) AS count
     FROM ${gridFacts} g WHERE g.parent_id IS NULL ORDER BY count DESC, g.id`;

export interface ReferencedPhotosRow {
  stored_name: string;
}

/** $1 stored file names: those an incident references. */
export const referencedPhotosSql = 'SELECT stored_name FROM incident_photos WHERE stored_name = ANY ($1)';

/** $1 the incident, $2–$6 the photos' stored names, content types, sizes, SHA-256 digests and original names. */
export const insertPhotosSql = `INSERT INTO incident_photos (incident_id, stored_name, content_type, bytes, sha256, original_name)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[])`;

export interface PhotoRow {
  stored_name: string;
  content_type: string;
  bytes: number;
  sha256: string;
  grid_id: number | null;
}

/** $1 the photo, $2 its incident: the stored photo and the incident's grid. */
export const photoSql = `SELECT p.stored_name, p.content_type, p.bytes, p.sha256, i.grid_id
       FROM incident_photos p JOIN incidents i ON i.id = p.incident_id WHERE p.id = $1 AND p.incident_id = $2`;

export interface KnownCategoriesRow {
  name: string;
}

/** $1 category names: those the catalogue has. */
export const knownCategoriesSql = 'SELECT name FROM incident_categories WHERE name = ANY($1::text[])';

/** $1 the file's time zone: the staging table's times are read in it, dates year first. */
export const importCalendarSql = `SELECT set_config('TimeZone', $1, true), set_config('DateStyle', 'ISO, YMD', true)`;

/** The staging table's columns, in the order of the COPY rows. */
export const importStagingColumns = ['external_id', 'reported', 'target', 'closed', 'closed_flag', 'category', 'department', 'source', 'description', 'lon', 'lat', 'h3_r7', 'h3_r8', 'h3_r9', 'h3_r10'];

const stagingType = (column: string) => (column === 'lon' || column === 'lat' ? 'float8' : column === 'closed_flag' ? 'boolean' : 'text');

/** The import's staging table, dropped at commit. */
export const createImportStagingSql = `CREATE TEMP TABLE incident_import (${importStagingColumns.map((c) => `${c} ${stagingType(c)}`).join(', ')},
                                          placeholder boolean NOT NULL DEFAULT false) ON COMMIT DROP`;

export const copyImportSql = `COPY incident_import (${importStagingColumns.join(', ')}) FROM STDIN`;

export interface FlagPlaceholdersRow {
  lon: number;
  lat: number;
  rows: number;
}

/**
 * Marks as placeholders the staged rows at points holding at least $1 rows and more than the share $2 of all;
 * answers those points, most rows first.
 */
export const flagPlaceholdersSql = `WITH points AS (SELECT round(lon::numeric, 5) AS lon, round(lat::numeric, 5) AS lat, count(*) AS rows FROM incident_import GROUP BY 1, 2),
       placeholders AS (SELECT * FROM points WHERE rows >= $1::int AND rows > $2::float8 * (SELECT count(*) FROM incident_import)),
       flagged AS (UPDATE incident_import s SET placeholder = true FROM placeholders p
                   WHERE round(s.lon::numeric, 5) = p.lon AND round(s.lat::numeric, 5) = p.lat)
       SELECT lon::float8, lat::float8, rows::int FROM placeholders ORDER BY rows DESC`;

/** The staged rows as incidents (placeholders without grid or cells), skipping those imported before. */
export const insertImportedSql = `INSERT INTO incidents (external_id, category, source, status, description, reported_at, due_at, closed_at, department, geom, grid_id, h3_r7, h3_r8, h3_r9, h3_r10, location_placeholder)
       SELECT s.external_id, s.category, s.source, CASE WHEN s.closed_flag THEN 'closed' ELSE 'dispatched' END, s.description,
              s.reported::timestamptz, s.target::timestamptz, CASE WHEN s.closed_flag THEN s.closed::timestamptz END, s.department,
              p.geom, CASE WHEN NOT s.placeholder THEN grid_at(p.geom) END,
              CASE WHEN NOT s.placeholder THEN s.h3_r7 END, CASE WHEN NOT s.placeholder THEN s.h3_r8 END, CASE WHEN NOT s.placeholder THEN s.h3_r9 END,
              CASE WHEN NOT s.placeholder THEN s.h3_r10::bigint END, s.placeholder
       FROM incident_import s CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom) p
       ON CONFLICT (source, external_id) WHERE external_id IS NOT NULL DO NOTHING`;

export interface UnmappedCategoriesRow {
  category: string;
  rows: number;
}

/** Staged categories the catalogue does not have, with their row counts. */
export const unmappedCategoriesSql = `SELECT category, count(*)::int AS rows FROM incident_import s
       WHERE NOT EXISTS (SELECT 1 FROM incident_categories c WHERE c.name = s.category) GROUP BY 1 ORDER BY 2 DESC, 1`;

/** $1 the load's summary: the one audit row of an import. */
export const importAuditSql = `INSERT INTO audit_log (route, entity, action, after) VALUES ('cli import:incidents', 'incidents', 'insert', $1)`;
