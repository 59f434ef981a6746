import type { WriteContext } from '../db/write-context';
import { checkVersion } from '../db/versions';
import { withWriteTransaction } from '../db/write-context';
import type { Actor } from '../auth/roles';
import { gridScope, inGridScope } from '../auth/scope';
import type { Pool, PoolClient, Queryable } from '../db/pool';
import { ConflictError, ForbiddenError, NotFoundError, RuleViolationError } from '../errors';
import { publishChange } from '../events/bus';
import type { Bbox } from '../geo/schemas';
import type { LayerDefinition } from './registry';
import type { ListLayerQuery } from './schemas';
import { type CityExtent, assertStorableGeometry } from '../geo/extent';
import {
  type LayerFeature,
  buildingGrid,
  deleteFeatureRow,
  geometryInvalidity,
  insertFeature,
  rowBbox,
  selectFeature,
  selectFeatures,
  updateFeatureRow,
} from './sql';

export type { LayerFeature } from './sql';

export interface FeatureInput {
  geometry?: unknown;
  properties?: Record<string, unknown>;
}

/** Grids whose personal data this actor may see; null when the actor is not limited to grids. */
function personalScope(layer: LayerDefinition, actor: Actor | null): number[] | null {
  return layer.personal ? gridScope(actor) : null;
}

export async function listFeatures(db: Queryable, layer: LayerDefinition, query: ListLayerQuery, actor: Actor | null) {
  // Only the filters asked for join the statement.
  const equals = Object.fromEntries(Object.keys(layer.filters).filter((name) => query[name] !== undefined).map((name) => [name, query[name]]));
  const rows = await selectFeatures(db, layer, {
    grid: query.grid ?? null,
    bbox: query.bbox ?? null,
    scope: personalScope(layer, actor),
    cursor: query.cursor ?? 0,
    limit: query.limit + 1,
    equals,
  });
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
  const row = await selectFeature(db, layer, id, lock);
  if (!row || (layer.personal && !inGridScope(actor, row.grid_id))) {
    throw new NotFoundError(`${layer.name} ${id} does not exist`, { layer: layer.name, id });
  }
  return row;
}

export async function getFeature(db: Queryable, layer: LayerDefinition, id: number, actor: Actor | null): Promise<VersionedFeature> {
  const { feature, version } = await findRow(db, layer, id, actor);
  return { feature, version };
}

/** A valid geometry (PostGIS's rules) that the city can store (geo/extent.ts); 422 naming the reason otherwise. */
async function assertValidGeometry(db: Queryable, geometry: unknown, city: CityExtent): Promise<void> {
  // PostGIS refuses some shapes outright (unclosed rings): that is the same complaint as an invalid one.
  const reason = await geometryInvalidity(db, geometry).catch((error: Error) => error.message);
  if (reason) throw new RuleViolationError(`The geometry is invalid: ${reason}`, { rule: 'valid-geometry', reason, geometry });
  await assertStorableGeometry(db, geometry, city);
}

/**
 * People live in a building: it must exist, and a grid worker may only use buildings of their grids (buildings
 * are no secret, everyone reads them with their grid: a 403 here tells nothing about any person).
 */
async function checkBuilding(db: Queryable, layer: LayerDefinition, actor: Actor | null, buildingId: unknown): Promise<void> {
  if (layer.geometry || buildingId === undefined) return;
  const building = await buildingGrid(db, buildingId);
  if (!building) throw new RuleViolationError(`Building ${String(buildingId)} does not exist`, { rule: 'existing-building', field: 'building_id' });
  if (!inGridScope(actor, building.grid_id)) {
    throw new ForbiddenError(`A grid worker may only register ${layer.name} in buildings of their own grids`, { field: 'building_id', allowedGrids: gridScope(actor) });
  }
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

/** The attributes given, by column in catalogue order (absent ones left out). */
function givenAttributes(layer: LayerDefinition, input: FeatureInput): Record<string, unknown> {
  const properties = input.properties ?? {};
  return Object.fromEntries(layer.columns.filter((column) => properties[column] !== undefined).map((column) => [column, properties[column]]));
}

export async function createFeature(pool: Pool, layer: LayerDefinition, input: FeatureInput, writer: WriteContext, city: CityExtent): Promise<VersionedFeature> {
  const attributes = givenAttributes(layer, input);
  return mapErrors(
    withWriteTransaction(pool, writer, async (client) => {
      if (layer.geometry) await assertValidGeometry(client, input.geometry, city);
      await checkBuilding(client, layer, writer.actor, attributes.building_id);
      const id = await insertFeature(client, layer, attributes, input.geometry);
      await announce(client, layer, id, layer.geometry ? await rowBbox(client, layer, id) : null);
      const { feature, version } = await findRow(client, layer, id, null);
      return { feature, version };
    }),
  );
}

/**
 * Runs first in a change's transaction: a caller's own check of the row (OGC API's If-Match compares the row's
 * version under a row lock), so that the check and the write are one.
 */
export type WritePrecondition = (client: PoolClient) => Promise<void>;

/** What a change is conditional on: the feature API's If-Match (optional; 412 when stale) or a caller's own check. */
export interface WriteCondition {
  expectedVersion?: string;
  precondition?: WritePrecondition;
}

/** Changes a feature; with `expectedVersion` (If-Match, optional here) 412 when it changed since the client read it. */
export async function updateFeature(
  pool: Pool,
  layer: LayerDefinition,
  id: number,
  input: FeatureInput,
  writer: WriteContext,
  city: CityExtent,
  condition: WriteCondition = {},
): Promise<VersionedFeature> {
  const attributes = givenAttributes(layer, input);
  return mapErrors(
    withWriteTransaction(pool, writer, async (client) => {
      await condition.precondition?.(client);
      const before = await findRow(client, layer, id, writer.actor, true);
      checkVersion(`${layer.name} ${id}`, before.version, condition.expectedVersion, false, { layer: layer.name, id });
      if (layer.geometry && input.geometry !== undefined) await assertValidGeometry(client, input.geometry, city);
      await checkBuilding(client, layer, writer.actor, attributes.building_id);
      const oldBbox = layer.geometry ? await rowBbox(client, layer, id) : null;
      await updateFeatureRow(client, layer, id, attributes, input.geometry);
      await announce(client, layer, id, unionBbox(oldBbox, layer.geometry ? await rowBbox(client, layer, id) : null));
      const { feature, version } = await findRow(client, layer, id, null);
      return { feature, version };
    }),
  );
}

/** Deletes a feature; with `expectedVersion` (If-Match, optional here) 412 when it changed since the client read it. */
export async function deleteFeature(pool: Pool, layer: LayerDefinition, id: number, writer: WriteContext, condition: WriteCondition = {}): Promise<void> {
  await mapErrors(
    withWriteTransaction(pool, writer, async (client) => {
      await condition.precondition?.(client);
      const before = await findRow(client, layer, id, writer.actor, true);
      checkVersion(`${layer.name} ${id}`, before.version, condition.expectedVersion, false, { layer: layer.name, id });
      const bbox = layer.geometry ? await rowBbox(client, layer, id) : null;
      await deleteFeatureRow(client, layer, id);
      await announce(client, layer, id, bbox);
    }),
  );
}
