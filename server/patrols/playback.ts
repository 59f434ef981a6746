import type { Actor } from '../auth/roles';
import type { Queryable } from '../db/pool';
import type { Clock } from '../deps';
import { NotFoundError } from '../errors';
import type { TrackProperties, TracksQuery } from './schemas';

/**
 * Whose tracks a reader gets: a grid worker their own only (another worker's are answered 404, as if there were
 * none), commanders and admins any (null: no restriction beyond the query).
 */
export function workerInScope(reader: Actor | null, asked: string | undefined): string | undefined {
  if (reader?.role !== 'grid_worker') return asked;
  if (!reader.worker || (asked !== undefined && asked !== reader.worker)) throw new NotFoundError(`No patrol tracks of worker ${asked ?? '(none bound to this token)'}`);
  return reader.worker;
}

/** The local day asked for, or the clock's local day, with the instant it starts. */
export async function localDay(db: Queryable, clock: Clock, zone: string, date: string | undefined): Promise<{ day: string; dayStart: Date; dayEnd: Date }> {
  const { rows } = await db.query<{ day: string; dayStart: Date; dayEnd: Date }>(
    `SELECT d::text AS day, d::timestamp AT TIME ZONE $2 AS "dayStart", (d + 1)::timestamp AT TIME ZONE $2 AS "dayEnd"
     FROM (SELECT coalesce($1::date, ($3::timestamptz AT TIME ZONE $2)::date) AS d) x`,
    [date ?? null, zone, clock()],
  );
  return rows[0];
}

interface TrackRow extends TrackProperties {
  /** [lon, lat, epoch seconds] per vertex, after simplification. */
  vertices: Array<[number, number, number]>;
}

/**
 * The tracks of one local day, filtered and paginated by id. With a tolerance (metres) each line is simplified
 * with Douglas–Peucker in Web Mercator (the tolerance scaled by the latitude), which keeps the M of every vertex it
 * keeps, so times stay exact.
 */
async function tracksOfDay(db: Queryable, window: { dayStart: Date; dayEnd: Date }, query: TracksQuery & { worker: string | undefined }): Promise<TrackRow[]> {
  const { rows } = await db.query<TrackRow>(
    `SELECT t.id, t.worker AS "workerId", to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "startedAt",
            to_char(t.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "endedAt", round(t.distance_m::numeric, 1)::float8 AS "distanceM",
            extract(epoch FROM t.ended_at - t.started_at)::float8 AS "durationS", t.fixes, t.grid_ids::int[] AS "gridIds",
            (SELECT json_agg(json_build_array(round(ST_X(v.geom)::numeric, 6), round(ST_Y(v.geom)::numeric, 6), ST_M(v.geom)) ORDER BY v.path)
             FROM ST_DumpPoints(CASE WHEN $7::float8 > 0
                   THEN ST_Transform(ST_Simplify(ST_Transform(t.geom_m, 3857), $7 / cos(radians(ST_Y(ST_StartPoint(t.geom_m)))), true), 4326)
                   ELSE t.geom_m END) v) AS vertices
     FROM patrol_tracks t
     WHERE t.started_at >= $1 AND t.started_at < $2 AND ($3::text IS NULL OR t.worker = $3) AND ($4::bigint IS NULL OR t.grid_ids @> ARRAY[$4::bigint])
       AND ($5::float8[] IS NULL OR t.geom && ST_MakeEnvelope($5[1], $5[2], $5[3], $5[4], 4326)) AND t.id > $6
     ORDER BY t.id LIMIT $8`,
    [window.dayStart, window.dayEnd, query.worker ?? null, query.grid ?? null, query.bbox ?? null, query.cursor ?? 0, query.tolerance, query.limit],
  );
  return rows;
}

export async function readTracks(db: Queryable, clock: Clock, zone: string, reader: Actor | null, query: TracksQuery) {
  const worker = workerInScope(reader, query.worker);
  const window = await localDay(db, clock, zone, query.date);
  const rows = await tracksOfDay(db, window, { ...query, worker });
  const next = rows.length === query.limit ? rows[rows.length - 1].id : null;
  if (query.format === 'trips') {
    const start = window.dayStart.getTime() / 1000;
    return {
      day: window.day,
      dayStart: window.dayStart.toISOString(),
      next,
      trips: rows.map(({ vertices, ...track }) => ({
        ...track,
        path: vertices.map(([lon, lat]) => [lon, lat] as [number, number]),
        // Seconds since local midnight to a tenth: below 86,400, where float32 still resolves 0.01 s.
        timestamps: vertices.map(([, , m]) => Math.round((m - start) * 10) / 10),
      })),
    };
  }
  return {
    type: 'FeatureCollection' as const,
    day: window.day,
    next,
    features: rows.map(({ vertices, ...track }) => ({
      type: 'Feature' as const,
      id: track.id,
      geometry: { type: 'LineString' as const, coordinates: vertices.map(([lon, lat]) => [lon, lat]) },
      properties: { ...track, times: vertices.map(([, , m]) => m) },
    })),
  };
}
