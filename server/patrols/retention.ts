import { withWriteTransaction } from '../db/write-context';
import { tryTransactionLock } from '../db/advisory-lock';
import type { Pool } from '../db/pool';
import type { Clock } from '../deps';
import type { Logger } from '../logger';
import { deleteExpiredFixesSliceSql, deleteExpiredLiveSql, type RetentionSliceRow } from './sql';

// One retention round per cluster at a time: whoever holds this transaction-level advisory lock deletes.
const retentionLockKey = 4_242_170;
// Deleted in slices of this many workers, each its own short transaction, so a first run over years of fixes
// holds no long lock.
const workersPerSlice = 200;

/**
 * Deletes raw GPS fixes (personal data) older than `days` before clock(), and last positions as old. Tracks and
 * the coverage kept per day stay: they were built from the fixes and need them no more. Goes through the workers
 * in order, `perSlice` at a time; returns how many fixes went.
 */
export async function deleteExpiredFixes(pool: Pool, clock: Clock, days: number, perSlice = workersPerSlice): Promise<number> {
  const before = new Date(clock().getTime() - days * 86_400_000);
  let deleted = 0;
  let after = '';
  for (;;) {
    const slice = await withWriteTransaction(pool, { actor: null, route: 'scheduler patrol-retention' }, async (client) => {
      if (!(await tryTransactionLock(client, retentionLockKey))) return null;
      // Last positions are one row per worker: once per round, not once per slice.
      if (after === '') await client.query(deleteExpiredLiveSql, [before]);
      const { rows } = await client.query<RetentionSliceRow>(deleteExpiredFixesSliceSql, [before, after, perSlice]);
      return rows[0];
    });
    if (!slice) return deleted;
    deleted += slice.deleted;
    if (slice.last === null) return deleted;
    after = slice.last;
  }
}

/** Runs retention now and then every intervalMs in this process (the lock keeps processes apart). */
export function startPatrolRetentionScheduler(pool: Pool, clock: Clock, log: Logger, days: number, intervalMs = 3_600_000): () => void {
  const round = () =>
    deleteExpiredFixes(pool, clock, days)
      .then((deleted) => deleted > 0 && log.info({ deleted, days }, 'deleted patrol GPS fixes past PATROL_RETENTION_DAYS'))
      .catch((error: unknown) => log.warn({ err: error }, 'patrol retention round failed'));
  void round();
  const timer = setInterval(round, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
