import type { Queryable } from '../db/pool';
import type { Clock } from '../deps';
import type { StatsQuery } from './schemas';
import { openStatuses } from './workflow';

// Group keys come from this fixed table (the query names one of its keys, validated by zod), never from input.
const groupKeys: Record<NonNullable<StatsQuery['groupBy']> | 'all', string> = {
  all: `'all'`,
  day: `to_char(reported_at AT TIME ZONE calendar.zone, 'YYYY-MM-DD')`,
  grid: `grid_id::text`,
  category: `category`,
  department: `department`,
  source: `source`,
};

export interface IncidentStatsRow {
  key: string | null;
  total: number;
  byStatus: Record<string, number>;
  closed: number;
  closureRate: number | null;
  onTimeRate: number | null;
  /** Closed cases without a deadline: left out of onTimeRate (see onTimeRule). */
  closedWithoutDeadline: number;
  meanHandlingHours: number | null;
  medianHandlingHours: number | null;
  p90HandlingHours: number | null;
  satisfaction: number | null;
  overdueOpen: number;
}

/**
 * Imported histories have closed cases without a deadline. Boston's own on-time status counts them as on time;
 * counting them either way would invent a deadline, so they are left out and counted separately.
 */
export const onTimeRule = 'onTimeRate = closed by the deadline / closed with a deadline; closed cases without a deadline are left out and counted in closedWithoutDeadline';

export interface IncidentStats {
  groupBy: string;
  /** The time zone whose calendar days groupBy=day counts. */
  timeZone: string;
  onTimeRule: string;
  groups: IncidentStatsRow[];
  cityWide?: IncidentStatsRow;
}

/**
 * Closure rate = closed / all reported; on-time rate = closed by the overall deadline / closed with a deadline;
 * handling time = closed_at − reported_at of closed incidents; overdue = still open past the overall deadline at
 * clock(). Days are calendar days of query.tz, else of the city's time zone. A reader limited to grids (gridScope)
 * gets the figures of their grids, and the whole city's only as one ungrouped row (`cityWide`, same filters but
 * the grid), so no figure of another grid is shown on its own.
 */
export async function incidentStats(db: Queryable, clock: Clock, query: StatsQuery, grids: number[] | null, cityTimeZone: string): Promise<IncidentStats> {
  const groupBy = query.groupBy ?? 'all';
  const answer = { groupBy, timeZone: query.tz ?? cityTimeZone, onTimeRule };
  if (grids === null) return { ...answer, groups: await statsGroups(db, clock, query, groupBy, null, answer.timeZone) };
  const [groups, cityWide] = await Promise.all([
    statsGroups(db, clock, query, groupBy, grids, answer.timeZone),
    statsGroups(db, clock, { ...query, grid: undefined }, 'all', null, answer.timeZone),
  ]);
  return { ...answer, groups, cityWide: cityWide[0] ?? emptyStats };
}

const emptyStats: IncidentStatsRow = {
  key: 'all',
  total: 0,
  byStatus: {},
  closed: 0,
  closureRate: null,
  onTimeRate: null,
  closedWithoutDeadline: 0,
  meanHandlingHours: null,
  medianHandlingHours: null,
  p90HandlingHours: null,
  satisfaction: null,
  overdueOpen: 0,
};

async function statsGroups(
  db: Queryable,
  clock: Clock,
  query: StatsQuery,
  groupBy: keyof typeof groupKeys,
  grids: number[] | null,
  timeZone: string,
): Promise<IncidentStatsRow[]> {
  const filtered = `SELECT incidents.*, ${groupKeys[groupBy]} AS key FROM incidents, (SELECT $7::text AS zone) calendar
    WHERE ($1::timestamptz IS NULL OR reported_at >= $1) AND ($2::timestamptz IS NULL OR reported_at < $2)
      AND ($3::bigint IS NULL OR grid_id = $3) AND ($4::text IS NULL OR category = $4) AND ($5::text IS NULL OR department = $5)
      AND ($6::bigint[] IS NULL OR grid_id = ANY ($6))`;
  const params = [query.from ?? null, query.to ?? null, query.grid ?? null, query.category ?? null, query.department ?? null, grids, timeZone];
  const [metrics, byStatus] = await Promise.all([
    db.query<Omit<IncidentStatsRow, 'byStatus'>>(
      `WITH f AS (${filtered}), h AS (SELECT *, extract(epoch FROM closed_at - reported_at) / 3600 AS hours FROM f)
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
       FROM h GROUP BY key ORDER BY key`,
      [...params, openStatuses, clock()],
    ),
    db.query<{ key: string | null; status: string; n: number }>(`WITH f AS (${filtered}) SELECT key, status, count(*)::int AS n FROM f GROUP BY key, status`, params),
  ]);
  const statusCounts = new Map<string | null, Record<string, number>>();
  for (const row of byStatus.rows) statusCounts.set(row.key, { ...statusCounts.get(row.key), [row.status]: row.n });
  return metrics.rows.map((row) => ({ ...row, byStatus: statusCounts.get(row.key) ?? {} }));
}

export interface WorkerIndicators {
  worker: string;
  assigned: number;
  patrolReports: number;
  validReportRate: number | null;
  verifiedOnTimeRate: number | null;
}

/**
 * Grid worker indicators from the seeds: reports per worker (patrol reports in the worker's grids), valid-report
 * rate (those not rejected), verified-on-time rate (closed incidents of the worker's grids closed by the deadline).
 * Incidents without an assigned worker count for their grid's first worker. A reader limited to grids sees the
 * indicators from their grids' incidents only.
 */
export async function workerIndicators(db: Queryable, query: Pick<StatsQuery, 'from' | 'to' | 'grid'>, grids: number[] | null): Promise<WorkerIndicators[]> {
  const { rows } = await db.query<WorkerIndicators>(
    `WITH f AS (
       SELECT i.*, coalesce(i.assigned_worker, g.workers[1]) AS worker FROM incidents i JOIN grids g ON g.id = i.grid_id
       WHERE ($1::timestamptz IS NULL OR i.reported_at >= $1) AND ($2::timestamptz IS NULL OR i.reported_at < $2) AND ($3::bigint IS NULL OR i.grid_id = $3)
         AND ($4::bigint[] IS NULL OR i.grid_id = ANY ($4)))
     SELECT worker, count(*)::int AS assigned,
       count(*) FILTER (WHERE source = 'patrol')::int AS "patrolReports",
       (count(*) FILTER (WHERE source = 'patrol' AND status <> 'rejected'))::float8 / nullif(count(*) FILTER (WHERE source = 'patrol'), 0) AS "validReportRate",
       (count(*) FILTER (WHERE status = 'closed' AND closed_at <= due_at))::float8 / nullif(count(*) FILTER (WHERE status = 'closed'), 0) AS "verifiedOnTimeRate"
     FROM f WHERE worker IS NOT NULL GROUP BY worker ORDER BY worker`,
    [query.from ?? null, query.to ?? null, query.grid ?? null, grids],
  );
  return rows;
}

export interface CellCount {
  h3: string;
  count: number;
}

/**
 * Incidents reported in [from, to) counted per H3 cell (resolution 7, 8 or 9, stored with every incident): one row
 * per cell with incidents, so the answer is bounded by the city's area, not by how many incidents it holds.
 */
export async function incidentCellCounts(db: Queryable, window: { from: Date; to: Date; resolution: 7 | 8 | 9 }): Promise<CellCount[]> {
  const column = { 7: 'h3_r7', 8: 'h3_r8', 9: 'h3_r9' }[window.resolution];
  const { rows } = await db.query<CellCount>(
    `SELECT ${column} AS h3, count(*)::int AS count FROM incidents
     WHERE reported_at >= $1 AND reported_at < $2 AND ${column} IS NOT NULL GROUP BY ${column} ORDER BY ${column}`,
    [window.from, window.to],
  );
  return rows;
}

export interface DistrictCount {
  gridId: number;
  name: string;
  bbox: [number, number, number, number];
  count: number;
}

/**
 * Incidents reported in [from, to) per top-level grid (district), found by location so that any depth of nesting
 * works, busiest first, with each district's bounding box (for a map to fly to).
 */
export async function incidentsByDistrict(db: Queryable, window: { from: Date; to: Date }): Promise<DistrictCount[]> {
  const { rows } = await db.query<DistrictCount>(
    `SELECT g.id::int AS "gridId", g.name,
            json_build_array(round(ST_XMin(g.geom)::numeric, 5), round(ST_YMin(g.geom)::numeric, 5), round(ST_XMax(g.geom)::numeric, 5), round(ST_YMax(g.geom)::numeric, 5)) AS bbox,
            (SELECT count(*)::int FROM incidents i WHERE i.reported_at >= $1 AND i.reported_at < $2 AND ST_Intersects(g.geom, i.geom)) AS count
     FROM grids g WHERE g.parent_id IS NULL ORDER BY count DESC, g.id`,
    [window.from, window.to],
  );
  return rows.map((row) => ({ ...row, bbox: row.bbox.map(Number) as DistrictCount['bbox'] }));
}
