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
import { type ChildFeaturesRow, childFeaturesSql, type ExtentOfRow, extentOfSql, type GeometryHexRow, geometryHexSql, type GridFeatureRow, gridFeatureSql, type GridWithChainRow, gridWithChainQuery, type InsertGridRow, insertGridSql, type ListGridsRow, listGridsSql, lockGridSql, updateGridSql } from './sql';

export interface GridFeaturePage {
  features: unknown[];
  nextCursor: number | null;
}

/** One page of grids as GeoJSON features, ordered by id; the filters are all optional and all bound. */
export async function listGrids(db: Queryable, query: ListGridsQuery): Promise<GridFeaturePage> {
  const [minLon, minLat, maxLon, maxLat] = query.bbox ?? [null, null, null, null];
  const { rows } = await db.query<ListGridsRow>(
    listGridsSql,
    [query.level ?? null, query.parent ?? null, minLon, minLat, maxLon, maxLat, query.cursor ?? 0, query.limit + 1],
  );
  const page = rows.slice(0, query.limit);
  const nextCursor = rows.length > query.limit ? page[page.length - 1].id : null;
  return { features: page.map((row) => row.feature), nextCursor };
}

export async function gridFeature(db: Queryable, id: number): Promise<{ feature: unknown; version: number }> {
  const { rows } = await db.query<GridFeatureRow>(gridFeatureSql, [id]);
  if (!rows[0]) throw new NotFoundError(`grid ${id} does not exist`, { id });
  return rows[0];
}

/** The grid with its ancestors (nearest first, without geometry) and how many children it has. */
export async function getGrid(db: Queryable, id: number) {
  const { rows } = await db.query<GridWithChainRow>({ ...gridWithChainQuery, values: [id] });
  if (!rows[0]) throw new NotFoundError(`grid ${id} does not exist`, { id });
  const { feature, version, parents, child_count: childCount } = rows[0];
  return { feature, version, parents, childCount };
}

export async function listChildren(db: Queryable, id: number): Promise<unknown[]> {
  await gridFeature(db, id);
  const { rows } = await db.query<ChildFeaturesRow>(childFeaturesSql, [id]);
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
    lockGridSql,
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
  const { rows } = await db.query<ExtentOfRow>(
    extentOfSql,
    [geometries],
  );
  return rows[0];
}

export async function geometryOf(db: Queryable, id: number): Promise<GeometryHex> {
  const { rows } = await db.query<GeometryHexRow>(geometryHexSql, [id]);
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
    .query<InsertGridRow>(
      insertGridSql,
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
      updateGridSql,
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
