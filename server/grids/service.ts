import { type WriteContext, withWriteTransaction } from '../db/write-context';
import type { Pool, PoolClient, Queryable } from '../db/pool';
import { checkVersion } from '../db/versions';
import { ConflictError, NotFoundError } from '../errors';
import { publishChange } from '../events/bus';
import { type HistoryAction, gridSnapshot, recordHistory, snapshotAtVersion } from './history';
import { type GridMemberTable, addMoved, reassignMembers } from './membership';
import { type GeometryHex, checkChildrenInside, checkLevel, normalizeGeometry, placeGeometry } from './rules';
import type { CreateGridInput, ListGridsQuery, UpdateGridInput } from './schemas';
import { type CityExtent, assertStorableGeometry } from '../geo/extent';

/**
 * Decimals of served grid geometry: 9 ≈ 0.1 mm, as coverage and history serve it. Snap-rounded to them before
 * writing, so the served geometry is valid as served (plain rounding can collapse a sliver into a ring of too few
 * points) and a client may PATCH it back unchanged: at 7 decimals (≈ 1 cm) a vertex moved off a 1 km border
 * made a sibling overlap of over 1 m², which PATCH refuses.
 */
export const servedDecimals = 9;

const featureSql = `json_build_object(
  'type', 'Feature', 'id', id,
  'geometry', ST_AsGeoJSON(ST_ReducePrecision(geom, 1e-${servedDecimals}), ${servedDecimals})::json,
  'properties', json_build_object('code', code, 'name', name, 'level', level, 'parentId', parent_id,
                                  'leader', leader, 'workers', workers, 'householdsTarget', households_target,
                                  'version', version, 'areaM2', round(ST_Area(geom::geography)::numeric, 1)))`;

export interface GridFeaturePage {
  features: unknown[];
  nextCursor: number | null;
}

/** One page of grids as GeoJSON features, ordered by id; the filters are all optional and all bound. */
export async function listGrids(db: Queryable, query: ListGridsQuery): Promise<GridFeaturePage> {
  const [minLon, minLat, maxLon, maxLat] = query.bbox ?? [null, null, null, null];
  const { rows } = await db.query<{ id: number; feature: unknown }>(
    `SELECT id, ${featureSql} AS feature
     FROM grids
     WHERE ($1::int IS NULL OR level = $1)
       AND ($2::bigint IS NULL OR parent_id = $2)
       AND ($3::float8 IS NULL OR geom && ST_MakeEnvelope($3, $4, $5, $6, 4326))
       AND id > $7
     ORDER BY id
     LIMIT $8`,
    [query.level ?? null, query.parent ?? null, minLon, minLat, maxLon, maxLat, query.cursor ?? 0, query.limit + 1],
  );
  const page = rows.slice(0, query.limit);
  const nextCursor = rows.length > query.limit ? page[page.length - 1].id : null;
  return { features: page.map((row) => row.feature), nextCursor };
}

export async function gridFeature(db: Queryable, id: number): Promise<{ feature: unknown; version: number }> {
  const { rows } = await db.query<{ feature: unknown; version: number }>(`SELECT ${featureSql} AS feature, version FROM grids WHERE id = $1`, [id]);
  if (!rows[0]) throw new NotFoundError(`grid ${id} does not exist`, { id });
  return rows[0];
}

/** The grid with its ancestors (nearest first, without geometry) and how many children it has. */
export async function getGrid(db: Queryable, id: number) {
  const { feature, version } = await gridFeature(db, id);
  const { rows: parents } = await db.query(
    `WITH RECURSIVE chain AS (
       SELECT g.parent_id AS id, 1 AS depth FROM grids g WHERE g.id = $1
       UNION ALL
       SELECT g.parent_id, chain.depth + 1 FROM grids g JOIN chain ON g.id = chain.id WHERE g.parent_id IS NOT NULL)
     SELECT g.id, g.code, g.name, g.level FROM chain JOIN grids g ON g.id = chain.id ORDER BY chain.depth`,
    [id],
  );
  const { rows: counts } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM grids WHERE parent_id = $1', [id]);
  return { feature, version, parents, childCount: counts[0].n };
}

export async function listChildren(db: Queryable, id: number): Promise<unknown[]> {
  await gridFeature(db, id);
  const { rows } = await db.query<{ feature: unknown }>(`SELECT ${featureSql} AS feature FROM grids WHERE parent_id = $1 ORDER BY id`, [id]);
  return rows.map((row) => row.feature);
}

/** Everything a write service needs besides its input: who writes, when, and the pool to write with. */
export interface WriteOptions {
  pool: Pool;
  /** The layers whose rows are grid members (catalogue: gridMembers), moved by every geometry change. */
  members: readonly GridMemberTable[];
  writer: WriteContext;
  at: Date;
  /** Where grids may lie (geo/extent.ts). */
  city: CityExtent;
}

/**
 * The geometry rules of every layer (geo/extent.ts), checked before PostGIS repairs anything. Top-level grids make
 * the city's extent, so only a configured CITY_EXTENT bounds them; the others lie inside their parent anyway.
 */
async function assertStorableGrid(client: PoolClient, options: WriteOptions, geometry: unknown, parentId: number | null): Promise<void> {
  await assertStorableGeometry(client, geometry, options.city, parentId === null ? 'top-level grid' : 'city');
}

export interface GridLock {
  id: number;
  level: number;
  parentId: number | null;
  version: number;
}

/** Locks the grid row for the transaction and checks the caller's If-Match version against it. */
export async function lockGrid(client: PoolClient, id: number, expectedVersion: string | undefined): Promise<GridLock> {
  const { rows } = await client.query<GridLock>(
    'SELECT id, level, parent_id AS "parentId", version FROM grids WHERE id = $1 FOR UPDATE',
    [id],
  );
  const grid = rows[0];
  if (!grid) throw new NotFoundError(`grid ${id} does not exist`, { id });
  checkVersion(`grid ${id}`, grid.version, expectedVersion, true, { id });
  return grid;
}

function rethrowUniqueCode(error: unknown): never {
  if ((error as { code?: string }).code === '23505') throw new ConflictError('a grid with this code already exists', { rule: 'unique-code' });
  throw error;
}

/** Hex EWKB of the envelope around the given geometries (old and new extents of a change). */
async function extentOf(db: Queryable, geometries: GeometryHex[]): Promise<{ area: GeometryHex; bbox: [number, number, number, number] }> {
  const { rows } = await db.query<{ area: string; bbox: [number, number, number, number] }>(
    `WITH e AS (SELECT ST_Envelope(ST_Collect(g::geometry)) AS g FROM unnest($1::text[]) AS g)
     SELECT encode(ST_AsEWKB(g), 'hex') AS area, ARRAY[ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)] AS bbox FROM e`,
    [geometries],
  );
  return rows[0];
}

export async function geometryOf(db: Queryable, id: number): Promise<GeometryHex> {
  const { rows } = await db.query<{ hex: string }>(`SELECT encode(ST_AsEWKB(geom), 'hex') AS hex FROM grids WHERE id = $1`, [id]);
  return rows[0].hex;
}

/**
 * After grid geometry changed: re-place members in the affected extent and tell the tile cache, for the grids
 * and for each member layer whose rows changed grid (their tiles carry grid_id), including rows the caller moved
 * already (`movedBefore`: the members of absorbed grids, which re-placing then leaves where they are).
 */
export async function afterGeometryChange(
  client: PoolClient,
  members: readonly GridMemberTable[],
  ids: number[],
  geometries: GeometryHex[],
  movedBefore: Record<string, number> = {},
): Promise<Record<string, number>> {
  const { area, bbox } = await extentOf(client, geometries);
  const moved = addMoved(movedBefore, await reassignMembers(client, members, area));
  await publishChange(client, { kind: 'layer-changed', layer: 'grids', ids, bbox });
  for (const [layer, rows] of Object.entries(moved)) {
    if (rows > 0) await publishChange(client, { kind: 'layer-changed', layer, ids: [], bbox });
  }
  return moved;
}

export async function createGrid(options: WriteOptions, input: CreateGridInput, repair: boolean) {
  return withWriteTransaction(options.pool, options.writer, (client) => insertGrid(client, options, input, repair));
}

/** The create inside the caller's transaction (a commit, or a dry run that rolls back). */
export async function insertGrid(client: PoolClient, options: WriteOptions, input: CreateGridInput, repair: boolean) {
  const parent = await checkLevel(client, input.level, input.parentId ?? null);
  const valid = await normalizeGeometry(client, input.geometry, repair);
  await assertStorableGrid(client, options, input.geometry, parent?.id ?? null);
  const geometry = await placeGeometry(client, valid, { level: input.level, parent, excludeIds: [] });
  const { rows } = await client
    .query<{ id: number }>(
      `INSERT INTO grids (code, name, level, parent_id, geom, leader, workers, households_target, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::geometry, $6, $7, $8, $9, $9) RETURNING id`,
      [input.code, input.name, input.level, parent?.id ?? null, geometry, input.leader ?? null, input.workers ?? [], input.householdsTarget ?? null, options.at],
    )
    .catch(rethrowUniqueCode);
  const id = rows[0].id;
  await recordHistory(client, options.writer, options.at, { gridId: id, version: 1, action: 'create', reason: input.reason, before: null, after: await gridSnapshot(client, id) });
  const membersMoved = await afterGeometryChange(client, options.members, [id], [geometry]);
  return { ...(await gridFeature(client, id)), membersMoved };
}

/** Applies attribute and geometry changes to a locked grid, with every rule, history and membership. */
export async function applyGridChange(
  client: PoolClient,
  options: WriteOptions,
  grid: GridLock,
  change: UpdateGridInput,
  how: { repair: boolean; action: HistoryAction },
) {
  const before = await gridSnapshot(client, grid.id);
  const oldGeometry = await geometryOf(client, grid.id);
  const parentId = change.parentId === undefined ? grid.parentId : change.parentId;
  let geometry: GeometryHex | null = null;
  // A new parent re-checks the grid's (new or current) geometry against it and its new siblings.
  if (change.geometry || parentId !== grid.parentId) {
    const parent = await checkLevel(client, grid.level, parentId);
    const valid = change.geometry ? await normalizeGeometry(client, change.geometry, how.repair) : oldGeometry;
    if (change.geometry) await assertStorableGrid(client, options, change.geometry, parentId);
    geometry = await placeGeometry(client, valid, { level: grid.level, parent, excludeIds: [grid.id] });
    await checkChildrenInside(client, grid.id, geometry);
  }
  await client
    .query(
      `UPDATE grids SET code = coalesce($2, code), name = coalesce($3, name),
         leader = CASE WHEN $4 THEN $5 ELSE leader END, workers = coalesce($6, workers),
         households_target = CASE WHEN $7 THEN $8 ELSE households_target END,
         geom = coalesce($9::geometry, geom), version = version + 1, updated_at = $10, parent_id = $11
       WHERE id = $1`,
      [
        grid.id,
        change.code ?? null,
        change.name ?? null,
        change.leader !== undefined,
        change.leader ?? null,
        change.workers ?? null,
        change.householdsTarget !== undefined,
        change.householdsTarget ?? null,
        geometry,
        options.at,
        parentId,
      ],
    )
    .catch(rethrowUniqueCode);
  const version = grid.version + 1;
  await recordHistory(client, options.writer, options.at, { gridId: grid.id, version, action: how.action, reason: change.reason, before, after: await gridSnapshot(client, grid.id) });
  const membersMoved = geometry ? await afterGeometryChange(client, options.members, [grid.id], [oldGeometry, geometry]) : {};
  return { ...(await gridFeature(client, grid.id)), membersMoved };
}

export async function updateGrid(options: WriteOptions, id: number, expectedVersion: string | undefined, change: UpdateGridInput, repair: boolean) {
  return withWriteTransaction(options.pool, options.writer, (client) => changeGrid(client, options, id, expectedVersion, change, repair));
}

/** The change inside the caller's transaction (a commit, or a dry run that rolls back). */
export async function changeGrid(client: PoolClient, options: WriteOptions, id: number, expectedVersion: string | undefined, change: UpdateGridInput, repair: boolean) {
  const grid = await lockGrid(client, id, expectedVersion);
  return applyGridChange(client, options, grid, change, { repair, action: 'update' });
}

export async function revertGrid(options: WriteOptions, id: number, expectedVersion: string | undefined, toVersion: number, reason?: string) {
  return withWriteTransaction(options.pool, options.writer, async (client) => {
    const grid = await lockGrid(client, id, expectedVersion);
    return applyGridChange(client, options, grid, await revertChange(client, id, toVersion, reason), { repair: false, action: 'revert' });
  });
}

/** The change that brings a grid back to an earlier version of its history. */
export async function revertChange(db: Queryable, id: number, toVersion: number, reason?: string): Promise<UpdateGridInput> {
  const snapshot = await snapshotAtVersion(db, id, toVersion);
  if (!snapshot) throw new NotFoundError(`grid ${id} has no version ${toVersion} in its history`, { id, version: toVersion });
  return {
    code: snapshot.code as string,
    name: snapshot.name as string,
    leader: snapshot.leader as string | null,
    workers: snapshot.workers as string[],
    householdsTarget: snapshot.householdsTarget as number | null,
    parentId: snapshot.parentId as number | null,
    geometry: snapshot.geometry as UpdateGridInput['geometry'],
    reason: reason ?? `revert to version ${toVersion}`,
  };
}
