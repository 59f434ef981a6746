import pg from 'pg';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { type Pool, createPool, ensureDatabaseExists } from '../server/db/pool';

/**
 * Runs a benchmark in a migrated scratch database on the server `npm start` uses (named after the benchmark and
 * the process), dropped afterwards whatever happens.
 */
export async function withScratchDatabase(name: string, run: (pool: Pool) => Promise<void>): Promise<void> {
  const serverUrl = await resolveDatabaseUrl(loadConfig({ ...process.env, LOG_LEVEL: 'silent' }), () => undefined);
  const url = new URL(serverUrl);
  const database = `citygrid_bench_${name}_${process.pid}`;
  url.pathname = `/${database}`;
  await ensureDatabaseExists(url.toString());
  const pool = createPool(url.toString(), 2);
  try {
    await migrate(pool);
    await run(pool);
  } finally {
    await pool.end();
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    await admin.end();
  }
}
