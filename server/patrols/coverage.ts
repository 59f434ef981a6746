import type { Actor } from '../auth/roles';
import { gridScope } from '../auth/scope';
import type { Pool, Queryable } from '../db/pool';
import { withTransaction } from '../db/pool';
import type { Clock } from '../deps';
import { NotFoundError, RuleViolationError } from '../errors';
import type { IndicatorRow } from './schemas';
import { localDay, workerInScope } from './playback';
import { type DayRow, type DayVersionRow, type PeriodDaysRow, coverageOfDaySql, dayCoverageSql, dayVersionAndBoundsSql, daysNeedingCoverageSql, indicatorsSql, levelFourGridExistsSql, periodDaysSql, repeatableReadSql, workerKnownSql, workerSummarySql } from './sql';

/** Longest period of one indicators request (days are computed once and kept, see sql/170). */
export const maxPeriodDays = 92;

/**
 * Computes and keeps one day's coverage. Repeatable read: the version read and the tracks read are one snapshot,
 * so figures stored under a version are those of that version's tracks; a rebuild meanwhile raises the version
 * and the day is computed again on its next read.
 */
export async function computeDayCoverage(pool: Pool, zone: string, day: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query(repeatableReadSql);
    const { rows } = await client.query<DayVersionRow>(
      dayVersionAndBoundsSql,
      [day, zone],
    );
    await client.query(dayCoverageSql, [rows[0].dayStart, rows[0].dayEnd, day, rows[0].version]);
  });
}

/** Computes the days among `days` whose kept coverage is missing, partial (a grid added since) or stale. */
export async function ensureCoverage(pool: Pool, zone: string, days: string[]): Promise<void> {
  const { rows } = await pool.query<DayRow>(
    daysNeedingCoverageSql,
    [days],
  );
  for (const { day } of rows) await computeDayCoverage(pool, zone, day);
}

/** GET /api/patrols/coverage: every level-4 grid the reader may see (a grid worker: their grids), or one. */
export async function coverageOfDay(pool: Pool, clock: Clock, zone: string, reader: Actor | null, query: { date?: string; grid?: number }) {
  const scope = gridScope(reader);
  if (query.grid !== undefined) {
    const { rows } = await pool.query(levelFourGridExistsSql, [query.grid]);
    if (!rows.length || (scope && !scope.includes(query.grid))) throw new NotFoundError(`No level-4 grid ${query.grid}`);
  }
  const { day } = await localDay(pool, clock, zone, query.date);
  await ensureCoverage(pool, zone, [day]);
  const { rows } = await pool.query(
    coverageOfDaySql,
    [day, query.grid ?? null, scope],
  );
  return { day, grids: rows };
}

/** The local days from..to (default: the 30 days up to today), refused beyond 92 days. */
async function periodDays(db: Queryable, clock: Clock, zone: string, period: { from?: string; to?: string }): Promise<{ from: string; to: string; days: string[] }> {
  const to = (await localDay(db, clock, zone, period.to)).day;
  const { rows } = await db.query<PeriodDaysRow>(
    periodDaysSql,
    [period.from ?? null, to],
  );
  const { from, days } = rows[0];
  if (from > to) throw new RuleViolationError(`from (${from}) is after to (${to})`, { rule: 'period' });
  if (days.length > maxPeriodDays) throw new RuleViolationError(`The period holds ${days.length} days; at most ${maxPeriodDays} per request`, { rule: 'period' });
  return { from, to, days };
}

/**
 * Indicators per grid of a level over a period: the mean daily road and building coverage (weighted by road
 * length when level-4 grids roll up into communities, streets, districts), distance and time patrolled, distinct
 * workers, and reports filed on patrol (incidents of source patrol) in the grid.
 */
export async function indicators(pool: Pool, clock: Clock, zone: string, query: { from?: string; to?: string; level: number }): Promise<{ from: string; to: string; level: number; rows: IndicatorRow[] }> {
  const period = await periodDays(pool, clock, zone, query);
  await ensureCoverage(pool, zone, period.days);
  const { rows } = await pool.query<IndicatorRow>(
    indicatorsSql,
    [period.from, period.to, query.level, zone, period.days.length],
  );
  return { from: period.from, to: period.to, level: query.level, rows };
}

const csvColumns: Array<keyof IndicatorRow> = ['gridId', 'code', 'name', 'level', 'days', 'roadShare', 'buildingShare', 'distanceM', 'seconds', 'workers', 'patrolReports'];

/** RFC 4180 quoting; a text cell a spreadsheet would run as a formula (=, +, -, @) is prefixed with '. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@]/.test(String(value)) ? `'${String(value)}` : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function indicatorsCsv(rows: IndicatorRow[]): string {
  return [csvColumns.join(','), ...rows.map((row) => csvColumns.map((column) => csvCell(row[column])).join(','))].join('\r\n') + '\r\n';
}

/**
 * One worker over a period: distance, time on duty (the time spanned by their tracks), the grids their tracks
 * crossed, how much of the road length of their own grids (those listing them) lies within 30 m of their tracks
 * of the period, and their patrol reports: incidents of source patrol filed while one of their tracks ran, within
 * 100 m of it.
 */
export async function workerSummary(pool: Pool, clock: Clock, zone: string, reader: Actor | null, workerId: string, period: { from?: string; to?: string }) {
  const worker = workerInScope(reader, workerId) as string;
  const known = await pool.query(workerKnownSql, [worker]);
  if (!known.rows.length) throw new NotFoundError(`No worker ${worker}`);
  const { from, to } = await periodDays(pool, clock, zone, period);
  const { rows } = await pool.query(
    workerSummarySql,
    [worker, from, to, zone],
  );
  return { workerId: worker, from, to, ...rows[0] };
}
