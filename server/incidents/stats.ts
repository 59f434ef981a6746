import type { Queryable } from '../db/pool';
import type { Clock } from '../deps';
import type { StatsQuery } from './schemas';
import { cellCountsSql, districtCountsSql, type StatsByStatusRow, statsByStatusSql, type StatsGroupKey, statsMetricsSql, workerIndicatorsSql } from './sql';
import { openStatuses } from './workflow';

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
  groupBy: StatsGroupKey,
  grids: number[] | null,
  timeZone: string,
): Promise<IncidentStatsRow[]> {
  const params = [query.from ?? null, query.to ?? null, query.grid ?? null, query.category ?? null, query.department ?? null, grids, timeZone];
  const [metrics, byStatus] = await Promise.all([
    db.query<Omit<IncidentStatsRow, 'byStatus'>>(
      statsMetricsSql(groupBy),
      [...params, openStatuses, clock()],
    ),
    db.query<StatsByStatusRow>(statsByStatusSql(groupBy), params),
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
    workerIndicatorsSql,
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
  const { rows } = await db.query<CellCount>(
    cellCountsSql(window.resolution),
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
    districtCountsSql,
    [window.from, window.to],
  );
  return rows.map((row) => ({ ...row, bbox: row.bbox.map(Number) as DistrictCount['bbox'] }));
}
