// npm run bench:import: imports 200,000 building footprints from a CSV file through the same service as
// POST /api/layers/buildings/import, into a scratch database holding the small demo city's grids.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDemoCity, testCityOptions } from '../data/demo/load';
import type { Pool } from '../server/db/pool';
import { type ImportPhase, importFeatures } from '../server/layers/import';
import { cityCatalogue } from '../server/catalogue/city';
import { featureLayersOf } from '../server/layers/registry';
import { loadConfig } from '../server/config';
import { cityExtentOf } from '../server/geo/extent';
import { serverCpuSeconds } from './cpu';
import { withScratchDatabase } from './scratch-database';

const rows = Number(process.env.BENCH_ROWS ?? 200_000);
const baselineRowsPerSecond = 20_000; // the target for buildings on this machine

interface Extent {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

function writeCsv(file: string, extent: Extent): void {
  const size = 0.00005;
  const out = fs.openSync(file, 'w');
  let chunk = 'code,address,use,floors,households,wkt\n';
  for (let row = 1; row <= rows; row += 1) {
    const lon = extent.minLon + (((row * 7919) % 100_003) / 100_003) * (extent.maxLon - extent.minLon - size);
    const lat = extent.minLat + (((row * 104_729) % 99_991) / 99_991) * (extent.maxLat - extent.minLat - size);
    const ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
      .map(([x, y]) => `${x.toFixed(7)} ${y.toFixed(7)}`)
      .join(', ');
    chunk += `B-${row},"No. ${row} Bench Road",residential,${1 + (row % 30)},${row % 50},"POLYGON((${ring}))"\n`;
    if (chunk.length > 1 << 20) {
      fs.writeSync(out, chunk);
      chunk = '';
    }
  }
  fs.writeSync(out, chunk);
  fs.closeSync(out);
}

async function main(): Promise<void> {
  const file = path.join(os.tmpdir(), `citygrid_bench_import_${process.pid}.csv`);
  try {
    await withScratchDatabase('import', (pool) => importBuildings(pool, file));
  } finally {
    fs.rmSync(file, { force: true });
  }
}

async function importBuildings(pool: Pool, file: string): Promise<void> {
  await loadDemoCity(pool, { ...testCityOptions, progress: false });
  const { rows: extents } = await pool.query<Extent>(
    `SELECT ST_XMin(e) AS "minLon", ST_YMin(e) AS "minLat", ST_XMax(e) AS "maxLon", ST_YMax(e) AS "maxLat"
       FROM (SELECT ST_Extent(geom)::box2d AS e FROM grids WHERE level = 4) AS extent`,
  );
  writeCsv(file, extents[0]);
  const buildings = featureLayersOf(cityCatalogue).find((layer) => layer.name === 'buildings');
  if (!buildings) throw new Error('no buildings layer');
  const phases: Array<{ phase: ImportPhase; seconds: string }> = [];
  const onPhase = (phase: ImportPhase, seconds: number) => phases.push({ phase, seconds: seconds.toFixed(2) });
  const serverCpuBefore = await serverCpuSeconds(pool);
  const nodeCpuBefore = process.cpuUsage();
  const started = performance.now();
  const report = await importFeatures(pool, buildings, fs.createReadStream(file), { format: 'csv', dryRun: false, onPhase, city: cityExtentOf(loadConfig({ ...process.env, LOG_LEVEL: 'silent' })) }, { actor: null, route: 'bench import' });
  const seconds = (performance.now() - started) / 1000;
  const nodeCpu = process.cpuUsage(nodeCpuBefore);
  const serverCpuAfter = await serverCpuSeconds(pool);
  const serverCpu = serverCpuBefore === null || serverCpuAfter === null ? null : serverCpuAfter - serverCpuBefore;
  const rate = Math.round(report.inserted / seconds);
  console.table([
    {
      case: `import ${rows.toLocaleString('en')} buildings (CSV, WKT)`,
      file: `${(fs.statSync(file).size / 1e6).toFixed(1)} MB`,
      seconds: seconds.toFixed(2),
      'rows/s': rate,
      'baseline rows/s': baselineRowsPerSecond,
      ratio: (rate / baselineRowsPerSecond).toFixed(2),
      'Node CPU s': ((nodeCpu.user + nodeCpu.system) / 1e6).toFixed(2),
      'database CPU s': serverCpu === null ? 'n/a' : serverCpu.toFixed(2),
      'load average': os.loadavg()[0].toFixed(1),
    },
  ]);
  console.table(phases);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
