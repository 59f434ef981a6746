import type { PoolClient } from '../db/pool';
import { publishChange } from '../events/bus';
import type { FlagReason } from './schemas';
import { cutIntoTracks, decideSpeedFlags, type StoredFix, trackEwkt, trackPiecesEwkt, trackStretches } from './segments';
import { type ChangedExtentRow, bumpDayVersionsSql, fixesOfDaysSql, lockWorkerDaysSql, replaceTracksSql, updateFlagsSql } from './sql';

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

/**
 * Serialises builds of the same worker-day across transactions and processes: a batch waits for another batch of
 * that day to commit, then reads its fixes too. Taken in one order (sorted keys), so builds cannot deadlock.
 */
async function lockDays(client: PoolClient, days: WorkerDay[]): Promise<void> {
  await client.query(
    lockWorkerDaysSql,
    [days.map((d) => d.worker), days.map((d) => d.day)],
  );
}

async function fixesOfDays(client: PoolClient, days: WorkerDay[], zone: string): Promise<Map<string, StoredFix[]>> {
  const { rows } = await client.query<StoredFix & { key: number }>(
    fixesOfDaysSql,
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
  const { rows } = await client.query<ChangedExtentRow>(
    replaceTracksSql,
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
  await client.query(updateFlagsSql, [
    changes.map((c) => c.id),
    changes.map((c) => c.flag),
  ]);
}

/** Marks the days' coverage stale (sql/170: patrol_days), in day order. */
async function bumpDayVersions(client: PoolClient, days: WorkerDay[]): Promise<void> {
  const distinct = [...new Set(days.map((d) => d.day))].sort();
  await client.query(bumpDayVersionsSql, [distinct]);
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
