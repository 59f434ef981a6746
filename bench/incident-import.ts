// npm run bench:incident-import: imports the Boston 311 history of 2015 (121,145 rows in 158 files, from
// ../shared/data) through the same service as `npm run import:incidents -- --format boston311`, into a scratch
// database, then runs it again (nothing is added: every row is known by its case id).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../server/config';
import { boston311, csvFiles, importIncidents } from '../server/incidents/import';
import { withScratchDatabase } from './scratch-database';

const archive = path.resolve(projectRoot, '..', 'shared', 'data', 'boston-311-2015', 'boston311_2015_by_type.tar.gz');
const baselineRowsPerSecond = 5_000; // the goal for bulk incident imports (bench/RESULTS.md, incidents)

async function main(): Promise<void> {
  if (!fs.existsSync(archive)) throw new Error(`${archive} is missing: the benchmark needs the Boston 311 data`);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-boston311-'));
  try {
    execFileSync('tar', ['xzf', archive, '-C', folder]);
    const files = csvFiles(folder);
    await withScratchDatabase('incident_import', async (pool) => {
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
    });
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
