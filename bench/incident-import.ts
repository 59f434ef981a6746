// npm run bench:incident-import: imports the Boston 311 history of 2015 (121,145 rows in 158 files, from
// ../shared/data) through the same service as `npm run import:incidents -- --format boston311`, into a scratch
// database, then runs it again (nothing is added: every row is known by its case id).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, projectRoot } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool, ensureDatabaseExists } from '../server/db/pool';
import { boston311, csvFiles, importIncidents } from '../server/incidents/import';

const archive = path.resolve(projectRoot, '..', 'shared', 'data', 'boston-311-2015', 'boston311_2015_by_type.tar.gz');
const baselineRowsPerSecond = 5_000; // the goal for bulk incident imports (bench/RESULTS.md, incidents)

async function main(): Promise<void> {
  if (!fs.existsSync(archive)) throw new Error(`${archive} is missing: the benchmark needs the Boston 311 data`);
  const serverUrl = await resolveDatabaseUrl(loadConfig({ ...process.env, LOG_LEVEL: 'silent' }), () => undefined);
  const url = new URL(serverUrl);
  const database = `citygrid_bench_incident_import_${process.pid}`;
  url.pathname = `/${database}`;
  await ensureDatabaseExists(url.toString());
  const pool = createPool(url.toString(), 2);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-boston311-'));
  try {
    await migrate(pool);
    execFileSync('tar', ['xzf', archive, '-C', folder]);
    const files = csvFiles(folder);
    const runs = [];
    for (const run of ['first run (empty database)', 'second run (all already imported)']) {
      const cpuBefore = process.cpuUsage();
      const result = await importIncidents(pool, files, boston311);
      const cpu = process.cpuUsage(cpuBefore);
      const rate = Math.round(result.read / result.seconds);
      runs.push({
        run,
        read: result.read,
        inserted: result.inserted,
        rejected: result.rejected.length,
        'placeholder rows': result.placeholders.reduce((sum, point) => sum + point.rows, 0),
        seconds: result.seconds.toFixed(2),
        'rows/s': rate,
        'goal rows/s': baselineRowsPerSecond,
        ratio: (rate / baselineRowsPerSecond).toFixed(2),
        'Node CPU s': ((cpu.user + cpu.system) / 1e6).toFixed(2),
        'load average': os.loadavg()[0].toFixed(1),
      });
    }
    console.table(runs);
  } finally {
    await pool.end();
    fs.rmSync(folder, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
