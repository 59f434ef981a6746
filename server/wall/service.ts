import type { z } from 'zod';
import type { Queryable } from '../db/pool';
import type { Clock } from '../deps';
import { mostOverdueGrids } from '../incidents/escalation';
import { type CellCount, incidentCellCounts, incidentsByDistrict, incidentStats } from '../incidents/stats';
import { type AnonymousTrack, patrolsAt, tracksOfDay } from './patrols';
import type { StatsQuery } from '../incidents/schemas';
import type { WallCellsQuery, WallDayQuery, wallSummaryAnswer } from './schemas';

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;
// Asia/Shanghai has no daylight saving: a day there is [00:00+08, 24:00+08).
const shanghaiOffsetMs = 8 * hourMs;
/** The wall's days are Shanghai days (above), so its day counts ask the stats for the same calendar. */
const wallTimeZone = 'Asia/Shanghai';

/** The day the wall shows and its moment "now": the clock for today; the end of the day for a past day (a replay). */
export interface WallTime {
  day: string;
  dayStart: Date;
  dayEnd: Date;
  at: Date;
}

export function wallTime(clock: Clock, day: string | undefined): WallTime {
  const now = clock();
  const today = new Date(now.getTime() + shanghaiOffsetMs).toISOString().slice(0, 10);
  const shown = day ?? today;
  const dayStart = new Date(Date.parse(`${shown}T00:00:00Z`) - shanghaiOffsetMs);
  const dayEnd = new Date(dayStart.getTime() + dayMs);
  return { day: shown, dayStart, dayEnd, at: now < dayEnd ? now : new Date(dayEnd.getTime() - 1000) };
}

/** What the wall's panels show (its schema documents GET /api/wall/summary). */
export type WallSummary = z.infer<typeof wallSummaryAnswer>;

const daysBefore = (time: WallTime, days: number) => new Date(time.dayStart.getTime() - days * dayMs);

/**
 * Everything the wall's panels show, as aggregates: every figure is the one the stats API gives for the same window
 * (the wall test checks it), so the wall and a report never disagree.
 */
export async function wallSummary(db: Queryable, clock: Clock, query: WallDayQuery): Promise<WallSummary> {
  const time = wallTime(clock, query.day);
  const week = { from: daysBefore(time, 6).toISOString(), to: time.dayEnd.toISOString() };
  // The wall's roles see the whole city: no grid scope.
  const stats = (query: StatsQuery) => incidentStats(db, clock, query, null, wallTimeZone);
  const [day, month, city, trend, byCategory, bySource, grids, patrols, districts] = await Promise.all([
    stats({ from: time.dayStart.toISOString(), to: time.dayEnd.toISOString() }),
    stats({ from: daysBefore(time, 29).toISOString(), to: time.dayEnd.toISOString() }),
    stats({}),
    stats({ ...week, groupBy: 'day' }),
    stats({ ...week, groupBy: 'category' }),
    stats({ ...week, groupBy: 'source' }),
    mostOverdueGrids(db, clock, 10),
    patrolsAt(db, time.at),
    incidentsByDistrict(db, { from: daysBefore(time, 6), to: time.dayEnd }),
  ]);
  const counted = (groups: typeof byCategory.groups) =>
    groups.map((group) => ({ name: group.key ?? '', count: group.total })).sort((a, b) => b.count - a.count);
  const trendByDay = new Map(trend.groups.map((group) => [group.key, group]));
  return {
    day: time.day,
    at: time.at.toISOString(),
    kpis: {
      reports: day.groups[0]?.total ?? 0,
      closureRate: month.groups[0]?.closureRate ?? null,
      onTimeRate: month.groups[0]?.onTimeRate ?? null,
      overdue: city.groups[0]?.overdueOpen ?? 0,
      supervising: city.groups[0]?.byStatus.supervising ?? 0,
      workersOnPatrol: patrols.workers,
    },
    trend: Array.from({ length: 7 }, (_, k) => {
      const key = new Date(daysBefore(time, 6 - k).getTime() + shanghaiOffsetMs).toISOString().slice(0, 10);
      const group = trendByDay.get(key);
      return { day: key, reports: group?.total ?? 0, closed: group?.closed ?? 0 };
    }),
    byCategory: counted(byCategory.groups),
    bySource: counted(bySource.groups),
    mostOverdueGrids: grids,
    districts,
  };
}

/** Incident counts per H3 cell over the last 24 hours or 7 days up to the wall time: for the heatmap and hexagons. */
export async function wallCells(db: Queryable, clock: Clock, query: WallCellsQuery): Promise<{ day: string; window: string; resolution: number; cells: CellCount[] }> {
  const time = wallTime(clock, query.day);
  const from = new Date(time.at.getTime() - (query.window === '24h' ? 1 : 7) * dayMs);
  const cells = await incidentCellCounts(db, { from, to: time.at, resolution: query.resolution });
  return { day: time.day, window: query.window, resolution: query.resolution, cells };
}

/** The day's patrols without names (for the animated tracks) and the workers out at the wall time. */
export async function wallPatrols(
  db: Queryable,
  clock: Clock,
  query: WallDayQuery,
): Promise<{ day: string; dayStart: string; at: string; tracks: AnonymousTrack[]; positions: Array<[number, number]> }> {
  const time = wallTime(clock, query.day);
  const [tracks, now] = await Promise.all([tracksOfDay(db, time.dayStart, time.dayEnd, time.at), patrolsAt(db, time.at)]);
  return { day: time.day, dayStart: time.dayStart.toISOString(), at: time.at.toISOString(), tracks, positions: now.positions };
}
