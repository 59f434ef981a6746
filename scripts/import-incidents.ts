// npm run import:incidents -- [--format boston311] <file-or-directory>...
// or a generic CSV: --time COL --lon COL --lat COL --category COL [--id --department --status --closed --target
//   --source --description COL] [--time-format iso|us] [--time-zone Asia/Shanghai] [--closed-values Closed,已结案]
import { parseArgs } from 'node:util';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool } from '../server/db/pool';
import { boston311, type CsvMapping, csvFiles, importIncidents } from '../server/incidents/import';

const columnOptions = ['time', 'lon', 'lat', 'category', 'id', 'department', 'status', 'closed', 'target', 'source', 'description'] as const;

function mappingFrom(values: Record<string, string | undefined>): CsvMapping {
  if (values.format === 'boston311') return boston311;
  if (values.format && values.format !== 'csv') throw new Error(`unknown --format ${values.format} (boston311 or csv)`);
  const missing = (['time', 'lon', 'lat', 'category'] as const).filter((name) => !values[name]);
  if (missing.length) throw new Error(`a generic CSV needs --${missing.join(', --')}`);
  const columns = Object.fromEntries(columnOptions.filter((name) => values[name]).map((name) => [name, values[name]]));
  return {
    ...(columns as Pick<CsvMapping, 'time' | 'lon' | 'lat' | 'category'>),
    timeFormat: values['time-format'] === 'us' ? 'us' : 'iso',
    timeZone: values['time-zone'] ?? 'Asia/Shanghai',
    closedValues: (values['closed-values'] ?? 'closed,Closed').split(','),
  };
}

async function main(): Promise<void> {
  const options = Object.fromEntries([...columnOptions, 'format', 'time-format', 'time-zone', 'closed-values'].map((name) => [name, { type: 'string' as const }]));
  const { values, positionals } = parseArgs({ options, allowPositionals: true });
  if (!positionals.length) throw new Error('usage: npm run import:incidents -- [--format boston311] <file-or-directory>...');
  const mapping = mappingFrom(values as Record<string, string | undefined>);
  const files = positionals.flatMap(csvFiles);
  const pool = createPool(await resolveDatabaseUrl(loadConfig()), 2);
  try {
    await migrate(pool);
    const result = await importIncidents(pool, files, mapping, (rows) => process.stderr.write(`\r${rows} rows read`));
    process.stderr.write('\n');
    console.log(`${result.inserted} incidents imported from ${result.files} file(s) (${result.read} read, ${result.skipped} skipped) in ${result.seconds.toFixed(1)} s = ${Math.round(result.read / result.seconds)} rows/s`);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
