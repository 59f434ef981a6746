import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse as parseCsv } from 'csv-parse';
import { parser as jsonParser } from 'stream-json';
import { pick } from 'stream-json/filters/Pick';
import { streamArray } from 'stream-json/streamers/StreamArray';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { z } from 'zod';
import { type WriteContext, withWriteTransaction } from '../audit/write-context';
import type { Pool, PoolClient } from '../db/pool';
import { BadRequestError, RuleViolationError } from '../errors';
import { publishChange } from '../events/bus';
import type { Bbox } from '../geo/schemas';
import { type LayerDefinition, gridExpression } from './registry';

/** One reason a row cannot be imported. Rows are numbered from 1: the first data row (CSV) or feature (GeoJSON). */
export interface RowError {
  row: number;
  field: string;
  reason: string;
}

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

// Enough for anyone to fix a file; the count of all errors is reported beside them.
const reportedErrorLimit = 1000;
const geometryColumns = ['wkt', 'lon', 'lat'];

function numericColumns(layer: LayerDefinition): Set<string> {
  const schema = z.toJSONSchema(layer.properties, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, { type?: string; anyOf?: Array<{ type?: string }> }>;
  };
  const numeric = Object.entries(schema.properties).filter(([, field]) =>
    [field.type, ...(field.anyOf ?? []).map((option) => option.type)].some((type) => type === 'integer' || type === 'number'),
  );
  return new Set(numeric.map(([name]) => name));
}

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
  const numeric = numericColumns(layer);
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
        properties[column] = numeric.has(column) && Number.isFinite(Number(text)) ? Number(text) : text;
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

/** The features of a GeoJSON FeatureCollection, one at a time: the file is never held whole. */
async function* geojsonRows(layer: LayerDefinition, input: Readable): AsyncGenerator<SourceRow> {
  const features = input.pipe(jsonParser()).pipe(pick({ filter: 'features' })).pipe(streamArray());
  input.on('error', (error) => features.destroy(error));
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
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    throw new BadRequestError(`The GeoJSON cannot be read: ${(error as Error).message}`);
  }
}

function validate(layer: LayerDefinition, source: SourceRow): RowError[] {
  const parsed = layer.properties.safeParse(source.properties);
  if (parsed.success) return source.errors;
  return [...source.errors, ...parsed.error.issues.map((issue) => ({ row: source.row, field: issue.path.join('.') || '(row)', reason: issue.message }))];
}

/** COPY text format: backslash, tab and line breaks are escaped; \N is NULL. */
function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** Streams the valid rows into the staging table; returns the row count and the errors found on the way. */
async function stageRows(client: PoolClient, layer: LayerDefinition, rows: AsyncIterable<SourceRow>) {
  const errors: RowError[] = [];
  let total = 0;
  let errorCount = 0;
  const copy = client.query(copyFrom('COPY import_rows (row_no, properties, geom_text) FROM STDIN'));
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
      batch += `${source.row}\t${copyText(JSON.stringify(source.properties))}\t${copyText(source.geometry)}\n`;
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

/** Geometry and reference errors PostGIS finds in one pass over the staged rows. */
async function findStagedErrors(client: PoolClient, layer: LayerDefinition): Promise<RowError[]> {
  const expectedTypes = layer.geometry === 'MultiPolygon' ? ['POLYGON', 'MULTIPOLYGON'] : ['POINT'];
  const sql = layer.geometry
    ? `SELECT row_no AS row, 'geometry' AS field,
              coalesce(reason, 'expected ' || array_to_string($1::text[], ' or ') || ', not ' || GeometryType(geom)) AS reason
         FROM import_parsed WHERE reason IS NOT NULL OR NOT (GeometryType(geom) = ANY($1))
        ORDER BY row_no LIMIT ${reportedErrorLimit}`
    : `SELECT row_no AS row, 'building_id' AS field, 'building ' || (properties->>'building_id') || ' does not exist' AS reason
         FROM import_parsed p WHERE NOT EXISTS (SELECT 1 FROM buildings b WHERE b.id = (p.properties->>'building_id')::bigint)
        ORDER BY row_no LIMIT ${reportedErrorLimit}`;
  const { rows } = await client.query<RowError>(sql, layer.geometry ? [expectedTypes] : []);
  return rows;
}

async function columnDefaults(client: PoolClient, layer: LayerDefinition): Promise<Map<string, string>> {
  const { rows } = await client.query<{ column_name: string; column_default: string | null }>(
    `SELECT column_name, column_default FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 AND column_default IS NOT NULL`,
    [layer.table],
  );
  return new Map(rows.map((row) => [row.column_name, row.column_default as string]));
}

/** One INSERT ... SELECT from the staging table; absent values take the column's default as a single INSERT would. */
async function insertStaged(client: PoolClient, layer: LayerDefinition): Promise<number> {
  const defaults = await columnDefaults(client, layer);
  const table = pg.escapeIdentifier(layer.table);
  const names = layer.columns.map((column) => pg.escapeIdentifier(column));
  // Defaults come from the catalog, column names from the registry: no user text reaches this SQL.
  const values = layer.columns.map((column) => {
    const value = `r.${pg.escapeIdentifier(column)}`;
    return defaults.has(column) ? `coalesce(${value}, ${defaults.get(column)})` : value;
  });
  if (layer.geometry) {
    const geometry = layer.geometry === 'MultiPolygon' ? 'ST_Multi(p.geom)' : 'p.geom';
    names.push('geom', 'grid_id');
    values.push(geometry, gridExpression(layer, 'p.geom'));
  }
  const result = await client.query(
    `INSERT INTO ${table} (${names.join(', ')})
     SELECT ${values.join(', ')} FROM import_parsed p CROSS JOIN LATERAL jsonb_populate_record(NULL::${table}, p.properties) AS r
     ORDER BY p.row_no`,
  );
  return result.rowCount ?? 0;
}

async function recordImport(client: PoolClient, layer: LayerDefinition, inserted: number): Promise<void> {
  await client.query(
    `INSERT INTO audit_log (token_id, role, route, request_id, entity, action, after)
     VALUES (nullif(current_setting('citygrid.token_id', true), '')::bigint, nullif(current_setting('citygrid.role', true), ''),
             nullif(current_setting('citygrid.route', true), ''), nullif(current_setting('citygrid.request_id', true), ''),
             $1, 'insert', jsonb_build_object('bulk', true, 'rows', $2::int))`,
    [layer.table, inserted],
  );
  if (!layer.geometry) return;
  const { rows } = await client.query<{ bbox: Bbox | null }>(
    `SELECT CASE WHEN e IS NULL THEN NULL ELSE ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] END AS bbox
       FROM (SELECT ST_Extent(geom)::box2d AS e FROM import_parsed) AS extent`,
  );
  await publishChange(client, { kind: 'layer-changed', layer: layer.name, ids: [], bbox: rows[0].bbox });
}

function rowsOf(layer: LayerDefinition, format: 'csv' | 'geojson', input: Readable): AsyncIterable<SourceRow> {
  return format === 'csv' ? csvRows(layer, input) : geojsonRows(layer, input);
}

/**
 * All or nothing: rows stream into a staging table (never all in memory), every row is checked, and only a file
 * without a single bad row is inserted, in one statement. A dry run checks and reports without storing.
 */
export async function importFeatures(
  pool: Pool,
  layer: LayerDefinition,
  input: Readable,
  options: { format: 'csv' | 'geojson'; dryRun: boolean },
  writer: WriteContext,
): Promise<ImportReport> {
  return withWriteTransaction(pool, { ...writer, bulk: true }, async (client) => {
    await client.query('CREATE TEMP TABLE import_rows (row_no integer NOT NULL, properties jsonb NOT NULL, geom_text text) ON COMMIT DROP');
    const staged = await stageRows(client, layer, rowsOf(layer, options.format, input));
    await client.query(
      layer.geometry
        ? `CREATE TEMP TABLE import_parsed ON COMMIT DROP AS
             SELECT s.row_no, s.properties, p.geom, p.reason FROM import_rows s CROSS JOIN LATERAL parse_import_geometry(s.geom_text) AS p`
        : `CREATE TEMP TABLE import_parsed ON COMMIT DROP AS SELECT row_no, properties FROM import_rows`,
    );
    const stagedErrors = await findStagedErrors(client, layer);
    const errors = [...staged.errors, ...stagedErrors].sort((a, b) => a.row - b.row);
    if (errors.length) {
      const badRows = staged.errorCount + new Set(stagedErrors.map((error) => error.row)).size;
      throw new RuleViolationError(`${badRows} of ${staged.total} rows cannot be imported; nothing was stored`, {
        rule: 'valid-rows',
        rows: staged.total,
        badRows,
        errors: errors.slice(0, reportedErrorLimit),
      });
    }
    if (options.dryRun) return { layer: layer.name, dryRun: true, rows: staged.total, inserted: 0 };
    const inserted = await insertStaged(client, layer);
    await recordImport(client, layer, inserted);
    return { layer: layer.name, dryRun: false, rows: staged.total, inserted };
  });
}
