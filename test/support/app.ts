import type { RequestListener } from 'node:http';
import supertest from 'supertest';
import { type CitygridApp, createApp } from '../../server/app';
import { roles, type Role } from '../../server/auth/roles';
import type { Catalogue } from '../../server/catalogue/catalogue';
import { createToken } from '../../server/auth/tokens';
import { loadConfig } from '../../server/config';
import { HeavyWork } from '../../server/db/heavy-work';
import { openReads } from '../../server/db/read-pool';
import type { Pool } from '../../server/db/pool';
import { type Clock, systemClock } from '../../server/deps';
import { EventBus } from '../../server/events/bus';
import { withFastPath } from '../../server/http/fast-path';
import { createLogger } from '../../server/logger';
import { createTestDatabase, type TestDatabase } from './db';

export interface TestApp {
  app: CitygridApp;
  /** The app as main.ts serves it: the node:http fast path in front of Koa. */
  listener: RequestListener;
  /** The app's pool and queues for exports, imports, rebalancing and analytics. */
  heavy: HeavyWork;
  events: EventBus;
  /** Stops the app's event listener; call in afterAll before dropping the database. */
  close: () => Promise<void>;
  request: ReturnType<typeof supertest>;
  /** A bearer token per role (grid workers get the grids passed in gridWorkerGrids). */
  tokens: Record<Role, string>;
  auth: (role: Role) => { Authorization: string };
}

/** The real app on a test database (from createTestDatabase), with a token per role. */
export async function createTestApp(
  database: { url: string; pool: Pool },
  options: TestAppOptions = {},
): Promise<TestApp> {
  const { pool } = database;
  const config = loadConfig({ LOG_LEVEL: process.env.DEBUG_ANSWERS ? 'error' : 'silent', CHECK_ANSWERS: 'true', ...options.env });
  const log = createLogger(config.LOG_LEVEL);
  const events = new EventBus(database.url, log);
  await events.start();
  const reads = openReads(config, pool, events, log);
  const heavy = new HeavyWork(database.url, config, reads);
  const app = createApp({ config, pool, reads: reads.reads, heavy, log, clock: options.clock ?? systemClock, events, catalogue: options.catalogue });
  const close = async () => {
    app.close();
    await reads.close();
    await events.stop();
    await heavy.close();
  };
  const tokens = {} as Record<Role, string>;
  try {
    for (const role of roles) {
      const gridIds = role === 'grid_worker' ? options.gridWorkerGrids ?? [] : [];
      tokens[role] = (await createToken(pool, { role, label: `test ${role}`, gridIds })).token;
    }
  } catch (error) {
    await close();
    throw error;
  }
  const listener = withFastPath(app, log);
  return {
    app,
    listener,
    heavy,
    events,
    close,
    request: supertest(listener),
    tokens,
    auth: (role) => ({ Authorization: `Bearer ${tokens[role]}` }),
  };
}

export interface TestAppOptions {
  clock?: Clock;
  /** The layer catalogue to run with (default: the city's). */
  catalogue?: Catalogue;
  env?: NodeJS.ProcessEnv;
  gridWorkerGrids?: number[];
}

/** What useTestApp fills in before the suite's first test. */
export interface TestAppContext {
  readonly db: TestDatabase;
  readonly api: TestApp;
}

/**
 * Registers beforeAll/afterAll for a suite: a private database clone and the real app on it, closed and dropped
 * after the suite. `options` may be computed from the fresh database (e.g. to pick a grid worker's grid).
 */
export function useTestApp(
  options: TestAppOptions | ((db: TestDatabase) => Promise<TestAppOptions>) = {},
): TestAppContext {
  let db: TestDatabase | undefined;
  let api: TestApp | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    api = await createTestApp(db, typeof options === 'function' ? await options(db) : options);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });
  return {
    get db() {
      if (!db) throw new Error('useTestApp: the database exists only inside tests and hooks');
      return db;
    },
    get api() {
      if (!api) throw new Error('useTestApp: the app exists only inside tests and hooks');
      return api;
    },
  };
}
