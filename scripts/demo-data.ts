// npm run data:demo [-- --if-empty] [--seed S]: (re)loads the deterministic demo city into the database.
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool } from '../server/db/pool';
import { countDemoRows, loadDemoCity } from '../data/demo/load';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const config = loadConfig();
  const pool = createPool(await resolveDatabaseUrl(config), 2);
  try {
    await migrate(pool);
    if (args.includes('--if-empty') && (await countDemoRows(pool)).grids > 0) {
      console.log('demo data already loaded (use npm run data:demo to reload it)');
      return;
    }
    const seedIndex = args.indexOf('--seed');
    const seed = seedIndex >= 0 ? args[seedIndex + 1] : config.DEMO_SEED;
    const started = Date.now();
    const counts = await loadDemoCity(pool, { seed, progress: process.stdout.isTTY ?? false });
    console.log(`demo city loaded in ${((Date.now() - started) / 1000).toFixed(1)} s:`);
    console.table(counts);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
