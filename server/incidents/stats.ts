import type { Queryable } from '../db/pool';
import type { Clock } from '../deps';
import type { StatsQuery } from './schemas';
import { openStatuses } from './workflow';

// Group keys come from this fixed table (the query names one of its keys, validated by zod), never from input.
const groupKeys: Record<NonNullable<StatsQuery['groupBy']> | 'all', string> = {
  all: `'all'`,
  day: `to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')`,
  grid: `grid_id::text`,
  category: `category`,
  department: `department`,
};

export interface IncidentStatsRow {
  key: string | null;
  total: number;
  byStatus: Record<string, number>;
  closed: number;
  closureRate: number | null;
  onTimeRate: number | null;
  meanHandlingHours: number | null;
  medianHandlingHours: number | null;
  p90HandlingHours: number | null;
  satisfaction: number | null;
  overdueOpen: number;
}

/**
 * Closure rate = closed / all reported; on-time rate = closed by the overall deadline / closed; handling time =
 * closed_at − reported_at of closed incidents; overdue = still open past the overall deadline at clock(). A reader
 * limited to grids (gridScope) gets the figures of their grids, and the whole city's only as one ungrouped row
 * (`cityWide`, same filters but the grid), so no figure of another grid is shown on its own.
 */
export async function incidentStats(
  db: Queryable,
  clock: Clock,
  query: StatsQuery,
  grids: number[] | null,
): Promise<{ groupBy: string; groups: IncidentStatsRow[]; cityWide?: IncidentStatsRow }> {
  const groupBy = query.groupBy ?? 'all';
  if (grids === null) return { groupBy, groups: await statsGroups(db, clock, query, groupBy, null) };
  const [groups, cityWide] = await Promise.all([
    statsGroups(db, clock, query, groupBy, grids),
    statsGroups(db, clock, { ...query, grid: undefined }, 'all', null),
  ]);
  return { groupBy, groups, cityWide: cityWide[0] ?? emptyStats };
}

const emptyStats: IncidentStatsRow = {
  key: 'all',
  total: 0,
  byStatus: {},
  closed: 0,
  closureRate: null,
  onTimeRate: null,
  meanHandlingHours: null,
  medianHandlingHours: null,
  p90HandlingHours: null,
  satisfaction: null,
  overdueOpen: 0,
};

async function statsGroups(db: Queryable, clock: Clock, query: StatsQuery, groupBy: keyof typeof groupKeys, grids: number[] | null): Promise<IncidentStatsRow[]> {
  const filtered = `SELECT *, ${groupKeys[groupBy]} AS key FROM incidents
    WHERE ($1::timestamptz IS NULL OR reported_at >= $1) AND ($2::timestamptz IS NULL OR reported_at < $2)
      AND ($3::bigint IS NULL OR grid_id = $3) AND ($4::text IS NULL OR category = $4) AND ($5::text IS NULL OR department = $5)
      AND ($6::bigint[] IS NULL OR grid_id = ANY ($6))`;
  const params = [query.from ?? null, query.to ?? null, query.grid ?? null, query.category ?? null, query.department ?? null, grids];
  const [metrics, byStatus] = await Promise.all([
    db.query<Omit<IncidentStatsRow, 'byStatus'>>(
      `WITH f AS (${filtered}), h AS (SELECT *, extract(epoch FROM closed_at - reported_at) / 3600 AS hours FROM f)
       SELECT key, count(*)::int AS total,
         count(*) FILTER (WHERE status = 'closed')::int AS closed,
         (count(*) FILTER (WHERE status = 'closed'))::float8 / nullif(count(*), 0) AS "closureRate",
         (count(*) FILTER (WHERE status = 'closed' AND closed_at <= due_at))::float8 / nullif(count(*) FILTER (WHERE status = 'closed' AND due_at IS NOT NULL), 0) AS "onTimeRate",
         avg(hours) FILTER (WHERE status = 'closed')::float8 AS "meanHandlingHours",
         percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) FILTER (WHERE status = 'closed') AS "medianHandlingHours",
         percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) FILTER (WHERE status = 'closed') AS "p90HandlingHours",
         avg(satisfaction)::float8 AS satisfaction,
         count(*) FILTER (WHERE status = ANY ($7::text[]) AND due_at < $8)::int AS "overdueOpen"
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
