import type { Config } from '../config';
import type { EventBus } from '../events/bus';
import type { Logger } from '../logger';
import { createPool, isDatabaseUnavailable, requestPoolOptions, isPoolWaitTimeout, type Pool, type PoolOptions, type Queryable } from './pool';

// A query the replica cancelled because replaying the primary's changes needed what it read
// (SQLSTATE 40001, "conflict with recovery"): the same query on the primary answers.
const recoveryConflict = '40001';

/** How often a lagging replica is asked whether it has replayed a change yet. */
const catchUpPollMs = 25;

type Target = 'replica' | 'primary';
type AnyQuery = (...args: unknown[]) => Promise<unknown>;

/**
 * Where reads that a streaming replica may serve (DATABASE_READ_URL) go, shared by every read pool of a process.
 * Reads go to the primary
 * - from the moment a change event arrives (any process's write, see events/bus.ts) until the replica has replayed
 *   the primary's WAL up to that change, so a tile or statistic asked for after a write never shows (nor caches)
 *   the state before it: read-your-writes;
 * - for READ_REPLICA_RETRY_S after the replica could not be reached (stopped, restarting, refusing connections);
 *   the read that failed is answered by the primary, not with an error.
 * A query the replica cancels for a recovery conflict runs again on the primary.
 */
export class ReplicaRouting {
  private unavailableUntil = 0;
  /** Change events heard whose WAL position the replica may not have replayed yet (0: caught up). */
  private pendingChanges = 0;
  private catchingUp: Promise<void> | undefined;
  private closed = false;
  /** Ends the current wait of the catch-up loop (on close). */
  private wake: (() => void) | undefined;

  constructor(
    private readonly replica: Queryable,
    private readonly primary: Queryable,
    private readonly retryAfterMs: number,
    private readonly log: Logger,
  ) {}

  get target(): Target {
    return this.pendingChanges > 0 || Date.now() < this.unavailableUntil ? 'primary' : 'replica';
  }

  /** Follows the change events of every process; returns the unsubscribe function. */
  listen(events: Pick<EventBus, 'onChange' | 'onResync'>): () => void {
    const stopChanges = events.onChange(() => this.changeHeard());
    // Events may have been missed while the listener reconnected: wait for the replica to reach the primary now.
    const stopResync = events.onResync(() => this.changeHeard());
    return () => {
      stopChanges();
      stopResync();
    };
  }

  /** True when the error is the replica's, not the query's: the caller then runs the query on the primary. */
  replicaFailed(error: unknown): boolean {
    if ((error as { code?: unknown })?.code === recoveryConflict) return true;
    if (!isDatabaseUnavailable(error) && !isPoolWaitTimeout(error)) return false;
    if (Date.now() >= this.unavailableUntil) this.log.warn({ err: error, retryInMs: this.retryAfterMs }, 'read replica unavailable; reading from the primary');
    this.unavailableUntil = Date.now() + this.retryAfterMs;
    return true;
  }

  /** Stops following the replica's replay; resolves when the loop doing so has ended. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.catchingUp;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private changeHeard(): void {
    this.pendingChanges++;
    this.catchingUp ??= this.catchUp().finally(() => (this.catchingUp = undefined));
  }

  private async catchUp(): Promise<void> {
    while (!this.closed) {
      const heard = this.pendingChanges;
      try {
        const { rows } = await this.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
        await this.replayedUpTo(rows[0].lsn);
      } catch (error) {
        // The replica (or the primary) is away: reads stay on the primary until the replica answers again.
        if (!this.replicaFailed(error)) this.log.warn({ err: error }, 'could not follow the read replica; reading from the primary');
        await this.pause(this.retryAfterMs);
        continue;
      }
      if (this.pendingChanges === heard) {
        this.pendingChanges = 0;
        return;
      }
    }
  }

  private async replayedUpTo(lsn: string): Promise<void> {
    while (!this.closed) {
      // A server that is not in recovery (DATABASE_READ_URL naming a primary) has nothing to replay.
      const { rows } = await this.replica.query<{ replayed: boolean }>(
        'SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, NOT pg_is_in_recovery()) AS replayed',
        [lsn],
      );
      if (rows[0].replayed) return;
      await this.pause(catchUpPollMs);
    }
  }
}

/** A Queryable that runs each read on the replica or the primary, as the shared routing says. */
export function readPool(replica: Pool, primary: Queryable, routing: ReplicaRouting): Queryable {
  const onPrimary = (args: unknown[]) => (primary.query as AnyQuery).apply(primary, args);
  const query = async (...args: unknown[]) => {
    if (routing.target === 'primary') return onPrimary(args);
    try {
      return await (replica.query as AnyQuery).apply(replica, args);
    } catch (error) {
      if (!routing.replicaFailed(error)) throw error;
      return onPrimary(args);
    }
  };
  return { query: query as Queryable['query'] };
}

/** The read side of a process: where tiles, hotspots and statistics read, and what to close at the end. */
export interface Reads {
  /** Tiles, hotspots, wall and stats reads: the replica's pool (PG_POOL_MAX) or, without one, the primary's. */
  reads: Queryable;
  /** For analytics in heavy-work turns: its own replica pool (HEAVY_POOL_MAX, statement timeout) or the primary's. */
  heavyReads: (heavyPrimary: Queryable, options: PoolOptions & { max: number }) => Queryable;
  routing?: ReplicaRouting;
  close: () => Promise<void>;
}

/** Opens the read pools on DATABASE_READ_URL when it is set; without it every read uses the primary's pools. */
export function openReads(config: Config, primary: Pool, events: Pick<EventBus, 'onChange' | 'onResync'>, log: Logger): Reads {
  const url = config.DATABASE_READ_URL;
  if (!url) return { reads: primary, heavyReads: (heavyPrimary) => heavyPrimary, close: async () => undefined };
  const replicaPools: Pool[] = [createPool(url, config.PG_POOL_MAX, { ...requestPoolOptions, applicationName: 'citygrid reads', waitMs: replicaWaitMs })];
  const routing = new ReplicaRouting(replicaPools[0], primary, config.READ_REPLICA_RETRY_S * 1000, log);
  const stopListening = routing.listen(events);
  return {
    reads: readPool(replicaPools[0], primary, routing),
    heavyReads: (heavyPrimary, { max, ...options }) => {
      const pool = createPool(url, max, { ...options, applicationName: 'citygrid heavy reads', waitMs: Math.min(options.waitMs ?? replicaWaitMs, replicaWaitMs) });
      replicaPools.push(pool);
      return readPool(pool, heavyPrimary, routing);
    },
    routing,
    close: async () => {
      stopListening();
      await routing.close();
      await Promise.all(replicaPools.map((pool) => pool.end()));
    },
  };
}

// A replica that does not give a connection this soon is treated as away: the read goes to the primary.
const replicaWaitMs = 2000;
