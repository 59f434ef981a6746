import { Semaphore, type SemaphoreInterface, withTimeout } from 'async-mutex';
import type { Config } from '../config';
import { ServerBusyError } from '../errors';
import { createPool, type Pool, type Queryable } from './pool';
import type { Reads } from './read-pool';

/** Kinds of expensive work, each taking turns within its own limit (config: EXPORT_CONCURRENCY, ...). */
export type HeavyWorkKind = 'export' | 'import' | 'rebalance' | 'analytics';

/** Gives back a turn; calling it again does nothing. */
export type Release = () => void;

/**
 * Expensive work (whole-layer exports, imports, rebalancing, analytics) runs on a small pool of its own with a
 * statement_timeout, and each kind waits its turn in a queue of its own: however many such requests arrive, or
 * however slowly their clients read, the main pool stays free for everything else. A request that does not get
 * its turn within HEAVY_QUEUE_WAIT_S is answered 503 with Retry-After.
 */
export class HeavyWork {
  readonly pool: Pool;
  /** For work done by another program (ogr2ogr exports), under the same statement timeout. */
  readonly databaseUrl: string;
  readonly statementTimeoutMs: number;
  /** Where analytics read: the read replica when DATABASE_READ_URL is set (see db/read-pool.ts), else `pool`. */
  private readonly reads: Queryable;
  private readonly turns: Record<HeavyWorkKind, SemaphoreInterface>;

  constructor(databaseUrl: string, config: Config, reads?: Pick<Reads, 'heavyReads'>) {
    const queueWaitMs = config.HEAVY_QUEUE_WAIT_S * 1000;
    this.databaseUrl = databaseUrl;
    this.statementTimeoutMs = config.HEAVY_STATEMENT_TIMEOUT_S * 1000;
    const options = { statementTimeoutMs: this.statementTimeoutMs, waitMs: queueWaitMs };
    this.pool = createPool(databaseUrl, config.HEAVY_POOL_MAX, { ...options, applicationName: 'citygrid heavy work' });
    this.reads = reads ? reads.heavyReads(this.pool, { ...options, max: config.HEAVY_POOL_MAX }) : this.pool;
    const queue = (kind: HeavyWorkKind, concurrency: number) =>
      withTimeout(
        new Semaphore(concurrency),
        queueWaitMs,
        new ServerBusyError(`Too many ${kind} requests are running; try again shortly`, { kind, concurrency, waitedSeconds: config.HEAVY_QUEUE_WAIT_S }),
      );
    this.turns = {
      export: queue('export', config.EXPORT_CONCURRENCY),
      import: queue('import', config.IMPORT_CONCURRENCY),
      rebalance: queue('rebalance', config.REBALANCE_CONCURRENCY),
      analytics: queue('analytics', config.ANALYTICS_CONCURRENCY),
    };
  }

  /** Waits for a turn of this kind (ServerBusyError when it does not come in time); for work that outlives a call, e.g. a streamed export. */
  async turn(kind: HeavyWorkKind): Promise<Release> {
    const [, release] = await this.turns[kind].acquire();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  }

  /** Runs fn on the heavy-work pool in a turn of this kind. */
  async run<T>(kind: HeavyWorkKind, fn: (pool: Pool) => Promise<T>): Promise<T> {
    const release = await this.turn(kind);
    try {
      return await fn(this.pool);
    } finally {
      release();
    }
  }

  /** Runs read-only analytics (statistics, coverage) in an analytics turn, on the read replica when there is one. */
  async analyse<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    const release = await this.turn('analytics');
    try {
      return await fn(this.reads);
    } finally {
      release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
