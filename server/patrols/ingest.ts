import type { Actor } from '../auth/roles';
import { type WriteContext, withWriteTransaction } from '../db/write-context';
import { numberArrayLiteral } from '../db/array-literals';
import type { Pool, PoolClient, Queryable } from '../db/pool';
import type { Clock } from '../deps';
import { ForbiddenError, RuleViolationError } from '../errors';
import { type CityExtent, extentValues } from '../geo/extent';
import { announcePositions } from './live';
import { type FlagReason, type IngestAnswer, type PatrolFixInput, flagReasons } from './schemas';
import type { StoredFix } from './segments';
import { dayKey, rebuildDays, type WorkerDay } from './tracks';
import { type WorkerRow, insertNewFixesSql, unknownWorkersSql } from './sql';

/** What ingest needs besides the fixes: the city's calendar and extent, the retention horizon, the live throttle. */
export interface IngestSettings {
  timeZone: string;
  city: CityExtent;
  retentionDays: number;
  positionIntervalSeconds: number;
}

const earliestMs = Date.UTC(2000, 0, 1);
const futureToleranceMs = 5 * 60_000;
/** A fix with accuracy worse than this (metres) is stored but left out of tracks. */
export const worstAccuracyM = 100;

interface NormalisedFix {
  row: number;
  workerId: string;
  ms: number;
  lon: number;
  lat: number;
  accuracy: number | null;
  speed: number | null;
  heading: number | null;
}

const rowError = (row: number, fix: { workerId: string }, message: string, rule: string) =>
  new RuleViolationError(`Fix ${row} (worker ${fix.workerId}): ${message}; nothing of the batch was stored`, { rule, row, workerId: fix.workerId });

/** Times as epoch milliseconds, each checked against the window a phone's fix may come from. */
function normalise(fixes: PatrolFixInput[], now: number, retentionDays: number): NormalisedFix[] {
  const oldestMs = now - retentionDays * 86_400_000;
  return fixes.map((fix, row) => {
    const ms = typeof fix.t === 'number' ? fix.t : Date.parse(fix.t);
    if (ms < earliestMs) throw rowError(row, fix, `t ${new Date(ms).toISOString()} is before 2000`, 'fix-time');
    if (ms > now + futureToleranceMs) throw rowError(row, fix, `t ${new Date(ms).toISOString()} is more than 5 minutes in the future`, 'fix-time');
    if (ms < oldestMs) {
      throw rowError(row, fix, `t ${new Date(ms).toISOString()} is older than PATROL_RETENTION_DAYS (${retentionDays}): raw fixes that old are no longer kept`, 'fix-time');
    }
    return { row, workerId: fix.workerId, ms, lon: fix.lon, lat: fix.lat, accuracy: fix.accuracy ?? null, speed: fix.speed ?? null, heading: fix.heading ?? null };
  });
}

/** Grid workers post their own fixes only (403 naming the first other row); an admin (or a loader) posts for anyone. */
function assertPostsOwn(actor: Actor | null, fixes: NormalisedFix[]): void {
  if (actor?.role !== 'grid_worker') return;
  if (!actor.worker) throw new ForbiddenError('This grid worker token is bound to no worker id (npm run token -- create --role grid_worker --worker ID)');
  const other = fixes.find((fix) => fix.workerId !== actor.worker);
  if (other) throw new ForbiddenError(`Fix ${other.row} is for worker ${other.workerId}: a grid worker posts only their own fixes (${actor.worker})`, { row: other.row, workerId: other.workerId });
}

/** Refuses (422, naming the first row) a batch with a worker id no grid lists. */
async function assertKnownWorkers(db: Queryable, fixes: NormalisedFix[]): Promise<void> {
  const ids = [...new Set(fixes.map((fix) => fix.workerId))];
  const { rows } = await db.query<WorkerRow>(
    unknownWorkersSql,
    [ids],
  );
  if (!rows.length) return;
  const unknown = new Set(rows.map((row) => row.worker));
  const first = fixes.find((fix) => unknown.has(fix.workerId)) as NormalisedFix;
  throw rowError(first.row, first, 'no grid lists this worker id', 'known-worker');
}

/** The batch sorted by worker and time, each (worker, time) once: rows are inserted in one order by every batch, so two batches cannot deadlock. */
function uniqueSorted(fixes: NormalisedFix[]): NormalisedFix[] {
  const sorted = [...fixes].sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : a.ms - b.ms));
  return sorted.filter((fix, i) => i === 0 || fix.workerId !== sorted[i - 1].workerId || fix.ms !== sorted[i - 1].ms);
}

/** A fix this batch stored, as stored (its time to the microsecond, its grid and its ingest-time flag). */
interface InsertedFix extends StoredFix {
  worker: string;
  day: string;
}

/**
 * Stores the fixes no earlier batch stored (a repeated fix changes nothing), each with its level-4 grid and its
 * ingest-time flag: outside the city (its extent, as for all geometry) or inaccurate.
 *
 * The grid is grid_at's answer (sql/004: the lowest id of the level-4 grids the fix intersects), found for the whole
 * batch at once: calling grid_at per fix probed the grids' index once per fix, ~25 µs each, more than storing the
 * fix. Here the level-4 grids around the batch are laid on a lattice of cells about a grid's size, each fix is
 * hash-joined to the grids whose box covers its cell, and ST_Intersects decides among those few. A fix lies in
 * its grid's box, so in a cell of it: the candidates hold every grid grid_at would find (test/patrols/ingest).
 * Rows go in in the batch's order (worker, time), so two batches cannot deadlock.
 */
async function insertNewFixes(client: PoolClient, fixes: NormalisedFix[], settings: IngestSettings): Promise<InsertedFix[]> {
  const { rows } = await client.query<InsertedFix>(
    insertNewFixesSql,
    [
      fixes.map((fix) => fix.workerId),
      numberArrayLiteral(fixes.map((fix) => fix.ms)),
      numberArrayLiteral(fixes.map((fix) => fix.lon)),
      numberArrayLiteral(fixes.map((fix) => fix.lat)),
      numberArrayLiteral(fixes.map((fix) => fix.accuracy)),
      numberArrayLiteral(fixes.map((fix) => fix.speed)),
      numberArrayLiteral(fixes.map((fix) => fix.heading)),
      worstAccuracyM,
      ...extentValues(settings.city),
      settings.timeZone,
    ],
  );
  return rows;
}

/** The stored fixes per worker-day (dayKey), each day's by time, and the days in one order (worker, day). */
function byWorkerDay(inserted: InsertedFix[]): { days: WorkerDay[]; fresh: Map<string, StoredFix[]> } {
  const fresh = new Map<string, StoredFix[]>();
  const days: WorkerDay[] = [];
  for (const { worker, day, ...fix } of inserted) {
    const key = dayKey(worker, day);
    const list = fresh.get(key);
    if (list) list.push(fix);
    else {
      fresh.set(key, [fix]);
      days.push({ worker, day });
    }
  }
  for (const list of fresh.values()) list.sort((a, b) => a.ms - b.ms);
  days.sort((a, b) => (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  return { days, fresh };
}

/**
 * Stores a batch of fixes in one transaction and rebuilds the tracks of every worker-day it added fixes to
 * (only those). Everything is checked before anything is written: a refused batch stores nothing. `client`
 * lets a loader (the demo city) ingest inside its own transaction.
 */
export async function ingestFixes(
  db: { pool: Pool } | { client: PoolClient },
  clock: Clock,
  writer: WriteContext,
  input: PatrolFixInput[],
  settings: IngestSettings,
): Promise<IngestAnswer> {
  const now = clock();
  const fixes = normalise(input, now.getTime(), settings.retentionDays);
  assertPostsOwn(writer.actor, fixes);
  const run = async (client: PoolClient): Promise<IngestAnswer> => {
    await assertKnownWorkers(client, fixes);
    const unique = uniqueSorted(fixes);
    const inserted = await insertNewFixes(client, unique, settings);
    const { days, fresh } = byWorkerDay(inserted);
    const rebuilt = await rebuildDays(client, days, settings.timeZone, fresh);
    await announcePositions(client, rebuilt.newestAccepted, now, settings.positionIntervalSeconds);
    const flagged = Object.fromEntries(flagReasons.map((reason) => [reason, 0])) as Record<FlagReason, number>;
    let accepted = 0;
    for (const flags of rebuilt.freshFlags.values()) {
      for (const flag of flags) {
        if (flag) flagged[flag] += 1;
        else accepted += 1;
      }
    }
    return { received: input.length, accepted, duplicates: input.length - inserted.length, flagged, days: rebuilt.days };
  };
  return 'client' in db ? run(db.client) : withWriteTransaction(db.pool, writer, run);
}
