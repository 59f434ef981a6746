import type { Queryable } from '../db/pool';
import { type PatrolPositionRow, patrolPositionsSql, type TrackFixesRow, tracksOfDaySql } from './sql';

/** One patrol of the day without anyone's name: where it went and when (seconds since the day began). */
export interface AnonymousTrack {
  path: Array<[number, number]>;
  seconds: number[];
}

// A fix every 30 s is more than a city view can show: one vertex in four (every 2 minutes) draws the same line.
const keepEveryNthFix = 4;
const maxTracks = 500;
// A worker whose last fix is older than this is no longer counted as on patrol.
const liveWindowMinutes = 5;

/**
 * The patrols that started within [dayStart, dayEnd), their vertices up to `at`, thinned, with worker, grid and track
 * id left out: the wall sees that the city is patrolled, not who walked where. At most 500 tracks. Read from the
 * tracks (their M is each vertex's time), which stay when retention deletes the raw fixes: a replay of an old day
 * still shows its patrols.
 */
export async function tracksOfDay(db: Queryable, dayStart: Date, dayEnd: Date, at: Date): Promise<AnonymousTrack[]> {
  const { rows } = await db.query<TrackFixesRow>(
    tracksOfDaySql,
    [dayStart, dayEnd, at, keepEveryNthFix, maxTracks],
  );
  return rows.map(({ fixes }) => ({ path: fixes.map(([lon, lat]) => [Number(lon), Number(lat)]), seconds: fixes.map((fix) => fix[2]) }));
}

/** Workers on patrol at `at` (a track vertex within the last five minutes) and where each is, without names. */
export async function patrolsAt(db: Queryable, at: Date): Promise<{ workers: number; positions: Array<[number, number]> }> {
  const { rows } = await db.query<PatrolPositionRow>(
    patrolPositionsSql,
    [at, liveWindowMinutes],
  );
  return { workers: new Set(rows.map((row) => row.worker)).size, positions: rows.map((row) => [row.lon, row.lat]) };
}
