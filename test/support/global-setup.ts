import pg from 'pg';
import { loadConfig } from '../../server/config';
import { resolveDatabaseUrl } from '../../server/db/connect';
import { migrate } from '../../server/db/migrate';
import { createPool } from '../../server/db/pool';
import { loadDemoCity, testCityOptions } from '../../data/demo/load';
import { databaseUrl, testEnv } from './env';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Drops databases left by earlier runs that died before their teardown (their process is gone). */
async function dropOrphans(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'citygrid\\_test\\_%'");
  for (const { datname } of rows) {
    const pid = Number(/^citygrid_test_(\d+)_/.exec(datname)?.[1]);
    if (pid && !isAlive(pid)) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
  }
}

/**
 * Once per jest run: reach the database server (the embedded cluster unless DATABASE_URL is set), build a
 * template database with every migration and a small demo city, and tell the workers its name. Each test
 * file then clones it, so no test depends on what another left behind.
 */
export default async function globalSetup(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const serverUrl = await resolveDatabaseUrl(config, (line) => console.log(`[test setup] ${line}`));
  const prefix = `citygrid_test_${process.pid}_`;
  const template = `${prefix}template`;
  const admin = new pg.Client({ connectionString: databaseUrl(serverUrl, 'postgres') });
  await admin.connect();
  try {
    await dropOrphans(admin);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(template)}`);
  } finally {
    await admin.end();
  }
  const pool = createPool(databaseUrl(serverUrl, template), 2);
  try {
    await migrate(pool);
    await loadDemoCity(pool, { ...testCityOptions, progress: false });
  } finally {
    await pool.end();
  }
  process.env[testEnv.serverUrl] = serverUrl;
  process.env[testEnv.template] = template;
  process.env[testEnv.runPrefix] = prefix;
}
