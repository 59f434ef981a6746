// The database side of a bulk import: a staging table the rows stream into, the checks that name bad rows, grid
// assignment in one join, and one INSERT ... SELECT into the layer's table. Everything runs in the caller's
// transaction, so a failure anywhere stores nothing.
import { identifier } from '../db/identifiers';
import type { PoolClient } from '../db/pool';
import { type CityExtent, extentSql, extentValues } from '../geo/extent';
import type { Bbox } from '../geo/schemas';
import { publishChange } from '../events/bus';
import { type LayerDefinition, anchorExpression } from './registry';

/** One reason a row cannot be imported. Rows are numbered from 1: the first data row (CSV) or feature (GeoJSON). */
export interface RowError {
  row: number;
  field: string;
  reason: string;
}

// Enough for anyone to fix a file; the count of all errors is reported beside them.
export const reportedErrorLimit = 1000;

/**
 * Imports of at least this many rows that also add at least half the table's rows rebuild its GIST indexes
 * instead of maintaining them row by row (see withSpatialIndexesRebuilt).
 */
export const rebuildIndexesMinRows = 50_000;
// How long a large import waits for its exclusive lock before it inserts with the indexes in place instead.
const exclusiveLockTimeout = '2s';

function escapedColumns(layer: LayerDefinition): string[] {
  return layer.columns.map(identifier);
}

/**
 * The staging table COPY fills: the layer's own columns with the table's types (no JSON to parse twice), and
 * for layers with a geometry a trigger (sql/060) that parses and checks it as each row arrives, so PostGIS works
 * while Node is still reading the file.
 */
export async function createStagingTable(client: PoolClient, layer: LayerDefinition): Promise<void> {
  // Column names come from the registry: no user text reaches this SQL.
  await client.query(
    `CREATE TEMP TABLE import_rows ON COMMIT DROP AS
       SELECT 0 AS row_no, ${escapedColumns(layer).join(', ')}, NULL::text AS geom_text, NULL::geometry AS geom, NULL::text AS reason
         FROM ${identifier(layer.table)} WITH NO DATA`,
  );
  if (layer.geometry) {
    await client.query('CREATE TRIGGER import_rows_parse BEFORE INSERT ON import_rows FOR EACH ROW EXECUTE FUNCTION import_rows_parse_geometry()');
  }
}

/** COPY into the staging table: row number, the layer's columns in registry order, geometry text. */
export function stagingCopy(layer: LayerDefinition): string {
  return `COPY import_rows (row_no, ${escapedColumns(layer).join(', ')}, geom_text) FROM STDIN`;
}

/** Rows whose geometry does not parse, is invalid, of another type, or one the city cannot store (sql/110). */
async function geometryErrors(client: PoolClient, layer: LayerDefinition, city: CityExtent): Promise<RowError[]> {
  const expectedTypes = layer.geometry === 'MultiPolygon' ? ['POLYGON', 'MULTIPOLYGON'] : ['POINT'];
  const { rows } = await client.query<RowError>(
    // MATERIALIZED: inlined, the extent's expression (a scan of the top-level grids) ran for every row, 5 times.
    `WITH city AS MATERIALIZED (SELECT ${extentSql(2)} AS extent)
     SELECT row_no AS row, 'geometry' AS field,
            coalesce(reason, CASE WHEN NOT (GeometryType(geom) = ANY($1)) THEN 'expected ' || array_to_string($1::text[], ' or ') || ', not ' || GeometryType(geom) END,
                     geometry_problem(geom, city.extent)) AS reason
       FROM import_rows, city
      WHERE reason IS NOT NULL OR NOT (GeometryType(geom) = ANY($1)) OR geometry_problem(geom, city.extent) IS NOT NULL
      ORDER BY row_no LIMIT ${reportedErrorLimit}`,
    [expectedTypes, ...extentValues(city)],
  );
  return rows;
}

async function missingBuildingErrors(client: PoolClient): Promise<RowError[]> {
  const { rows } = await client.query<RowError>(
    `SELECT row_no AS row, 'building_id' AS field, 'building ' || building_id || ' does not exist' AS reason
       FROM import_rows p WHERE NOT EXISTS (SELECT 1 FROM buildings b WHERE b.id = p.building_id)
      ORDER BY row_no LIMIT ${reportedErrorLimit}`,
  );
  return rows;
}

/** The layer's importable columns under a single-column unique index (buildings.code). */
async function uniqueColumns(client: PoolClient, layer: LayerDefinition): Promise<string[]> {
  const { rows } = await client.query<{ column: string }>(
    `SELECT a.attname AS column
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indnkeyatts = 1 AND i.indexprs IS NULL AND i.indpred IS NULL`,
    [layer.table],
  );
  return rows.map(({ column }) => column).filter((column) => layer.columns.includes(column));
}

/**
 * Rows whose value of a unique column is already in the table, or already on an earlier row of the file: named
 * here so that the insert cannot fail on them without a row number.
 */
async function uniqueClashErrors(client: PoolClient, layer: LayerDefinition): Promise<RowError[]> {
  const clashes: RowError[] = [];
  for (const column of await uniqueColumns(client, layer)) {
    const name = identifier(column);
    // The column comes from the catalog and the registry: no user text reaches this SQL.
    const { rows } = await client.query<RowError>(
      `WITH staged AS (
         SELECT row_no, ${name} AS value FROM import_rows WHERE ${name} IS NOT NULL
       ), repeated AS (
         SELECT value, min(row_no) AS first_row FROM staged GROUP BY value HAVING count(*) > 1
       )
       SELECT s.row_no AS row, $1::text AS field,
              CASE WHEN t.id IS NOT NULL THEN format('%s %L already exists (id %s)', $1, s.value, t.id)
                   ELSE format('%s %L is already on row %s', $1, s.value, r.first_row) END AS reason
         FROM staged s
         LEFT JOIN repeated r ON r.value = s.value AND r.first_row < s.row_no
         LEFT JOIN ${identifier(layer.table)} t ON t.${name} = s.value
        WHERE t.id IS NOT NULL OR r.first_row IS NOT NULL
        ORDER BY s.row_no LIMIT ${reportedErrorLimit}`,
      [column],
    );
    clashes.push(...rows);
  }
  return clashes;
}

/** Every error PostgreSQL finds among the staged rows: geometry, missing buildings, unique clashes. */
export async function findStagedErrors(client: PoolClient, layer: LayerDefinition, city: CityExtent): Promise<RowError[]> {
  const errors = [
    ...(layer.geometry ? await geometryErrors(client, layer, city) : []),
    ...(layer.geometry ? [] : await missingBuildingErrors(client)),
    ...(await uniqueClashErrors(client, layer)),
  ];
  return errors.sort((a, b) => a.row - b.row);
}

/**
 * The grid of every staged row in one join, by grid_at's rule (sql/004): the level-4 grid holding the row's
 * anchor point, the lowest id where several touch it. Grids on the outside, anchors found through a GIST index:
 * each grid's polygon is prepared once for all the points it may hold (200,000 buildings: 0.9 s of CPU against
 * 1.8 s for grid_at() row by row).
 */
export async function assignGrids(client: PoolClient, layer: LayerDefinition): Promise<void> {
  await client.query(
    `CREATE TEMP TABLE import_anchors ON COMMIT DROP AS SELECT row_no, ${anchorExpression(layer, 'geom')} AS anchor FROM import_rows;
     CREATE INDEX ON import_anchors USING gist (anchor);
     ANALYZE import_anchors;
     CREATE TEMP TABLE import_grids ON COMMIT DROP AS
       SELECT a.row_no, min(g.id) AS grid_id FROM grids g JOIN import_anchors a ON ST_Intersects(g.geom, a.anchor)
        WHERE g.level = 4 GROUP BY a.row_no`,
  );
}

async function columnDefaults(client: PoolClient, layer: LayerDefinition): Promise<Map<string, string>> {
  const { rows } = await client.query<{ column_name: string; column_default: string | null }>(
    `SELECT column_name, column_default FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 AND column_default IS NOT NULL`,
    [layer.table],
  );
  return new Map(rows.map((row) => [row.column_name, row.column_default as string]));
}

/** One INSERT ... SELECT from the staging table in file order; absent values take the column's default as a single INSERT would. */
export async function insertStaged(client: PoolClient, layer: LayerDefinition): Promise<number> {
  const defaults = await columnDefaults(client, layer);
  const table = identifier(layer.table);
  const names = escapedColumns(layer);
  // Defaults come from the catalog, column names from the registry: no user text reaches this SQL.
  const values = layer.columns.map((column) => {
    const value = `p.${identifier(column)}`;
    return defaults.has(column) ? `coalesce(${value}, ${defaults.get(column)})` : value;
  });
  let gridJoin = '';
  if (layer.geometry) {
    names.push('geom', 'grid_id');
    values.push(layer.geometry === 'MultiPolygon' ? 'ST_Multi(p.geom)' : 'p.geom', 'g.grid_id');
    gridJoin = 'LEFT JOIN import_grids g USING (row_no)';
  }
  const result = await client.query(
    `INSERT INTO ${table} (${names.join(', ')})
     SELECT ${values.join(', ')} FROM import_rows p ${gridJoin} ORDER BY p.row_no`,
  );
  return result.rowCount ?? 0;
}

async function estimatedRows(client: PoolClient, layer: LayerDefinition): Promise<number> {
  const { rows } = await client.query<{ estimate: number }>('SELECT reltuples::bigint AS estimate FROM pg_class WHERE oid = $1::regclass', [layer.table]);
  if (rows[0].estimate >= 0) return rows[0].estimate;
  // Never analysed: count once.
  const counted = await client.query<{ count: number }>(`SELECT count(*) AS count FROM ${identifier(layer.table)}`);
  return counted.rows[0].count;
}

// Not granted within the timeout (55P03), or a deadlock (40P01): two large imports of one layer each hold a read
// lock on its table (from creating their staging tables) and each want it exclusively.
const lockNotGranted = new Set(['55P03', '40P01']);

/** The exclusive lock, or false when other sessions hold the table for longer than we are willing to wait. */
async function lockExclusively(client: PoolClient, layer: LayerDefinition): Promise<boolean> {
  await client.query('SAVEPOINT import_lock');
  try {
    await client.query(`SET LOCAL lock_timeout = '${exclusiveLockTimeout}'`);
    await client.query(`LOCK TABLE ${identifier(layer.table)} IN ACCESS EXCLUSIVE MODE`);
    await client.query('RELEASE SAVEPOINT import_lock');
    await client.query('SET LOCAL lock_timeout = DEFAULT');
    return true;
  } catch (error) {
    if (!lockNotGranted.has((error as { code?: string }).code ?? '')) throw error;
    await client.query('ROLLBACK TO SAVEPOINT import_lock');
    return false;
  }
}

/**
 * Runs `insert` with the table's GIST indexes dropped, then builds them afresh, when the import adds at least
 * half the table's rows (and rebuildIndexesMinRows): PostGIS builds a GIST index from sorted input much faster
 * than it inserts row by row (200,000 buildings into 2,000: 1.5 s of index maintenance against 0.5 s to build).
 * The price is an ACCESS EXCLUSIVE lock on the layer's table from the drop to the commit: readers of that layer
 * (tiles, lists, exports) wait those seconds. Foreign keys stay: dropping one would lock the referenced table
 * (grids) exclusively too, stopping incident intake and every grid read.
 */
export async function withSpatialIndexesRebuilt<T>(client: PoolClient, layer: LayerDefinition, rows: number, insert: () => Promise<T>): Promise<T> {
  if (rows < rebuildIndexesMinRows || rows < (await estimatedRows(client, layer)) / 2) return insert();
  const { rows: indexes } = await client.query<{ name: string; definition: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
      WHERE i.indrelid = $1::regclass AND am.amname = 'gist'`,
    [layer.table],
  );
  if (!indexes.length || !(await lockExclusively(client, layer))) return insert();
  // Names and definitions come from the catalog.
  for (const { name } of indexes) await client.query(`DROP INDEX ${name}`);
  const result = await insert();
  for (const { definition } of indexes) await client.query(definition);
  return result;
}

/** The one audit row of a bulk import (the per-row trigger is skipped), and the changed bbox for the tile caches. */
export async function recordImport(client: PoolClient, layer: LayerDefinition, inserted: number): Promise<void> {
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
       FROM (SELECT ST_Extent(geom)::box2d AS e FROM import_rows) AS extent`,
  );
  await publishChange(client, { kind: 'layer-changed', layer: layer.name, ids: [], bbox: rows[0].bbox });
}
