import type { Catalogue } from './catalogue/catalogue';
import type { Config } from './config';
import type { HeavyWork } from './db/heavy-work';
import type { Pool, Queryable } from './db/pool';
import type { EventBus } from './events/bus';
import type { Logger } from './logger';
import type { TilePeers } from './tiles/peers';

/** Current time, injected so deadlines, escalation and risk windows can be tested without sleeping. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();

/** What every domain module is built from. Passed in, never global, so tests can run several apps at once. */
export interface AppDeps {
  config: Config;
  pool: Pool;
  /**
   * Reads a streaming replica may serve (tiles, hotspots, wall, statistics): the replica when DATABASE_READ_URL is
   * set, else `pool`. Writes, and reads that must see a write (the answer to a write, lists, records), use `pool`.
   */
  reads: Queryable;
  /** Exports, imports, rebalancing and analytics: their own small pool and queues (see db/heavy-work.ts). */
  heavy: HeavyWork;
  log: Logger;
  clock: Clock;
  /** Change events from every server process (LISTEN/NOTIFY). */
  events: EventBus;
  /** The spatial layers: tiles, the feature API and grid membership are derived from it. */
  catalogue: Catalogue;
  /** The other server processes of this host, which the tiles made here are handed to (node:cluster workers). */
  tilePeers?: TilePeers;
}

/** What createApp is given: the catalogue defaults to the city's (catalogue/city.ts). */
export type AppInput = Omit<AppDeps, 'catalogue'> & Partial<Pick<AppDeps, 'catalogue'>>;
