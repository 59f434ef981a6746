// npm run db:start | db:stop | db:status | db:migrate — the project's own PostgreSQL + PostGIS cluster.
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { embeddedClusterStatus, stopEmbeddedCluster } from '../server/db/embedded';
import { migrate } from '../server/db/migrate';
import { createPool } from '../server/db/pool';

async function main(command: string | undefined): Promise<void> {
  const config = loadConfig();
  const cluster = { home: config.CITYGRID_HOME, port: config.CITYGRID_PG_PORT, database: config.CITYGRID_DB_NAME };
  switch (command) {
    case 'start':
      console.log(`database ready: ${await resolveDatabaseUrl(config)}`);
      return;
    case 'stop':
      if (config.DATABASE_URL) return console.log('DATABASE_URL is set: no local cluster to stop');
      console.log(stopEmbeddedCluster(cluster) ? 'stopped' : 'not running');
      return;
    case 'status':
      console.log(config.DATABASE_URL ? `using DATABASE_URL (no local cluster)` : embeddedClusterStatus(cluster));
      return;
    case 'migrate': {
      const pool = createPool(await resolveDatabaseUrl(config), 1);
      try {
        const result = await migrate(pool);
        console.log(result.applied.length ? `applied: ${result.applied.join(', ')}` : `up to date (${result.skipped} migrations)`);
      } finally {
        await pool.end();
      }
      return;
    }
    default:
      throw new Error('usage: tsx scripts/db.ts start|stop|status|migrate');
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
