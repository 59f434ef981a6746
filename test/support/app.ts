import type Koa from 'koa';
import supertest from 'supertest';
import { createApp } from '../../server/app';
import { roles, type Role } from '../../server/auth/roles';
import { createToken } from '../../server/auth/tokens';
import { loadConfig } from '../../server/config';
import type { Pool } from '../../server/db/pool';
import { type Clock, systemClock } from '../../server/deps';
import { EventBus } from '../../server/events/bus';
import { createLogger } from '../../server/logger';

export interface TestApp {
  app: Koa;
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
  options: { clock?: Clock; env?: NodeJS.ProcessEnv; gridWorkerGrids?: number[] } = {},
): Promise<TestApp> {
  const { pool } = database;
  const config = loadConfig({ LOG_LEVEL: 'silent', ...options.env });
  const log = createLogger(config.LOG_LEVEL);
  const events = new EventBus(database.url, log);
  await events.start();
  const app = createApp({ config, pool, log, clock: options.clock ?? systemClock, events });
  const tokens = {} as Record<Role, string>;
  try {
    for (const role of roles) {
      const gridIds = role === 'grid_worker' ? options.gridWorkerGrids ?? [] : [];
      tokens[role] = (await createToken(pool, { role, label: `test ${role}`, gridIds })).token;
    }
  } catch (error) {
    await events.stop();
    throw error;
  }
  return {
    app,
    events,
    close: () => events.stop(),
    request: supertest(app.callback()),
    tokens,
    auth: (role) => ({ Authorization: `Bearer ${tokens[role]}` }),
  };
}
