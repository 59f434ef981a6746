// npm run import -- <layer> <file.csv|file.geojson> [--dry-run]
// Imports a CSV (wkt, or lon/lat columns) or a GeoJSON FeatureCollection into buildings, people, hazards or key_places: all rows or none.
import fs from 'node:fs';
import { Transform } from 'node:stream';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool } from '../server/db/pool';
import { RuleViolationError } from '../server/errors';
import { cityExtentOf } from '../server/geo/extent';
import { importFeatures } from '../server/layers/import';
import { cityCatalogue } from '../server/catalogue/city';
import { featureLayersOf } from '../server/layers/registry';

const usage = 'usage: npm run import -- <buildings|people|hazards|key_places> <file.csv|file.geojson> [--dry-run]';

/** The file as a stream, with a progress bar over the bytes read (rows are counted only while parsing). */
function readWithProgress(file: string) {
  const total = fs.statSync(file).size;
  const bar = new SingleBar({ format: 'reading [{bar}] {percentage}% | {value}/{total} MB | {eta_formatted} left', hideCursor: true }, Presets.shades_classic);
  const megabytes = (bytes: number) => Math.round(bytes / 1e5) / 10;
  bar.start(megabytes(total), 0);
  let read = 0;
  // A pass-through that counts, so the bytes wait for the importer instead of flowing before it listens.
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      read += chunk.length;
      bar.update(megabytes(read));
      done(null, chunk);
    },
    flush(done) {
      bar.stop();
      done();
    },
  });
  return fs.createReadStream(file).pipe(counter);
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { 'dry-run': { type: 'boolean', default: false } } });
  const [layerName, file] = positionals;
  const layer = featureLayersOf(cityCatalogue).find((candidate) => candidate.name === layerName);
  if (!layer || !file) throw new Error(usage);
  const format = file.toLowerCase().endsWith('.csv') ? 'csv' : 'geojson';
  const config = loadConfig();
  const pool = createPool(await resolveDatabaseUrl(config, (line) => console.error(line)), 2);
  try {
    await migrate(pool);
    const started = performance.now();
    const report = await importFeatures(pool, layer, readWithProgress(file), { format, dryRun: values['dry-run'] ?? false, city: cityExtentOf(config) }, { actor: null, route: 'cli import' });
    const seconds = (performance.now() - started) / 1000;
    console.log(`${report.dryRun ? 'checked' : 'imported'} ${report.rows} rows into ${layer.name} in ${seconds.toFixed(1)} s (${Math.round(report.rows / seconds)} rows/s); stored ${report.inserted}`);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  if (error instanceof RuleViolationError) {
    console.error(`\n${error.message}`);
    for (const rowError of (error.details.errors as Array<{ row: number; field: string; reason: string }>).slice(0, 50)) {
      console.error(`  row ${rowError.row}: ${rowError.field}: ${rowError.reason}`);
    }
  } else {
    console.error((error as Error).message);
  }
  process.exit(1);
});
