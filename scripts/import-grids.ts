// npm run import:grids -- <geojson> --level N [--parent-level M] [--code-field F] [--name-field F] [--repair]
import fs from 'node:fs';
import '../server/http/openapi';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool } from '../server/db/pool';
import { isWgs84CrsName } from '../server/geo/schemas';
import { importGrids } from '../server/grids/import';
import { cityExtentOf } from '../server/geo/extent';

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args[0];
  const level = Number(option(args, '--level'));
  if (!file || !Number.isInteger(level) || level < 1 || level > 4) {
    throw new Error('usage: npm run import:grids -- <geojson> --level N [--parent-level M] [--code-field F] [--name-field F] [--repair]');
  }
  const collection = JSON.parse(fs.readFileSync(file, 'utf8')) as { features: unknown[]; crs?: { properties?: { name?: string } } };
  const crs = collection.crs?.properties?.name;
  if (crs && !isWgs84CrsName(crs)) throw new Error(`${file} is in ${crs}; only WGS84 GeoJSON is imported`);
  const config = loadConfig();
  const pool = createPool(await resolveDatabaseUrl(config), 2);
  try {
    await migrate(pool);
    const parentLevel = option(args, '--parent-level');
    console.log(`importing ${collection.features.length} polygons from ${file} as level ${level}…`);
    const report = await importGrids(pool, collection, {
      level,
      parentLevel: parentLevel === undefined ? undefined : Number(parentLevel),
      codeField: option(args, '--code-field'),
      nameField: option(args, '--name-field'),
      repair: args.includes('--repair'),
      city: cityExtentOf(config),
    });
    console.log(`imported ${report.imported} grids (${report.repairedInvalid} invalid polygons repaired)`);
    console.table({ 'as imported': report.before, ...(report.after ? { 'after --repair': report.after } : {}) });
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
