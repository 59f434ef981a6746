import type { Queryable } from '../db/pool';

/** One patrol of the day without anyone's name: where it went and when (seconds since the day began). */
export interface AnonymousTrack {
  path: Array<[number, number]>;
  seconds: number[];
}

// A fix every 30 s is more than a city view can show: one in four (every 2 minutes) draws the same line.
const keepEveryNthFix = 4;
const maxTracks = 500;
// A worker whose last fix is older than this is no longer counted as on patrol.
const liveWindowMinutes = 5;

/**
 * The patrols that started within [dayStart, dayEnd), their fixes up to `at`, thinned, with worker, grid and track
 * id left out: the wall sees that the city is patrolled, not who walked where. At most 500 tracks.
 */
export async function tracksOfDay(db: Queryable, dayStart: Date, dayEnd: Date, at: Date): Promise<AnonymousTrack[]> {
  const { rows } = await db.query<{ fixes: Array<[number, number, number]> }>(
    `SELECT json_agg(json_build_array(round(ST_X(p.geom)::numeric, 5), round(ST_Y(p.geom)::numeric, 5),
                                      round(extract(epoch FROM p.recorded_at - $1))::int) ORDER BY p.recorded_at) AS fixes
     FROM (SELECT id FROM patrol_tracks WHERE started_at >= $1 AND started_at < $2 AND started_at <= $3 ORDER BY started_at, id LIMIT $5) t
     CROSS JOIN LATERAL (
       SELECT geom, recorded_at, row_number() OVER (ORDER BY recorded_at) AS n FROM patrol_points WHERE track_id = t.id AND recorded_at <= $3
     ) p
     WHERE p.n % $4 = 1
     GROUP BY t.id HAVING count(*) > 1`,
    [dayStart, dayEnd, at, keepEveryNthFix, maxTracks],
  );
  return rows.map(({ fixes }) => ({ path: fixes.map(([lon, lat]) => [Number(lon), Number(lat)]), seconds: fixes.map((fix) => fix[2]) }));
}

/** Workers on patrol at `at` (a fix within the last five minutes) and where each is, without names. */
export async function patrolsAt(db: Queryable, at: Date): Promise<{ workers: number; positions: Array<[number, number]> }> {
  const { rows } = await db.query<{ worker: string; lon: number; lat: number }>(
    `SELECT t.worker, round(ST_X(p.geom)::numeric, 5)::float8 AS lon, round(ST_Y(p.geom)::numeric, 5)::float8 AS lat
     FROM patrol_tracks t
     CROSS JOIN LATERAL (
       SELECT geom, recorded_at FROM patrol_points WHERE track_id = t.id AND recorded_at <= $1 ORDER BY recorded_at DESC LIMIT 1
     ) p
     WHERE t.started_at <= $1 AND t.ended_at >= $1 - make_interval(mins => $2) AND p.recorded_at >= $1 - make_interval(mins => $2)`,
    [at, liveWindowMinutes],
  );
  return { workers: new Set(rows.map((row) => row.worker)).size, positions: rows.map((row) => [row.lon, row.lat]) };
}
