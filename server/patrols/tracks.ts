import type { PoolClient } from '../db/pool';
import { publishChange } from '../events/bus';
import type { FlagReason } from './schemas';
import { cutIntoTracks, decideSpeedFlags, type StoredFix, trackEwkt, trackPiecesEwkt, trackStretches } from './segments';

/** One worker's local calendar day (CITY_TIME_ZONE), the unit tracks are built in. */
export interface WorkerDay {
  worker: string;
  day: string;
}

export interface RebuildResult {
  days: Array<{ workerId: string; day: string; tracks: number }>;
  /** The final flag of a fix of a rebuilt day (null: in a track). */
  flagOf: (worker: string, ms: number) => FlagReason | null;
  /** Each rebuilt worker's newest accepted fix, for the live positions. */
  newestAccepted: Array<{ worker: string; ms: number; lon: number; lat: number }>;
}

const dayBounds = (day: string, zone: string) => `(${day}::timestamp AT TIME ZONE ${zone})`;

/**
 * Serialises builds of the same worker-day across transactions and processes: a batch waits for another batch of
 * that day to commit, then reads its fixes too. Taken in one order (sorted keys), so builds cannot deadlock.
 */
async function lockDays(client: PoolClient, days: WorkerDay[]): Promise<void> {
  await client.query(
    `SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtextextended(w || '/' || d, 17) AS k FROM unnest($1::text[], $2::text[]) AS x(w, d) ORDER BY 1) keys`,
    [days.map((d) => d.worker), days.map((d) => d.day)],
  );
}

async function fixesOfDays(client: PoolClient, days: WorkerDay[], zone: string): Promise<Map<string, StoredFix[]>> {
  const { rows } = await client.query<StoredFix & { key: number }>(
    `SELECT k.n AS key, p.id, (extract(epoch FROM p.recorded_at) * 1000)::float8 AS ms, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.grid_id AS "gridId", p.flag
     FROM unnest($1::text[], $2::date[]) WITH ORDINALITY AS k(worker, day, n)
     JOIN patrol_points p ON p.worker = k.worker AND p.recorded_at >= ${dayBounds('k.day', '$3')} AND p.recorded_at < ${dayBounds('(k.day + 1)', '$3')}
     ORDER BY k.n, p.recorded_at`,
    [days.map((d) => d.worker), days.map((d) => d.day), zone],
  );
  const byDay = new Map<string, StoredFix[]>();
  for (const { key, ...fix } of rows) {
    const name = `${days[key - 1].worker}\u0000${days[key - 1].day}`;
    const list = byDay.get(name) ?? [];
    list.push(fix);
    byDay.set(name, list);
  }
  return byDay;
}

interface BuiltTrack {
  worker: string;
  fixes: StoredFix[];
}

/** Replaces the tracks of the days with the built ones; returns the extent of what changed on the map. */
async function replaceTracks(client: PoolClient, days: WorkerDay[], tracks: BuiltTrack[], zone: string): Promise<[number, number, number, number] | null> {
  const stretches = tracks.map((track) => trackStretches(track.fixes));
  const pieces = tracks.flatMap((track, i) => trackPiecesEwkt(track.fixes).map((ewkt) => ({ track: i + 1, ewkt })));
  const { rows } = await client.query<{ minx: number | null; miny: number; maxx: number; maxy: number }>(
    `WITH gone AS (
       DELETE FROM patrol_tracks t USING unnest($1::text[], $2::date[]) AS k(worker, day)
       WHERE t.worker = k.worker AND t.started_at >= ${dayBounds('k.day', '$13')} AND t.started_at < ${dayBounds('(k.day + 1)', '$13')}
       RETURNING t.geom
     ),
     built AS (
       SELECT nextval('patrol_tracks_id_seq') AS id, b.track, b.worker, ST_GeomFromEWKT(b.ewkt) AS geom_m,
              timestamptz 'epoch' + b.started_ms * interval '1 millisecond' AS started_at, timestamptz 'epoch' + b.ended_ms * interval '1 millisecond' AS ended_at,
              b.n, b.distance_m, b.main_grid, b.grids::bigint[] AS grids, b.metres::float8[] AS metres, b.seconds::float8[] AS seconds
       FROM unnest($3::text[], $4::text[], $5::float8[], $6::float8[], $7::int[], $8::float8[], $9::bigint[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY
         AS b(worker, ewkt, started_ms, ended_ms, n, distance_m, main_grid, grids, metres, seconds, track)
     ),
     added AS (
       INSERT INTO patrol_tracks (id, worker, started_at, ended_at, geom, geom_m, distance_m, fixes, grid_id, grid_ids, grid_metres, grid_seconds)
       SELECT id, worker, started_at, ended_at, ST_Force2D(geom_m), geom_m, distance_m, n, main_grid, grids, metres, seconds
       FROM built
       RETURNING geom
     ),
     pieces AS (
       INSERT INTO patrol_track_pieces (track_id, started_at, geom_3857)
       SELECT built.id, built.started_at, ST_Transform(ST_GeomFromEWKT(p.ewkt), 3857)
       FROM unnest($14::int[], $15::text[]) AS p(track, ewkt) JOIN built USING (track)
     )
     SELECT ST_XMin(e) AS minx, ST_YMin(e) AS miny, ST_XMax(e) AS maxx, ST_YMax(e) AS maxy
     FROM (SELECT ST_Extent(geom) AS e FROM (SELECT geom FROM gone UNION ALL SELECT geom FROM added) changed) extent`,
    [
      days.map((d) => d.worker),
      days.map((d) => d.day),
      tracks.map((t) => t.worker),
      tracks.map((t) => trackEwkt(t.fixes)),
      tracks.map((t) => t.fixes[0].ms),
      tracks.map((t) => t.fixes[t.fixes.length - 1].ms),
      tracks.map((t) => t.fixes.length),
      stretches.map((s) => s.distanceM),
      stretches.map((s) => s.mainGridId),
      stretches.map((s) => `{${s.gridIds.join(',')}}`),
      stretches.map((s) => `{${s.metres.join(',')}}`),
      stretches.map((s) => `{${s.seconds.join(',')}}`),
      zone,
      pieces.map((piece) => piece.track),
      pieces.map((piece) => piece.ewkt),
    ],
  );
  const { minx, miny, maxx, maxy } = rows[0];
  return minx === null ? null : [minx, miny, maxx, maxy];
}

/** Writes the speed flags that changed (a late batch can make an accepted fix a jump, or the reverse). */
async function updateFlags(client: PoolClient, changes: Array<{ id: number; flag: FlagReason | null }>): Promise<void> {
  if (!changes.length) return;
  await client.query('UPDATE patrol_points p SET flag = c.flag FROM unnest($1::bigint[], $2::text[]) AS c(id, flag) WHERE p.id = c.id', [
    changes.map((c) => c.id),
    changes.map((c) => c.flag),
  ]);
}

/** Marks the days' coverage stale (sql/170: patrol_days), in day order. */
async function bumpDayVersions(client: PoolClient, days: WorkerDay[]): Promise<void> {
  const distinct = [...new Set(days.map((d) => d.day))].sort();
  await client.query('INSERT INTO patrol_days (day) SELECT unnest($1::date[]) ON CONFLICT (day) DO UPDATE SET version = patrol_days.version + 1', [distinct]);
}

/**
 * Builds the tracks of the given worker-days from all their stored fixes, in the caller's transaction: speed flags
 * decided over the whole day, accepted fixes cut at gaps over 10 minutes, each piece a LineStringM. The result
 * depends on the set of fixes only, so batches in any order, split or repeated, give the same tracks.
 */
export async function rebuildDays(client: PoolClient, days: WorkerDay[], zone: string): Promise<RebuildResult> {
  const flags = new Map<string, FlagReason | null>();
  const result: RebuildResult = { days: [], flagOf: (worker, ms) => flags.get(`${worker}\u0000${ms}`) ?? null, newestAccepted: [] };
  if (!days.length) return result;
  await lockDays(client, days);
  const fixes = await fixesOfDays(client, days, zone);
  const tracks: BuiltTrack[] = [];
  const changes: Array<{ id: number; flag: FlagReason | null }> = [];
  const newest = new Map<string, RebuildResult['newestAccepted'][number]>();
  for (const { worker, day } of days) {
    const dayFixes = fixes.get(`${worker}\u0000${day}`) ?? [];
    const decided = decideSpeedFlags(dayFixes);
    dayFixes.forEach((fix, i) => {
      flags.set(`${worker}\u0000${fix.ms}`, decided[i]);
      if (decided[i] !== fix.flag) changes.push({ id: fix.id, flag: decided[i] });
      const known = newest.get(worker);
      if (decided[i] === null && (!known || known.ms < fix.ms)) newest.set(worker, { worker, ms: fix.ms, lon: fix.lon, lat: fix.lat });
    });
    const pieces = cutIntoTracks(dayFixes, decided);
    for (const piece of pieces) tracks.push({ worker, fixes: piece });
    result.days.push({ workerId: worker, day, tracks: pieces.length });
  }
  await updateFlags(client, changes);
  const bbox = await replaceTracks(client, days, tracks, zone);
  await bumpDayVersions(client, days);
  if (bbox) await publishChange(client, { kind: 'layer-changed', layer: 'patrol_tracks', ids: [], bbox });
  result.newestAccepted = [...newest.values()];
  return result;
}
