import type { Queryable } from '../db/pool';

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
  const { rows } = await db.query<{ fixes: Array<[number, number, number]> }>(
    `SELECT fixes FROM (
       SELECT (SELECT json_agg(json_build_array(round(ST_X(v.geom)::numeric, 5), round(ST_Y(v.geom)::numeric, 5),
                                                round(ST_M(v.geom) - extract(epoch FROM $1::timestamptz))::int) ORDER BY v.path)
               FROM ST_DumpPoints(t.geom_m) v
               WHERE v.path[1] % $4 = 1 AND ST_M(v.geom) <= extract(epoch FROM $3::timestamptz)) AS fixes
       FROM (SELECT geom_m FROM patrol_tracks WHERE started_at >= $1 AND started_at < $2 AND started_at <= $3 ORDER BY started_at, id LIMIT $5) t
     ) thinned
     WHERE json_array_length(fixes) > 1`,
    [dayStart, dayEnd, at, keepEveryNthFix, maxTracks],
  );
  return rows.map(({ fixes }) => ({ path: fixes.map(([lon, lat]) => [Number(lon), Number(lat)]), seconds: fixes.map((fix) => fix[2]) }));
}

/** Workers on patrol at `at` (a track vertex within the last five minutes) and where each is, without names. */
export async function patrolsAt(db: Queryable, at: Date): Promise<{ workers: number; positions: Array<[number, number]> }> {
  const { rows } = await db.query<{ worker: string; lon: number; lat: number }>(
    `SELECT t.worker, round(ST_X(p.geom)::numeric, 5)::float8 AS lon, round(ST_Y(p.geom)::numeric, 5)::float8 AS lat
     FROM patrol_tracks t
     CROSS JOIN LATERAL (
       SELECT v.geom FROM ST_DumpPoints(t.geom_m) v WHERE ST_M(v.geom) <= extract(epoch FROM $1::timestamptz) ORDER BY v.path DESC LIMIT 1
     ) p
     WHERE t.started_at <= $1 AND t.ended_at >= $1 - make_interval(mins => $2)
       AND ST_M(p.geom) >= extract(epoch FROM $1::timestamptz - make_interval(mins => $2))`,
    [at, liveWindowMinutes],
  );
  return { workers: new Set(rows.map((row) => row.worker)).size, positions: rows.map((row) => [row.lon, row.lat]) };
}
