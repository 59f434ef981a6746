import { type PoolClient, runAsOneMessage } from '../db/pool';
import { changeChannel } from '../events/bus';
import type { FlagReason } from './schemas';
import { cutIntoTracks, decideSpeedFlags, type StoredFix, trackEwkb, trackPiecesEwkb, trackStretches } from './segments';
import { fixesOfDaysSql, lockWorkerDaysSql, replaceTracksSql, updateFlagsSql } from './sql';

/** One worker's local calendar day (CITY_TIME_ZONE), the unit tracks are built in. */
export interface WorkerDay {
  worker: string;
  day: string;
}

export interface RebuildResult {
  days: Array<{ workerId: string; day: string; tracks: number }>;
  /** The final flags of the fixes this transaction stored, per day key (dayKey), in the order given (null: in a track). */
  freshFlags: Map<string, Array<FlagReason | null>>;
  /** Each rebuilt worker's newest accepted fix, for the live positions. */
  newestAccepted: Array<{ worker: string; ms: number; lon: number; lat: number }>;
}

/** The key of a worker-day in the maps of this module. */
export const dayKey = (worker: string, day: string) => `${worker}\u0000${day}`;

/**
 * Every fix of each day, after taking the days' advisory locks: builds of the same worker-day are serialised
 * across transactions and processes (a batch waits for another batch of that day to commit, then reads its fixes
 * too), and taken in one order (sorted keys) so that they cannot deadlock. The lock and the read go as one message,
 * two statements: the read's snapshot is taken after the locks. A day that holds no fixes but those this
 * transaction stored (`fresh`, by time) is not read back: those are the day's fixes as they are (most batches start
 * days of their own).
 */
async function lockAndReadDays(client: PoolClient, days: WorkerDay[], zone: string, fresh: Map<string, StoredFix[]>): Promise<Map<string, StoredFix[]>> {
  const keys = days.map((d) => dayKey(d.worker, d.day));
  const workers = days.map((d) => d.worker);
  const dates = days.map((d) => d.day);
  const [, read] = await runAsOneMessage(client, [
    { text: lockWorkerDaysSql, values: [workers, dates] },
    { text: fixesOfDaysSql, values: [workers, dates, zone, keys.map((key) => fresh.get(key)?.length ?? 0)] },
  ]);
  const byDay = new Map<string, StoredFix[]>();
  for (const { key, ...fix } of read.rows as Array<StoredFix & { key: number }>) {
    const name = keys[key - 1];
    const list = byDay.get(name) ?? [];
    list.push(fix);
    byDay.set(name, list);
  }
  for (const key of keys) if (!byDay.has(key)) byDay.set(key, fresh.get(key) ?? []);
  return byDay;
}

/** The final flags of the fresh fixes of a day, from the flags decided for all its fixes. */
function flagsOfFresh(dayFixes: StoredFix[], decided: Array<FlagReason | null>, fresh: StoredFix[] | undefined): Array<FlagReason | null> {
  if (!fresh) return [];
  if (fresh === dayFixes) return decided;
  const byTime = new Map(dayFixes.map((fix, i) => [fix.ms, decided[i]]));
  return fresh.map((fix) => byTime.get(fix.ms) ?? null);
}

interface BuiltTrack {
  worker: string;
  fixes: StoredFix[];
}

/** Replaces the tracks of the days with the built ones, marks the days' coverage stale and announces the change (replaceTracksSql). */
async function replaceTracks(client: PoolClient, days: WorkerDay[], tracks: BuiltTrack[], zone: string): Promise<void> {
  const stretches = tracks.map((track) => trackStretches(track.fixes));
  const pieces = tracks.flatMap((track, i) => trackPiecesEwkb(track.fixes).map((ewkb) => ({ track: i + 1, ewkb })));
  await client.query(
    replaceTracksSql,
    [
      days.map((d) => d.worker),
      days.map((d) => d.day),
      tracks.map((t) => t.worker),
      tracks.map((t) => trackEwkb(t.fixes)),
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
      pieces.map((piece) => piece.ewkb),
      changeChannel,
    ],
  );
}

/** Writes the speed flags that changed (a late batch can make an accepted fix a jump, or the reverse). */
async function updateFlags(client: PoolClient, changes: Array<{ id: number; flag: FlagReason | null }>): Promise<void> {
  if (!changes.length) return;
  await client.query(updateFlagsSql, [
    changes.map((c) => c.id),
    changes.map((c) => c.flag),
  ]);
}

/**
 * Builds the tracks of the given worker-days from all their stored fixes, in the caller's transaction: speed flags
 * decided over the whole day, accepted fixes cut at gaps over 10 minutes, each piece a LineStringM. The result
 * depends on the set of fixes only, so batches in any order, split or repeated, give the same tracks. `fresh` holds
 * the fixes this transaction stored, per day key, by time (as stored: RETURNING of the insert).
 */
export async function rebuildDays(client: PoolClient, days: WorkerDay[], zone: string, fresh = new Map<string, StoredFix[]>()): Promise<RebuildResult> {
  const result: RebuildResult = { days: [], freshFlags: new Map(), newestAccepted: [] };
  if (!days.length) return result;
  const fixes = await lockAndReadDays(client, days, zone, fresh);
  const tracks: BuiltTrack[] = [];
  const changes: Array<{ id: number; flag: FlagReason | null }> = [];
  const newest = new Map<string, RebuildResult['newestAccepted'][number]>();
  for (const { worker, day } of days) {
    const key = dayKey(worker, day);
    const dayFixes = fixes.get(key) ?? [];
    const decided = decideSpeedFlags(dayFixes);
    dayFixes.forEach((fix, i) => {
      if (decided[i] !== fix.flag) changes.push({ id: fix.id, flag: decided[i] });
      const known = newest.get(worker);
      if (decided[i] === null && (!known || known.ms < fix.ms)) newest.set(worker, { worker, ms: fix.ms, lon: fix.lon, lat: fix.lat });
    });
    result.freshFlags.set(key, flagsOfFresh(dayFixes, decided, fresh.get(key)));
    const pieces = cutIntoTracks(dayFixes, decided);
    for (const piece of pieces) tracks.push({ worker, fixes: piece });
    result.days.push({ workerId: worker, day, tracks: pieces.length });
  }
  await updateFlags(client, changes);
  await replaceTracks(client, days, tracks, zone);
  result.newestAccepted = [...newest.values()];
  return result;
}
