import pg from 'pg';
import type { WriteContext } from '../db/write-context';
import { checkVersion } from '../db/versions';
import { withWriteTransaction } from '../db/write-context';
import type { Actor } from '../auth/roles';
import { gridScope, inGridScope } from '../auth/scope';
import type { Pool, PoolClient, Queryable } from '../db/pool';
import { ConflictError, ForbiddenError, NotFoundError, RuleViolationError } from '../errors';
import { publishChange } from '../events/bus';
import type { Bbox } from '../geo/schemas';
import { type LayerDefinition, gridExpression } from './registry';
import type { ListLayerQuery } from './schemas';
import { type CityExtent, assertStorableGeometry } from '../geo/extent';

export interface LayerFeature {
  type: 'Feature';
  id: number;
  geometry: unknown;
  properties: Record<string, unknown>;
}

export interface FeatureInput {
  geometry?: unknown;
  properties?: Record<string, unknown>;
}

/** The FROM clause, the row's grid and the geometry to filter by: people take all three from their building. */
function source(layer: LayerDefinition) {
  const table = pg.escapeIdentifier(layer.table);
  return layer.geometry
    ? { from: `${table} t`, grid: 't.grid_id', geom: 't.geom', geometryJson: 'ST_AsGeoJSON(t.geom, 7)::json' }
    : { from: `${table} t JOIN buildings b ON b.id = t.building_id`, grid: 'b.grid_id', geom: 'b.geom', geometryJson: 'NULL::json' };
}

function featureSelect(layer: LayerDefinition): string {
  const { from, grid, geometryJson } = source(layer);
  return `SELECT t.id, ${grid} AS grid_id,
            json_build_object('type', 'Feature', 'id', t.id, 'geometry', ${geometryJson},
              'properties', (to_jsonb(t) - 'id' - 'geom' - 'geom_3857') || jsonb_build_object('grid_id', ${grid})) AS feature
          FROM ${from}`;
}

/** Grids whose personal data this actor may see; null when the actor is not limited to grids. */
function personalScope(layer: LayerDefinition, actor: Actor | null): number[] | null {
  return layer.personal ? gridScope(actor) : null;
}

export async function listFeatures(db: Queryable, layer: LayerDefinition, query: ListLayerQuery, actor: Actor | null) {
  const { grid, geom } = source(layer);
  const [minLon, minLat, maxLon, maxLat] = query.bbox ?? [null, null, null, null];
  // Column names come from the registry, values are bound: only the filters asked for join the statement.
  const filters = Object.keys(layer.filters).filter((name) => query[name] !== undefined);
  const { rows } = await db.query<{ id: number; feature: LayerFeature }>(
    `${featureSelect(layer)}
     WHERE ($1::bigint IS NULL OR ${grid} = $1)
       AND ($2::float8 IS NULL OR ${geom} && ST_MakeEnvelope($2, $3, $4, $5, 4326))
       AND ($6::bigint[] IS NULL OR ${grid} = ANY($6))
       AND t.id > $7
       ${filters.map((name, index) => `AND t.${name} = $${index + 9}`).join(' ')}
     ORDER BY t.id
     LIMIT $8`,
    [query.grid ?? null, minLon, minLat, maxLon, maxLat, personalScope(layer, actor), query.cursor ?? 0, query.limit + 1, ...filters.map((name) => query[name])],
  );
  const page = rows.slice(0, query.limit);
  const nextCursor = rows.length > query.limit ? page[page.length - 1].id : null;
  return { features: page.map((row) => row.feature), nextCursor };
}

/** A feature with its version: its last change in µs since 1970 (updated_at), the ETag a write's If-Match names. */
export interface VersionedFeature {
  feature: LayerFeature;
  version: string;
}

/**
 * One row as the actor may see it: a row of personal data outside a grid worker's grids is as unknown as a missing
 * id. `lock` for a write: the row stays as read until the transaction ends.
 */
async function findRow(db: Queryable, layer: LayerDefinition, id: number, actor: Actor | null, lock = false) {
  const { rows } = await db.query<{ id: number; grid_id: number | null; feature: LayerFeature; version: string }>(
    `SELECT found.*, (extract(epoch FROM row_version.updated_at) * 1000000)::bigint::text AS version
       FROM (${featureSelect(layer)} WHERE t.id = $1) found
       JOIN ${pg.escapeIdentifier(layer.table)} row_version ON row_version.id = found.id${lock ? ' FOR UPDATE OF row_version' : ''}`,
    [id],
  );
  if (rows.length === 0 || (layer.personal && !inGridScope(actor, rows[0].grid_id))) {
    throw new NotFoundError(`${layer.name} ${id} does not exist`, { layer: layer.name, id });
  }
  return rows[0];
}

export async function getFeature(db: Queryable, layer: LayerDefinition, id: number, actor: Actor | null): Promise<VersionedFeature> {
  const { feature, version } = await findRow(db, layer, id, actor);
  return { feature, version };
}

/** SQL turning GeoJSON parameter $n into the stored geometry type. */
function geometryFromJson(layer: LayerDefinition, parameter: number): string {
  const geometry = `ST_SetSRID(ST_GeomFromGeoJSON($${parameter}::text), 4326)`;
  return layer.geometry === 'MultiPolygon' ? `ST_Multi(${geometry})` : geometry;
}

/** A valid geometry (PostGIS's rules) that the city can store (geo/extent.ts); 422 naming the reason otherwise. */
async function assertValidGeometry(db: Queryable, geometry: unknown, city: CityExtent): Promise<void> {
  const reason = await db
    .query<{ reason: string | null }>(
      `SELECT CASE WHEN ST_IsValid(g) THEN NULL ELSE ST_IsValidReason(g) END AS reason
         FROM (SELECT ST_GeomFromGeoJSON($1::text) AS g) AS input`,
      [JSON.stringify(geometry)],
    )
    // PostGIS refuses some shapes outright (unclosed rings): that is the same complaint as an invalid one.
    .then(({ rows }) => rows[0].reason, (error: Error) => error.message);
  if (reason) throw new RuleViolationError(`The geometry is invalid: ${reason}`, { rule: 'valid-geometry', reason, geometry });
  await assertStorableGeometry(db, geometry, city);
}

/**
 * People live in a building: it must exist, and a grid worker may only use buildings of their grids (buildings
 * are no secret, everyone reads them with their grid: a 403 here tells nothing about any person).
 */
async function checkBuilding(db: Queryable, layer: LayerDefinition, actor: Actor | null, buildingId: unknown): Promise<void> {
  if (layer.geometry || buildingId === undefined) return;
  const { rows } = await db.query<{ grid_id: number | null }>('SELECT grid_id FROM buildings WHERE id = $1', [buildingId]);
  if (rows.length === 0) throw new RuleViolationError(`Building ${String(buildingId)} does not exist`, { rule: 'existing-building', field: 'building_id' });
  if (!inGridScope(actor, rows[0].grid_id)) {
    throw new ForbiddenError(`A grid worker may only register ${layer.name} in buildings of their own grids`, { field: 'building_id', allowedGrids: gridScope(actor) });
  }
}

async function rowBbox(db: Queryable, layer: LayerDefinition, id: number): Promise<Bbox | null> {
  const { rows } = await db.query<{ bbox: Bbox | null }>(
    `SELECT CASE WHEN e IS NULL THEN NULL ELSE ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] END AS bbox
       FROM (SELECT ST_Extent(geom)::box2d AS e FROM ${pg.escapeIdentifier(layer.table)} WHERE id = $1) AS extent`,
    [id],
  );
  return rows[0].bbox;
}

function unionBbox(a: Bbox | null, b: Bbox | null): Bbox | null {
  if (!a || !b) return a ?? b;
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

async function announce(client: PoolClient, layer: LayerDefinition, id: number, bbox: Bbox | null): Promise<void> {
  if (!layer.geometry) return;
  await publishChange(client, { kind: 'layer-changed', layer: layer.name, ids: [id], bbox });
}

/** Duplicate codes and rows still referenced are the caller's conflict, not a server fault. */
function asDomainError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  const detail = (error as { detail?: string }).detail;
  if (code === '23505') return new ConflictError('A row with this value already exists', { detail });
  if (code === '23503') return new ConflictError('The row is still referenced by other rows', { detail });
  if (code === '23514') return new RuleViolationError('A value breaks a check rule', { detail, constraint: (error as { constraint?: string }).constraint });
  return error;
}

async function mapErrors<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw asDomainError(error);
  }
}

export async function createFeature(pool: Pool, layer: LayerDefinition, input: FeatureInput, writer: WriteContext, city: CityExtent): Promise<VersionedFeature> {
  const properties = input.properties ?? {};
  const columns = layer.columns.filter((column) => properties[column] !== undefined);
  const values = columns.map((column) => properties[column]);
  const names = columns.map((column) => pg.escapeIdentifier(column));
  const placeholders = columns.map((_, index) => `$${index + 1}`);
  if (layer.geometry) {
    const geometry = geometryFromJson(layer, columns.length + 1);
    names.push('geom', 'grid_id');
    placeholders.push(geometry, gridExpression(layer, geometry));
    values.push(JSON.stringify(input.geometry));
  }
  return mapErrors(
    withWriteTransaction(pool, writer, async (client) => {
      if (layer.geometry) await assertValidGeometry(client, input.geometry, city);
      await checkBuilding(client, layer, writer.actor, properties.building_id);
      const { rows } = await client.query<{ id: number }>(
        `INSERT INTO ${pg.escapeIdentifier(layer.table)} (${names.join(', ')}) VALUES (${placeholders.join(', ')}) RETURNING id`,
        values,
      );
      const id = rows[0].id;
      await announce(client, layer, id, layer.geometry ? await rowBbox(client, layer, id) : null);
      const { feature, version } = await findRow(client, layer, id, null);
      return { feature, version };
    }),
  );
}

/** Changes a feature; with `expectedVersion` (If-Match, optional here) 412 when it changed since the client read it. */
export async function updateFeature(
  pool: Pool,
  layer: LayerDefinition,
  id: number,
  input: FeatureInput,
  writer: WriteContext,
  city: CityExtent,
  expectedVersion?: string,
): Promise<VersionedFeature> {
  const properties = input.properties ?? {};
  const columns = layer.columns.filter((column) => properties[column] !== undefined);
  const values: unknown[] = [id, ...columns.map((column) => properties[column])];
  const assignments = columns.map((column, index) => `${pg.escapeIdentifier(column)} = $${index + 2}`);
  if (layer.geometry && input.geometry !== undefined) {
    const geometry = geometryFromJson(layer, values.length + 1);
    assignments.push(`geom = ${geometry}`, `grid_id = ${gridExpression(layer, geometry)}`);
    values.push(JSON.stringify(input.geometry));
  }
  assignments.push('updated_at = now()');
  return mapErrors(
    withWriteTransaction(pool, writer, async (client) => {
      const before = await findRow(client, layer, id, writer.actor, true);
      checkVersion(`${layer.name} ${id}`, before.version, expectedVersion, false, { layer: layer.name, id });
      if (layer.geometry && input.geometry !== undefined) await assertValidGeometry(client, input.geometry, city);
      await checkBuilding(client, layer, writer.actor, properties.building_id);
      const oldBbox = layer.geometry ? await rowBbox(client, layer, id) : null;
      await client.query(`UPDATE ${pg.escapeIdentifier(layer.table)} SET ${assignments.join(', ')} WHERE id = $1`, values);
      await announce(client, layer, id, unionBbox(oldBbox, layer.geometry ? await rowBbox(client, layer, id) : null));
      const { feature, version } = await findRow(client, layer, id, null);
      return { feature, version };
    }),
  );
}

/** Deletes a feature; with `expectedVersion` (If-Match, optional here) 412 when it changed since the client read it. */
export async function deleteFeature(pool: Pool, layer: LayerDefinition, id: number, writer: WriteContext, expectedVersion?: string): Promise<void> {
  await mapErrors(
    withWriteTransaction(pool, writer, async (client) => {
      const before = await findRow(client, layer, id, writer.actor, true);
      checkVersion(`${layer.name} ${id}`, before.version, expectedVersion, false, { layer: layer.name, id });
      const bbox = layer.geometry ? await rowBbox(client, layer, id) : null;
      await client.query(`DELETE FROM ${pg.escapeIdentifier(layer.table)} WHERE id = $1`, [id]);
      await announce(client, layer, id, bbox);
    }),
  );
}
