// The wall's SQL: today's patrols without anyone's name, read from the patrol tracks (their M is each vertex's time).
// Every value is a bound parameter; tracks are read through the patrols domain's patrolTrackFacts.
import { patrolTrackFacts } from '../patrols/sql';

/**
 * The thinned vertices [lon, lat, seconds since $1] of the patrols that started in [$1, $2), up to $3: one vertex in
 * $4, $5 tracks at most, in start order; tracks of fewer than two vertices are left out.
 */
export const tracksOfDaySql = `SELECT fixes FROM (
       SELECT (SELECT json_agg(json_build_array(round(ST_X(v.geom)::numeric, 5), round(ST_Y(v.geom)::numeric, 5),
                                                round(ST_M(v.geom) - extract(epoch FROM $1::timestamptz))::int) ORDER BY v.path)
               FROM ST_DumpPoints(t.geom_m) v
               WHERE v.path[1] % $4 = 1 AND ST_M(v.geom) <= extract(epoch FROM $3::timestamptz)) AS fixes
       FROM (SELECT geom_m FROM ${patrolTrackFacts} tracks WHERE started_at >= $1 AND started_at < $2 AND started_at <= $3 ORDER BY started_at, id LIMIT $5) t
     ) thinned
     WHERE json_array_length(fixes) > 1`;

export interface TrackFixesRow {
  fixes: Array<[number, number, number]>;
}

/** The last position at $1 of each track with a vertex within the $2 minutes before it, and whose track it is. */
export const patrolPositionsSql = `SELECT t.worker, round(ST_X(p.geom)::numeric, 5)::float8 AS lon, round(ST_Y(p.geom)::numeric, 5)::float8 AS lat
     FROM ${patrolTrackFacts} t
     CROSS JOIN LATERAL (
       SELECT v.geom FROM ST_DumpPoints(t.geom_m) v WHERE ST_M(v.geom) <= extract(epoch FROM $1::timestamptz) ORDER BY v.path DESC LIMIT 1
     ) p
     WHERE t.started_at <= $1 AND t.ended_at >= $1 - make_interval(mins => $2)
       AND ST_M(p.geom) >= extract(epoch FROM $1::timestamptz - make_interval(mins => $2))`;

export interface PatrolPositionRow {
  worker: string;
  lon: number;
  lat: number;
}
