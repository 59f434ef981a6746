// npm start: the whole of citygrid on this machine — database, schema, demo data, web bundle, API.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool, type Pool } from '../server/db/pool';
import { ensureSystemPackages } from '../server/db/system-packages';
import { demoShowcaseDay } from '../data/demo/activity';
import { countDemoRows, demoCityOptions, loadDemoCity } from '../data/demo/load';
import { ensureDemoTokens } from './demo-tokens';
import { ensureWebBuilt } from './web-build';
import { createLogger } from '../server/logger';
import { stopOnSignals, superviseServer, workersWanted } from '../server/supervisor';

async function main(): Promise<void> {
  const config = loadConfig();
  // GeoPackage and FlatGeobuf exports are written by GDAL's ogr2ogr.
  ensureSystemPackages(['gdal']);
  const databaseUrl = await resolveDatabaseUrl(config);
  const pool = createPool(databaseUrl, 2);
  try {
    const migrations = await migrate(pool);
    console.log(migrations.applied.length ? `migrations applied: ${migrations.applied.join(', ')}` : 'schema up to date');
    let counts = await countDemoRows(pool);
    if (counts.grids === 0) {
      console.log('empty database: loading the demo city (about 20 s)...');
      counts = await loadDemoCity(pool, { seed: config.DEMO_SEED, progress: process.stdout.isTTY ?? false });
    }
    console.log('rows:', Object.entries(counts).map(([table, n]) => `${table}=${n}`).join(' '));
    ensureWebBuilt(config.WEB_DIST);
    // The server runs as a supervised child process: whatever ends it, it is started again.
    const workers = workersWanted(process.argv.slice(2), config.WORKERS);
    const server = superviseServer({ ...process.env, DATABASE_URL: databaseUrl }, createLogger(config.LOG_LEVEL), workers);
    stopOnSignals(server);
    const url = await server.ready;
    const tokens = await ensureDemoTokens(pool, path.join(config.CITYGRID_HOME, 'demo-tokens.json'));
    console.log(`\ncitygrid is up (${workers} server process${workers > 1 ? 'es' : ''}): ${url}/  (health: ${url}/health, API: ${url}/api)`);
    console.log('demo tokens (Authorization: Bearer <token>; the web UI takes ?token=):');
    for (const [role, token] of Object.entries(tokens)) console.log(`  ${role.padEnd(12)} ${token}   ${url}/?token=${token}`);
    // The demo city's activity lies in its demo year: the wall shows today (quiet) unless told to replay a day.
    console.log(`wall display (大屏), replaying a demo day: ${url}/wall?token=${tokens.commander}&day=${demoShowcaseDay(demoCityOptions.year)}`);
    await trainRiskModelIfMissing(pool, databaseUrl);
  } finally {
    await pool.end();
  }
}

/**
 * The accident-risk scheduler needs a trained model. Training takes minutes of CPU, so it runs in its own process
 * (npm run risk:train, which also writes the first predictions) while the server already answers.
 */
async function trainRiskModelIfMissing(pool: Pool, databaseUrl: string): Promise<void> {
  const { rows } = await pool.query<{ missing: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM risk_models) AND EXISTS (SELECT 1 FROM accidents) AS missing');
  if (!rows[0].missing) return;
  console.log('\nno accident-risk model yet: training one in the background (npm run risk:train, a few minutes)...');
  spawn('npm', ['run', '-s', 'risk:train'], { env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'inherit', 'inherit'] });
}

main().catch((error: unknown) => {
  console.error((error as Error).message ?? error);
  process.exit(1);
});
