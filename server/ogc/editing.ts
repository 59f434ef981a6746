import type { z } from 'zod';
import type { WriteContext } from '../db/write-context';
import type { Role } from '../auth/roles';
import type { GridMemberTable } from '../catalogue/catalogue';
import type { Pool, PoolClient } from '../db/pool';
import { RuleViolationError, StaleVersionError } from '../errors';
import type { CityExtent } from '../geo/extent';
import { createGridBody, updateGridBody } from '../grids/schemas';
import { createGrid, updateGrid } from '../grids/service';
import { deleteGrid } from '../grids/split-merge';
import { validateBody } from '../http/route';
import type { LayerDefinition } from '../layers/registry';
import { createBody, updateBody } from '../layers/schemas';
import { createFeature, deleteFeature, updateFeature } from '../layers/service';
import { type TagRow, type VersionRow, gridVersionOfSql, lockedLayerVersionSql } from './sql';

/** A Feature of a write, its geometry already in WGS84 longitude/latitude (what the services take). */
export interface FeatureInput {
  geometry?: unknown;
  properties: Record<string, unknown>;
}

export interface EditRequest {
  pool: Pool;
  writer: WriteContext;
  at: Date;
  city: CityExtent;
  /** The entity tags of If-Match ("*" for any); undefined when the request sent none. */
  ifMatch: string[] | undefined;
}

/**
 * How one collection is written: each operation goes through the domain's own write service (its validation,
 * rules, history, audit and change events), never around it. Replace and update return the new entity tag.
 */
export interface FeatureEditor {
  roles: readonly Role[];
  create(request: EditRequest, feature: FeatureInput): Promise<number>;
  replace(request: EditRequest, id: number, feature: FeatureInput): Promise<string>;
  update(request: EditRequest, id: number, feature: FeatureInput): Promise<string>;
  remove(request: EditRequest, id: number): Promise<void>;
}

function matches(ifMatch: string[], tag: string): boolean {
  return ifMatch.includes('*') || ifMatch.includes(tag);
}

/** Properties a client read but cannot write (QGIS and GDAL send every field back): dropped before validation. */
function writable(properties: Record<string, unknown>, readOnly: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(properties).filter(([name]) => !readOnly.includes(name)));
}

/** A replacement names every property: those it leaves out that may be empty become empty (null). */
function withNulls(properties: Record<string, unknown>, schema: z.ZodObject): Record<string, unknown> {
  const cleared = Object.entries(schema.shape)
    .filter(([name, field]) => properties[name] === undefined && (field as z.ZodType).safeParse(null).success)
    .map(([name]) => [name, null]);
  return { ...Object.fromEntries(cleared), ...properties };
}

export function layerEditor(layer: LayerDefinition): FeatureEditor {
  const readOnly = ['grid_id', 'created_at', 'updated_at'];
  /** Checks If-Match (any of its tags, or *) against the locked row. */
  const guarded = (request: EditRequest, id: number) => ({
    async precondition(client: PoolClient) {
      const { rows } = await client.query<TagRow>(lockedLayerVersionSql(layer.table), [id]);
      // A missing row is the service's 404.
      if (rows[0] && request.ifMatch && !matches(request.ifMatch, rows[0].tag)) {
        throw new StaleVersionError(`${layer.name} ${id} has changed since it was read (ETag "${rows[0].tag}"): read it again`, { id, etag: `"${rows[0].tag}"` });
      }
    },
  });
  const input = (feature: FeatureInput) => ({ type: 'Feature', geometry: feature.geometry, properties: writable(feature.properties, readOnly) });
  return {
    roles: layer.write,
    async create({ pool, writer, city }, feature) {
      const body = validateBody(createBody(layer.properties, layer.geometrySchema), input(feature));
      return (await createFeature(pool, layer, body, writer, city)).feature.id;
    },
    async replace(request, id, feature) {
      const full = input(feature);
      const body = validateBody(createBody(layer.properties, layer.geometrySchema), { ...full, properties: withNulls(full.properties, layer.properties) });
      return (await updateFeature(request.pool, layer, id, body, request.writer, request.city, guarded(request, id))).version;
    },
    async update(request, id, feature) {
      const body = validateBody(updateBody(layer.properties, layer.geometrySchema), input(feature));
      return (await updateFeature(request.pool, layer, id, body, request.writer, request.city, guarded(request, id))).version;
    },
    async remove(request, id) {
      await deleteFeature(request.pool, layer, id, request.writer, guarded(request, id));
    },
  };
}

const gridReadOnly = ['version', 'areaM2', 'level'];

/**
 * The grid version the client's If-Match names: the grid service checks it under its lock (412 when stale, 428
 * when absent). "*" (any version) is the current one; a tag that is no version can match none.
 */
async function expectedGridVersion({ pool, ifMatch }: EditRequest, id: number): Promise<string | undefined> {
  if (!ifMatch) return undefined;
  if (ifMatch.includes('*')) {
    const { rows } = await pool.query<VersionRow>(gridVersionOfSql, [id]);
    return String(rows[0]?.version ?? 0);
  }
  // A tag that is no grid version can match none: the service's 412 says which version is current.
  return ifMatch.find((tag) => /^\d{1,9}$/.test(tag)) ?? '-1';
}

function checkLevel(level: number, properties: Record<string, unknown>): void {
  if (properties.level !== undefined && properties.level !== level) {
    throw new RuleViolationError(`This collection holds grids of level ${level}, not ${String(properties.level)}: write it to grids_level_${String(properties.level)}`, { rule: 'collection-level', level });
  }
}

/** `members`: the catalogue's layers placed in grids, re-placed when a grid's boundary changes. */
export function gridEditor(level: number, roles: readonly Role[], members: readonly GridMemberTable[]): FeatureEditor {
  const options = ({ pool, writer, at, city }: EditRequest) => ({ pool, writer, at, city, members });
  const change = (request: EditRequest, id: number, body: z.infer<typeof updateGridBody>) =>
    expectedGridVersion(request, id).then(async (version) => String((await updateGrid(options(request), id, version, body, false)).version));
  return {
    roles,
    async create(request, feature) {
      checkLevel(level, feature.properties);
      const body = validateBody(createGridBody, { ...writable(feature.properties, gridReadOnly), level, geometry: feature.geometry });
      const created = await createGrid(options(request), body, false);
      return (created.feature as { id: number }).id;
    },
    replace(request, id, feature) {
      checkLevel(level, feature.properties);
      const properties = { leader: null, householdsTarget: null, workers: [], ...writable(feature.properties, gridReadOnly) };
      // Complete as a new grid would be, then applied as a change of every attribute.
      validateBody(createGridBody, { ...properties, level, geometry: feature.geometry });
      return change(request, id, validateBody(updateGridBody, { ...properties, geometry: feature.geometry }));
    },
    update(request, id, feature) {
      checkLevel(level, feature.properties);
      return change(request, id, validateBody(updateGridBody, { ...writable(feature.properties, gridReadOnly), geometry: feature.geometry }));
    },
    async remove(request, id) {
      await deleteGrid(options(request), id, await expectedGridVersion(request, id), {});
    },
  };
}
