// The feature API's SQL: reading, writing and exporting one layer's rows (the bulk import's is in staging.ts).
// Table and column names come from the catalogue and are quoted; every value is a bound parameter.
import { to as copyTo } from 'pg-copy-streams';
import type { Readable } from 'node:stream';
import type { PoolClient, Queryable } from '../db/pool';
import { identifier, nameLiteral, tableAs } from '../db/identifiers';
import type { Bbox } from '../geo/schemas';
import { type LayerDefinition, gridExpression } from './registry';

export interface LayerFeature {
  type: 'Feature';
  id: number;
  geometry: unknown;
  properties: Record<string, unknown>;
}

export interface FeatureRow {
  id: number;
  grid_id: number | null;
  feature: LayerFeature;
}

/** The FROM clause, the row's grid and the geometry to filter by: people take all three from their building. */
function source(layer: LayerDefinition) {
  return layer.geometry
    ? { from: tableAs(layer.table, 't'), grid: 't.grid_id', geom: 't.geom', geometryJson: 'ST_AsGeoJSON(t.geom, 7)::json' }
    : { from: `${tableAs(layer.table, 't')} JOIN buildings b ON b.id = t.building_id`, grid: 'b.grid_id', geom: 'b.geom', geometryJson: 'NULL::json' };
}

function featureSelect(layer: LayerDefinition): string {
  const { from, grid, geometryJson } = source(layer);
  return `SELECT t.id, ${grid} AS grid_id,
            json_build_object('type', 'Feature', 'id', t.id, 'geometry', ${geometryJson},
              'properties', (to_jsonb(t) - 'id' - 'geom' - 'geom_3857') || jsonb_build_object('grid_id', ${grid})) AS feature
          FROM ${from}`;
}

export interface FeatureListQuery {
  grid: number | null;
  bbox: [number, number, number, number] | null;
  /** Grids whose rows the reader may see; null: all. */
  scope: number[] | null;
  cursor: number;
  limit: number;
  /** Attribute equality filters, by column (catalogue: features.listFilters). */
  equals: Record<string, unknown>;
}

/** One page of features in id order after `cursor`; `limit` rows at most. */
export async function selectFeatures(db: Queryable, layer: LayerDefinition, query: FeatureListQuery): Promise<FeatureRow[]> {
  const { grid, geom } = source(layer);
  const [minLon, minLat, maxLon, maxLat] = query.bbox ?? [null, null, null, null];
  const columns = Object.keys(query.equals);
  const { rows } = await db.query<FeatureRow>(
    `${featureSelect(layer)}
     WHERE ($1::bigint IS NULL OR ${grid} = $1)
       AND ($2::float8 IS NULL OR ${geom} && ST_MakeEnvelope($2, $3, $4, $5, 4326))
       AND ($6::bigint[] IS NULL OR ${grid} = ANY($6))
       AND t.id > $7
       ${columns.map((name, index) => `AND t.${identifier(name)} = $${index + 9}`).join(' ')}
     ORDER BY t.id
     LIMIT $8`,
    [query.grid, minLon, minLat, maxLon, maxLat, query.scope, query.cursor, query.limit, ...columns.map((name) => query.equals[name])],
  );
  return rows;
}

/**
 * A feature's version, its ETag in the feature API and OGC API alike: its last change (updated_at, set to the
 * writing transaction's now()) in µs since 1970.
 */
export const featureVersionSql = (alias: string) => `(extract(epoch FROM ${alias}.updated_at) * 1000000)::bigint::text`;

/**
 * One row with its version (featureVersionSql), the ETag a write's If-Match names.
 * `lock` for a write: the row stays as read until the transaction ends.
 */
export async function selectFeature(db: Queryable, layer: LayerDefinition, id: number, lock = false): Promise<(FeatureRow & { version: string }) | undefined> {
  const { rows } = await db.query<FeatureRow & { version: string }>(
    `SELECT found.*, ${featureVersionSql('row_version')} AS version
       FROM (${featureSelect(layer)} WHERE t.id = $1) found
       JOIN ${tableAs(layer.table, 'row_version')} ON row_version.id = found.id${lock ? ' FOR UPDATE OF row_version' : ''}`,
    [id],
  );
  return rows[0];
}

/** Why PostGIS finds a GeoJSON geometry invalid; null when it is valid. Rejects what PostGIS cannot parse. */
export async function geometryInvalidity(db: Queryable, geometry: unknown): Promise<string | null> {
  const { rows } = await db.query<{ reason: string | null }>(
    `SELECT CASE WHEN ST_IsValid(g) THEN NULL ELSE ST_IsValidReason(g) END AS reason
       FROM (SELECT ST_GeomFromGeoJSON($1::text) AS g) AS input`,
    [JSON.stringify(geometry)],
  );
  return rows[0].reason;
}

/** The grid of a building, or undefined when there is no such building. */
export async function buildingGrid(db: Queryable, buildingId: unknown): Promise<{ grid_id: number | null } | undefined> {
  const { rows } = await db.query<{ grid_id: number | null }>('SELECT grid_id FROM buildings WHERE id = $1', [buildingId]);
  return rows[0];
}

export async function rowBbox(db: Queryable, layer: LayerDefinition, id: number): Promise<Bbox | null> {
  const { rows } = await db.query<{ bbox: Bbox | null }>(
    `SELECT CASE WHEN e IS NULL THEN NULL ELSE ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] END AS bbox
       FROM (SELECT ST_Extent(geom)::box2d AS e FROM ${identifier(layer.table)} WHERE id = $1) AS extent`,
    [id],
  );
  return rows[0].bbox;
}

/** SQL turning GeoJSON parameter $n into the stored geometry type. */
function geometryFromJson(layer: LayerDefinition, parameter: number): string {
  const geometry = `ST_SetSRID(ST_GeomFromGeoJSON($${parameter}::text), 4326)`;
  return layer.geometry === 'MultiPolygon' ? `ST_Multi(${geometry})` : geometry;
}

/** Inserts a row with the given attributes (and geometry, with its grid); returns its id. */
export async function insertFeature(db: Queryable, layer: LayerDefinition, attributes: Record<string, unknown>, geometry: unknown): Promise<number> {
  const columns = Object.keys(attributes);
  const names = columns.map(identifier);
  const values = columns.map((column) => attributes[column]);
  const placeholders = columns.map((_, index) => `$${index + 1}`);
  if (layer.geometry) {
    const stored = geometryFromJson(layer, columns.length + 1);
    names.push('geom', 'grid_id');
    placeholders.push(stored, gridExpression(layer, stored));
    values.push(JSON.stringify(geometry));
  }
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO ${identifier(layer.table)} (${names.join(', ')}) VALUES (${placeholders.join(', ')}) RETURNING id`,
    values,
  );
  return rows[0].id;
}

/** Changes the given attributes, and the geometry (with the grid) unless it is undefined. */
export async function updateFeatureRow(db: Queryable, layer: LayerDefinition, id: number, attributes: Record<string, unknown>, geometry: unknown): Promise<void> {
  const columns = Object.keys(attributes);
  const values: unknown[] = [id, ...columns.map((column) => attributes[column])];
  const assignments = columns.map((column, index) => `${identifier(column)} = $${index + 2}`);
  if (layer.geometry && geometry !== undefined) {
    const stored = geometryFromJson(layer, values.length + 1);
    assignments.push(`geom = ${stored}`, `grid_id = ${gridExpression(layer, stored)}`);
    values.push(JSON.stringify(geometry));
  }
  assignments.push('updated_at = now()');
  await db.query(`UPDATE ${identifier(layer.table)} SET ${assignments.join(', ')} WHERE id = $1`, values);
}

export async function deleteFeatureRow(db: Queryable, layer: LayerDefinition, id: number): Promise<void> {
  await db.query(`DELETE FROM ${identifier(layer.table)} WHERE id = $1`, [id]);
}

/**
 * Exported columns are exactly the importable ones, so an export can be imported again unchanged; `geometry`
 * 'wkt' adds it as WKT text (CSV), 'id' adds the id and the geometry column itself (GDAL formats).
 */
export function exportSelect(layer: LayerDefinition, geometry: 'wkt' | 'id' = 'wkt'): string {
  const columns = layer.columns.map(identifier);
  if (geometry === 'id') columns.unshift('id');
  if (layer.geometry) columns.push(geometry === 'wkt' ? 'ST_AsText(geom) AS wkt' : 'geom');
  return `SELECT ${columns.join(', ')} FROM ${identifier(layer.table)} ORDER BY id`;
}

/** The whole layer as CSV, streamed by COPY. */
export function copyLayerCsv(client: PoolClient, layer: LayerDefinition): Readable {
  return client.query(copyTo(`COPY (${exportSelect(layer)}) TO STDOUT WITH (FORMAT csv, HEADER)`));
}

/** Opens a cursor `layer_export` over the layer's rows as GeoJSON Feature texts (column `feature`), in id order. */
export async function declareFeatureCursor(client: PoolClient, layer: LayerDefinition): Promise<void> {
  const properties = layer.columns.map((column) => `${nameLiteral(column)}, ${identifier(column)}`).join(', ');
  const geometry = layer.geometry ? 'ST_AsGeoJSON(geom, 7)::json' : 'NULL::json';
  await client.query(
    `DECLARE layer_export NO SCROLL CURSOR FOR
     SELECT json_build_object('type', 'Feature', 'id', id, 'geometry', ${geometry}, 'properties', json_build_object(${properties}))::text AS feature
       FROM ${identifier(layer.table)} ORDER BY id`,
  );
}

export async function fetchFeatureTexts(client: PoolClient, count: number): Promise<string[]> {
  const { rows } = await client.query<{ feature: string }>(`FETCH ${count} FROM layer_export`);
  return rows.map((row) => row.feature);
}
