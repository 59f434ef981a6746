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
    const options = {
      level,
      parentLevel: parentLevel === undefined ? undefined : Number(parentLevel),
      codeField: option(args, '--code-field'),
      nameField: option(args, '--name-field'),
      repair: args.includes('--repair'),
      city: cityExtentOf(config),
    };
    const report = await importGrids(pool, collection, options);
    console.log(`imported ${report.imported} grids (${report.repairedInvalid} invalid polygons ${options.repair ? 'repaired' : 'found'})`);
    console.table({ 'as imported': report.before, ...(report.after ? { 'after --repair': report.after } : {}) });
    if (report.siblingOverlaps.length > 0) {
      console.log(`${report.siblingOverlaps.length} pairs of sibling grids overlap in the file${options.repair ? ' (cut out of the later grid by --repair)' : ''}:`);
      console.table(report.siblingOverlaps.map((overlap) => ({ grids: overlap.codes.join(' / '), 'overlap m²': Math.round(overlap.areaM2) })));
    }
    const noticeable = report.areaChanges.filter((change) => Math.abs(change.changePercent) > 1);
    console.log(`${report.areaChanges.length} grids differ in area from the file (${noticeable.length} by more than 1 %), largest change first:`);
    console.table(report.areaChanges.slice(0, 40).map((change) => ({
      code: change.code,
      name: change.name,
      'file m²': Math.round(change.sourceAreaM2),
      'stored m²': Math.round(change.areaM2),
      'change %': Number(change.changePercent.toFixed(2)),
    })));
    if (report.areaChanges.length > 40) console.log(`… and ${report.areaChanges.length - 40} more with smaller changes`);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
