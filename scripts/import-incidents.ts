// npm run import:incidents -- --help
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isTimeZone, loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { migrate } from '../server/db/migrate';
import { createPool } from '../server/db/pool';
import {
  type CsvMapping,
  boston311,
  csvFiles,
  defaultPlaceholderShare,
  importIncidents,
  placeholderMinRows,
  readCategoryMap,
  writeRejects,
} from '../server/incidents/import';

const usage = `usage: npm run import:incidents -- [options] <file.csv or directory>...

Imports a history of incidents from CSV files (a directory: every .csv in it) in one transaction. Re-running
the same files adds nothing.

  --format boston311|csv   boston311: City of Boston 311 export (columns, US times, America/New_York built in);
                           csv (default): a generic file described by the options below
  -h, --help               this text

Columns of a generic CSV (header names; a name the file does not have stops the import before reading it):
  --time COL               when it was reported (required)
  --lon COL, --lat COL     WGS84 longitude and latitude (required)
  --category COL           category (required)
  --id COL                 the source's case id; without it a row is known by its content (a hash), so a
                           second run of the same file adds nothing
  --department COL, --status COL, --closed COL, --target COL, --source COL, --description COL

Reading values:
  --time-zone ZONE         IANA zone of times without an offset, e.g. America/New_York (required for csv)
  --time-format iso|us     iso (default): YYYY-MM-DD hh:mm[:ss[.fff]], T or space, optional Z or ±hh:mm;
                           us: M/D/YYYY h:mm[:ss] AM/PM, or the same with a 24-hour time and no AM/PM
  --closed-values A,B      --status values meaning closed (default: closed,Closed); without --status a row
                           with a --closed time is closed
  --category-map FILE      CSV with columns source,category: source categories → catalogue categories
                           (every target must be in the catalogue, GET /api/incidents/categories)
  --placeholder-share S    a point (5 decimals, ≈ 1 m) holding more than this share of the rows, and at least
                           ${placeholderMinRows} rows, is a placeholder location (default ${defaultPlaceholderShare}): its rows are stored flagged,
                           without grid and H3 cells, and left off maps
  --rejects FILE           where rejected rows are listed (default: beside the first input, <name>.rejects.csv)

Rows with an empty or unreadable coordinate, time or category are rejected: each is listed with its row
number (header = row 1), column and reason in the rejects CSV, the first ten on screen.

Examples:
  npm run import:incidents -- --format boston311 ../shared/data/boston311-2015/
  npm run import:incidents -- requests.csv --time "Created Date" --lon Longitude --lat Latitude \\
      --category "Complaint Type" --id "Unique Key" --status Status --closed-values Closed \\
      --closed "Closed Date" --time-format us --time-zone America/New_York --category-map nyc-categories.csv`;

const columnOptions = ['time', 'lon', 'lat', 'category', 'id', 'department', 'status', 'closed', 'target', 'source', 'description'] as const;
const valueOptions = ['format', 'time-format', 'time-zone', 'closed-values', 'category-map', 'placeholder-share', 'rejects'] as const;

type Values = Partial<Record<(typeof columnOptions)[number] | (typeof valueOptions)[number], string>>;

class UsageError extends Error {}

function mappingFrom(values: Values): CsvMapping {
  if (values.format === 'boston311') return boston311;
  if (values.format && values.format !== 'csv') throw new UsageError(`unknown --format ${values.format} (boston311 or csv)`);
  const missing = (['time', 'lon', 'lat', 'category', 'time-zone'] as const).filter((name) => !values[name]);
  if (missing.length) throw new UsageError(`a generic CSV needs --${missing.join(', --')}`);
  if (!isTimeZone(values['time-zone'] as string)) throw new UsageError(`--time-zone ${values['time-zone']} is not an IANA time zone (e.g. America/New_York)`);
  if (values['time-format'] && !['iso', 'us'].includes(values['time-format'])) throw new UsageError(`unknown --time-format ${values['time-format']} (iso or us)`);
  const columns = Object.fromEntries(columnOptions.filter((name) => values[name]).map((name) => [name, values[name]]));
  return {
    ...(columns as Pick<CsvMapping, 'time' | 'lon' | 'lat' | 'category'>),
    timeFormat: values['time-format'] === 'us' ? 'us' : 'iso',
    timeZone: values['time-zone'] as string,
    closedValues: (values['closed-values'] ?? 'closed,Closed').split(','),
  };
}

function placeholderShareFrom(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const share = Number(text);
  if (!(share > 0 && share <= 1)) throw new UsageError(`--placeholder-share ${text} must be a share between 0 and 1`);
  return share;
}

function rejectsFileFor(input: string): string {
  const resolved = path.resolve(input);
  return `${resolved.replace(/\.csv$/i, '').replace(/[\\/]+$/, '')}.rejects.csv`;
}

async function main(): Promise<void> {
  const options = {
    ...Object.fromEntries([...columnOptions, ...valueOptions].map((name) => [name, { type: 'string' as const }])),
    help: { type: 'boolean' as const, short: 'h' },
  };
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ options, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (see --help)`);
  }
  const { positionals } = parsed;
  const values = parsed.values as Values & { help?: boolean };
  if (values.help) {
    console.log(usage);
    return;
  }
  if (!positionals.length) throw new UsageError('no file or directory given (see --help)');
  const mapping = mappingFrom(values);
  const placeholderShare = placeholderShareFrom(values['placeholder-share']);
  const files = positionals.flatMap(csvFiles);
  const pool = createPool(await resolveDatabaseUrl(loadConfig()), 2);
  try {
    await migrate(pool);
    const categoryMap = values['category-map'] ? await readCategoryMap(pool, values['category-map']) : undefined;
    console.log(`times without an offset are read as ${mapping.timeZone} local time (${mapping.timeFormat} format)`);
    const result = await importIncidents(pool, files, mapping, { categoryMap, placeholderShare, onProgress: (rows) => process.stderr.write(`\r${rows} rows read`) });
    process.stderr.write('\n');
    console.log(
      `${result.inserted} incidents imported from ${result.files} file(s): ${result.read} read, ${result.alreadyImported} already imported, ${result.rejected.length} rejected, in ${result.seconds.toFixed(1)} s = ${Math.round(result.read / result.seconds)} rows/s`,
    );
    for (const point of result.placeholders) {
      console.log(`placeholder location (${point.lat}, ${point.lon}): ${point.rows} rows stored flagged, without grid and H3 cells, left off maps`);
    }
    if (result.rejected.length > 0) {
      const rejectsFile = values.rejects ?? rejectsFileFor(positionals[0]);
      writeRejects(rejectsFile, result.rejected);
      console.log(`rejected rows (all ${result.rejected.length} in ${rejectsFile}):`);
      console.table(result.rejected.slice(0, 10).map((r) => ({ file: path.basename(r.file), row: r.row, column: r.column, value: r.value, reason: r.reason })));
    }
    if (result.unmappedCategories.length > 0) {
      console.log(`${result.unmappedCategories.length} categories are not in the catalogue (map them with --category-map):`);
      console.table(result.unmappedCategories);
    }
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(error instanceof UsageError ? 2 : 1);
});
