import pg from 'pg';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { type Pool, createPool } from '../server/db/pool';

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** A new, empty database of this name on the server (dropped first if a previous run left it); its URL. */
export async function scratchDatabase(serverUrl: string, name: string): Promise<string> {
  await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  await adminQuery(serverUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Runs a benchmark in a migrated scratch database on the server `npm start` uses (named after the benchmark and
 * the process), dropped afterwards whatever happens. `run` gets a pool on it and its URL (for a server process).
 */
export async function withScratchDatabase(name: string, run: (pool: Pool, url: string) => Promise<void>): Promise<void> {
  const serverUrl = await resolveDatabaseUrl(loadConfig({ ...process.env, LOG_LEVEL: 'silent' }), () => undefined);
  const database = `citygrid_bench_${name}_${process.pid}`;
  const url = await scratchDatabase(serverUrl, database);
  const pool = createPool(url, 2);
  try {
    await migrate(pool);
    await run(pool, url);
  } finally {
    await pool.end();
    await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  }
}
