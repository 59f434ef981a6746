import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type Pool, requestPoolOptions } from '../../server/db/pool';
import { databaseUrl, requireEnv, testEnv } from './env';

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop: () => Promise<void>;
}

// Jest loads this module afresh for every test file of a worker process, so the counter starts again at 0 in
// each: the random part keeps a name unused when a file before failed to drop its database (a timed-out hook).
const worker = `${process.pid}_${randomBytes(3).toString('hex')}`;
let counter = 0;

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl(requireEnv(testEnv.serverUrl), 'postgres') });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** A private copy of the migrated template with the small demo city: create it in beforeAll, drop in afterAll. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `${requireEnv(testEnv.runPrefix)}${worker}_${++counter}`;
  const source = options.empty ? 'template0' : requireEnv(testEnv.template);
  await adminQuery(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(source)}`);
  const url = databaseUrl(requireEnv(testEnv.serverUrl), name);
  const pool = createPool(url, 4, requestPoolOptions);
  return {
    url,
    pool,
    drop: async () => {
      await pool.end();
      await adminQuery(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    },
  };
}
