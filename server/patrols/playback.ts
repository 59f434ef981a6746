import type { Actor } from '../auth/roles';
import type { Queryable } from '../db/pool';
import type { Clock } from '../deps';
import { NotFoundError } from '../errors';
import type { TrackProperties, TracksQuery } from './schemas';
import { type LocalDayRow, localDaySql, tracksOfDaySql } from './sql';

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
export async function localDay(db: Queryable, clock: Clock, zone: string, date: string | undefined): Promise<LocalDayRow> {
  const { rows } = await db.query<LocalDayRow>(
    localDaySql,
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
    tracksOfDaySql,
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
