import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse as parseCsv } from 'csv-parse';
import { parser as jsonParser } from 'stream-json';
import { pick } from 'stream-json/filters/Pick';
import { streamArray } from 'stream-json/streamers/StreamArray';
import { from as copyFrom } from 'pg-copy-streams';
import { z } from 'zod';
import { type WriteContext, withWriteTransaction } from '../db/write-context';
import type { Pool, PoolClient } from '../db/pool';
import { holdsNul } from '../db/text';
import { BadRequestError, ConflictError, RuleViolationError } from '../errors';
import type { CityExtent } from '../geo/extent';
import { isWgs84CrsName } from '../geo/schemas';
import type { LayerDefinition } from './registry';
import {
  type RowError,
  assignGrids,
  createStagingTable,
  findStagedErrors,
  insertStaged,
  recordImport,
  reportedErrorLimit,
  stagingCopy,
  withSpatialIndexesRebuilt,
} from './staging';

export type { RowError } from './staging';

export interface ImportReport {
  layer: string;
  dryRun: boolean;
  rows: number;
  inserted: number;
}

/** A source row before validation: attribute values as read, geometry as WKT/EWKT or GeoJSON text. */
interface SourceRow {
  row: number;
  properties: Record<string, unknown>;
  geometry: string | null;
  errors: RowError[];
}

const geometryColumns = ['wkt', 'lon', 'lat'];

function checkCsvHeader(layer: LayerDefinition, header: string[]): string[] {
  const allowed = new Set([...layer.columns, ...(layer.geometry ? geometryColumns : [])]);
  const unknown = header.filter((name) => !allowed.has(name));
  if (unknown.length) throw new BadRequestError(`Unknown CSV columns: ${unknown.join(', ')}`, { unknownColumns: unknown, allowedColumns: [...allowed] });
  if (layer.geometry && !header.includes('wkt') && !(header.includes('lon') && header.includes('lat'))) {
    throw new BadRequestError('The CSV needs a wkt column, or lon and lat columns for points');
  }
  return header;
}

function csvGeometry(layer: LayerDefinition, record: Record<string, string>, row: number, errors: RowError[]): string | null {
  if (!layer.geometry) return null;
  if (record.wkt) return record.wkt;
  const lon = Number(record.lon);
  const lat = Number(record.lat);
  if (layer.geometry === 'Point' && record.lon && record.lat && Number.isFinite(lon) && Number.isFinite(lat)) return `POINT(${lon} ${lat})`;
  errors.push({ row, field: 'geometry', reason: 'needs wkt, or numeric lon and lat for a point' });
  return null;
}

/** CSV rows as source rows: empty cells are absent values, numbers are read as numbers for the schema to check. */
async function* csvRows(layer: LayerDefinition, input: Readable): AsyncGenerator<SourceRow> {
  const parser = input.pipe(
    parseCsv({ columns: (header: string[]) => checkCsvHeader(layer, header), bom: true, trim: true, relax_column_count: true, skip_empty_lines: true }),
  );
  input.on('error', (error) => parser.destroy(error));
  let row = 0;
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      row += 1;
      const errors: RowError[] = [];
      const properties: Record<string, unknown> = {};
      for (const column of layer.columns) {
        const text = record[column];
        if (text === undefined || text === '') continue;
        properties[column] = layer.numericColumns.has(column) && Number.isFinite(Number(text)) ? Number(text) : text;
      }
      yield { row, properties, geometry: csvGeometry(layer, record, row, errors), errors };
    }
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    throw new BadRequestError(`The CSV cannot be read after row ${row}: ${(error as Error).message}`, { row: row + 1 });
  }
}

// The feature envelope; its properties are checked by the layer's own schema so that each bad one is named.
const importedFeature = z
  .object({
    type: z.literal('Feature'),
    id: z.union([z.string(), z.number()]).optional(),
    geometry: z.record(z.string(), z.unknown()).nullable(),
    properties: z.record(z.string(), z.unknown()).nullable(),
  })
  .strict();

/**
 * Watches the parser's tokens for the envelope pick() throws away: one object, "type": "FeatureCollection", a
 * "features" array, and a top-level `crs` (GDAL writes one) only if it names WGS84. Without it any other JSON (an
 * array, a number, {}) would import as an empty file, and a file in another CRS as if it were WGS84.
 */
function watchEnvelope(parser: NodeJS.EventEmitter): () => string | undefined {
  let depth = 0;
  // The member name last seen at each depth: keys[1] is the top level's, keys[3] a name inside crs.properties.
  const keys: string[] = [];
  let topLevel: string | undefined;
  let type: unknown;
  let features = false;
  let crs: string | null = null;
  parser.on('data', (token: { name: string; value?: unknown }) => {
    topLevel ??= token.name;
    if (token.name === 'keyValue') keys[depth] = String(token.value);
    else if (token.name === 'stringValue' && depth === 1 && keys[1] === 'type') type = token.value;
    else if (token.name === 'startArray' && depth === 1 && keys[1] === 'features') features = true;
    else if (token.name === 'startObject' && depth === 1 && keys[1] === 'crs') crs = '(a crs without a name)';
    else if (token.name === 'stringValue' && depth === 3 && keys[1] === 'crs' && keys[2] === 'properties' && keys[3] === 'name') crs = String(token.value);
    if (token.name === 'startObject' || token.name === 'startArray') depth += 1;
    else if (token.name === 'endObject' || token.name === 'endArray') depth -= 1;
  });
  return () => {
    if (topLevel !== 'startObject' || type !== 'FeatureCollection' || !features) {
      return 'The GeoJSON must be a FeatureCollection: an object with "type": "FeatureCollection" and a "features" array';
    }
    if (crs !== null && !isWgs84CrsName(crs)) return `The GeoJSON's crs is ${crs}: citygrid imports WGS84 longitude/latitude (EPSG:4326, CRS84) only`;
    return undefined;
  };
}

/** The features of a GeoJSON FeatureCollection, one at a time: the file is never held whole. */
async function* geojsonRows(layer: LayerDefinition, input: Readable): AsyncGenerator<SourceRow> {
  const parser = jsonParser();
  const envelopeProblem = watchEnvelope(parser);
  const picked = pick({ filter: 'features' });
  const features = input.pipe(parser).pipe(picked).pipe(streamArray());
  // pipe() does not pass errors on: without this a malformed file fails the parser unheard (an unhandled 'error'
  // event) and the loop below waits forever. Not pipeline(): it would destroy the request, and with it the 400.
  for (const stage of [input, parser, picked]) stage.on('error', (error: Error) => features.destroy(error));
  try {
    for await (const { key, value } of features as AsyncIterable<{ key: number; value: unknown }>) {
      const row = key + 1;
      const envelope = importedFeature.safeParse(value);
      if (!envelope.success) {
        const errors = envelope.error.issues.map((issue) => ({ row, field: issue.path.join('.') || '(feature)', reason: issue.message }));
        yield { row, properties: {}, geometry: null, errors };
        continue;
      }
      const { geometry, properties } = envelope.data;
      const errors: RowError[] = [];
      if (layer.geometry && !geometry) errors.push({ row, field: 'geometry', reason: 'a geometry is required' });
      yield { row, properties: properties ?? {}, geometry: layer.geometry && geometry ? JSON.stringify(geometry) : null, errors };
    }
    const problem = envelopeProblem();
    if (problem) throw new BadRequestError(problem);
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    throw new BadRequestError(`The GeoJSON cannot be read: ${(error as Error).message}`);
  }
}

/** Values holding a NUL character, each named: COPY would otherwise fail the whole import without a row number. */
function nulErrors(source: SourceRow): RowError[] {
  const values: Array<[string, unknown]> = [...Object.entries(source.properties), ['geometry', source.geometry]];
  return values.filter(([, value]) => holdsNul(value)).map(([field]) => ({ row: source.row, field, reason: 'must not contain NUL characters' }));
}

function validate(layer: LayerDefinition, source: SourceRow): RowError[] {
  const errors = [...source.errors, ...nulErrors(source)];
  const parsed = layer.properties.safeParse(source.properties);
  if (parsed.success) return errors;
  return [...errors, ...parsed.error.issues.map((issue) => ({ row: source.row, field: issue.path.join('.') || '(row)', reason: issue.message }))];
}

const copyEscaped = /[\\\t\n\r]/;

/** One value in COPY text format: backslash, tab and line breaks are escaped; \N is NULL (or absent). */
function copyValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : String(value);
  if (!copyEscaped.test(text)) return text;
  return text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** Streams the valid rows into the staging table; returns the row count and the errors found on the way. */
async function stageRows(client: PoolClient, layer: LayerDefinition, rows: AsyncIterable<SourceRow>) {
  const errors: RowError[] = [];
  let total = 0;
  let errorCount = 0;
  const copy = client.query(copyFrom(stagingCopy(layer)));
  async function* lines(): AsyncGenerator<string> {
    let batch = '';
    for await (const source of rows) {
      total = source.row;
      const rowErrors = validate(layer, source);
      if (rowErrors.length) {
        errorCount += 1;
        if (errors.length < reportedErrorLimit) errors.push(...rowErrors);
        continue;
      }
      const values = layer.columns.map((column) => copyValue(source.properties[column]));
      batch += `${source.row}\t${values.join('\t')}\t${copyValue(source.geometry)}\n`;
      if (batch.length > 1 << 16) {
        yield batch;
        batch = '';
      }
    }
    if (batch) yield batch;
  }
  await pipeline(lines, copy);
  return { total, errors, errorCount };
}

function rowsOf(layer: LayerDefinition, format: 'csv' | 'geojson', input: Readable): AsyncIterable<SourceRow> {
  return format === 'csv' ? csvRows(layer, input) : geojsonRows(layer, input);
}

/** The steps of an import, in order; `stage` is reading the file, with PostGIS parsing geometry as rows arrive. */
export type ImportPhase = 'stage' | 'check' | 'grids' | 'insert' | 'record';

export interface ImportOptions {
  format: 'csv' | 'geojson';
  dryRun: boolean;
  /** Where the rows' geometry may lie (geo/extent.ts). */
  city: CityExtent;
  /** Told the wall-clock seconds of each phase as it ends (the benchmark prints them). */
  onPhase?: (phase: ImportPhase, seconds: number) => void;
}

function phaseTimer(onPhase: ImportOptions['onPhase']): (phase: ImportPhase) => void {
  let started = performance.now();
  return (phase) => {
    const now = performance.now();
    onPhase?.(phase, (now - started) / 1000);
    started = now;
  };
}

function distinctRows(errors: RowError[]): number {
  return new Set(errors.map((error) => error.row)).size;
}

function rowsRejected(rows: number, badRows: number, errors: RowError[]): RuleViolationError {
  return new RuleViolationError(`${badRows} of ${rows} rows cannot be imported; nothing was stored`, {
    rule: 'valid-rows',
    rows,
    badRows,
    errors: errors.slice(0, reportedErrorLimit),
  });
}

/**
 * The insert, in a savepoint: a unique value another session stored after the checks ran fails it with 23505,
 * and the rows that clash are then named like every other bad row. A unique rule the checks do not know (an
 * index on an expression) is a conflict without row numbers.
 */
async function insertNamingClashes(client: PoolClient, layer: LayerDefinition, rows: number, options: ImportOptions): Promise<number> {
  await client.query('SAVEPOINT import_insert');
  try {
    // A dry run inserts too (into indexes as they are) and is then rolled back: whatever the insert refuses, a
    // dry run refuses, and no check can be skipped by one and not the other.
    if (options.dryRun) return await insertStaged(client, layer);
    return await withSpatialIndexesRebuilt(client, layer, rows, () => insertStaged(client, layer));
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    await client.query('ROLLBACK TO SAVEPOINT import_insert');
    const errors = await findStagedErrors(client, layer, options.city);
    if (!errors.length) throw new ConflictError('A row of the file has a value that already exists', { detail: (error as { detail?: string }).detail });
    throw rowsRejected(rows, distinctRows(errors), errors);
  }
}

/**
 * All or nothing: rows stream into a staging table (never all in memory), every row is checked, and only a file
 * without a single bad row is inserted, in one statement. A dry run does all of it, the insert included, and
 * rolls the insert back: it refuses exactly what the import refuses.
 */
export async function importFeatures(
  pool: Pool,
  layer: LayerDefinition,
  input: Readable,
  options: ImportOptions,
  writer: WriteContext,
): Promise<ImportReport> {
  const phaseEnded = phaseTimer(options.onPhase);
  return withWriteTransaction(pool, { ...writer, bulk: true }, async (client) => {
    await createStagingTable(client, layer);
    const staged = await stageRows(client, layer, rowsOf(layer, options.format, input));
    phaseEnded('stage');
    const stagedErrors = await findStagedErrors(client, layer, options.city);
    phaseEnded('check');
    const errors = [...staged.errors, ...stagedErrors].sort((a, b) => a.row - b.row);
    if (errors.length) throw rowsRejected(staged.total, staged.errorCount + distinctRows(stagedErrors), errors);
    if (layer.geometry) await assignGrids(client, layer);
    phaseEnded('grids');
    const inserted = await insertNamingClashes(client, layer, staged.total, options);
    phaseEnded('insert');
    if (options.dryRun) {
      await client.query('ROLLBACK TO SAVEPOINT import_insert');
      return { layer: layer.name, dryRun: true, rows: staged.total, inserted: 0 };
    }
    await recordImport(client, layer, inserted);
    phaseEnded('record');
    return { layer: layer.name, dryRun: false, rows: staged.total, inserted };
  });
}
