import { withWriteTransaction } from '../db/write-context';
import type { PoolClient, Queryable } from '../db/pool';
import { BadRequestError, ConflictError, NotFoundError, PreconditionRequiredError, RuleViolationError, StaleVersionError } from '../errors';
import { featureCollection } from '../geo/schemas';
import { type HistoryAction, gridSnapshot, recordHistory } from './history';
import { addMoved, countMembers, moveMembers } from './membership';
import type { GeometryHex } from './rules';
import type { DeleteGridQuery, MergeGridsInput, SplitGridInput } from './schemas';
import { type GridLock, type WriteOptions, afterGeometryChange, geometryOf, gridFeature, lockGrid } from './service';
import { adoptChildrenSql, type ChildCountRow, childCountSql, type DeleteGridReturningRow, deleteGridReturningSql, deleteGridSql, type GeoJsonHexRow, geoJsonHexSql, type InsertPieceRow, insertPieceSql, mergeCandidatesSql, mergedUnionSql, setGeometrySql, type SplitCandidateRow, splitCandidateSql, splitPiecesSql } from './sql';

interface Piece {
  hex: GeometryHex;
  geometry: unknown;
  areaM2: number;
  buildings: number;
  households: number;
}

function previewOf(pieces: Piece[]) {
  return featureCollection(pieces.map(({ geometry, areaM2, buildings, households }) => ({ type: 'Feature', geometry, properties: { areaM2, buildings, households } })));
}

/** ST_Split of a one-polygon grid without children; the line must cut it into exactly two pieces. */
async function cutAlongLine(db: Queryable, id: number, line: unknown): Promise<Piece[]> {
  const { rows: grids } = await db.query<SplitCandidateRow>(
    splitCandidateSql,
    [id],
  );
  if (!grids[0]) throw new NotFoundError(`grid ${id} does not exist`, { id });
  if (grids[0].children > 0) throw new RuleViolationError(`grid ${id} has child grids: split its children instead`, { rule: 'split-no-children' });
  if (grids[0].parts !== 1) throw new RuleViolationError(`grid ${id} is a multi-part polygon; only one-part grids can be split`, { rule: 'split-line' });
  const { rows } = await db.query<Piece>(
    splitPiecesSql,
    [id, JSON.stringify(line)],
  );
  if (rows.length !== 2) {
    throw new RuleViolationError(`the line must cut the grid into exactly two pieces, not ${rows.length}`, { rule: 'split-line', pieces: rows.length, geometry: line });
  }
  return rows;
}

/**
 * Cuts a grid in two along a drawn line. Without commit: the two proposed pieces with their figures. With
 * commit (and If-Match): the grid keeps the larger piece, a new sibling takes the other, members follow.
 */
export async function splitGrid(options: WriteOptions, id: number, expectedVersion: string | undefined, input: SplitGridInput) {
  if (!input.commit) return { committed: false, pieces: previewOf(await cutAlongLine(options.pool, id, input.line)) };
  return withWriteTransaction(options.pool, options.writer, async (client) => {
    const grid = await lockGrid(client, id, expectedVersion);
    const [kept, cut] = await cutAlongLine(client, id, input.line);
    const before = await gridSnapshot(client, id);
    const oldGeometry = before?.geometry;
    await client.query(setGeometrySql, [id, kept.hex, options.at]);
    const { rows } = await client
      .query<InsertPieceRow>(
        insertPieceSql,
        [id, input.newCode ?? null, input.newName ?? null, cut.hex, options.at],
      )
      .catch((error: { code?: string }) => {
        if (error.code === '23505') throw new ConflictError('the new grid’s code is taken: give newCode', { rule: 'unique-code' });
        throw error;
      });
    const newId = rows[0].id;
    const reason = input.reason ?? `split of grid ${id}`;
    await recordHistory(client, options.writer, options.at, { gridId: id, version: grid.version + 1, action: 'split', reason, before, after: await gridSnapshot(client, id) });
    await recordHistory(client, options.writer, options.at, { gridId: newId, version: 1, action: 'split', reason, before: null, after: await gridSnapshot(client, newId) });
    const { rows: old } = await client.query<GeoJsonHexRow>(geoJsonHexSql, [JSON.stringify(oldGeometry)]);
    const membersMoved = await afterGeometryChange(client, options.members, [id, newId], [old[0].hex]);
    return { committed: true, grids: [await gridFeature(client, id), await gridFeature(client, newId)], membersMoved };
  });
}

interface MergeCandidate {
  id: number;
  level: number;
  parentId: number | null;
  version: number;
}

async function unionOfSiblings(db: Queryable, ids: number[], lock: boolean): Promise<{ grids: MergeCandidate[]; union: Piece }> {
  const { rows: grids } = await db.query<MergeCandidate>(
    mergeCandidatesSql(lock),
    [ids],
  );
  const missing = ids.filter((id) => !grids.some((grid) => grid.id === id));
  if (missing.length > 0) throw new NotFoundError(`grid(s) ${missing.join(', ')} do not exist`, { ids: missing });
  if (new Set(grids.map((grid) => `${grid.level}/${grid.parentId}`)).size > 1) {
    throw new RuleViolationError(`grids ${ids.join(', ')} are not siblings (same level and parent): only siblings can be merged`, { rule: 'merge-siblings' });
  }
  const { rows } = await db.query<Piece & { parts: number }>(
    mergedUnionSql,
    [ids],
  );
  if (rows[0].parts !== 1) {
    throw new RuleViolationError(`grids ${ids.join(', ')} are not adjacent: their union has ${rows[0].parts} separate parts`, { rule: 'merge-adjacent', parts: rows[0].parts });
  }
  return { grids, union: rows[0] };
}

/** 412 when a locked grid is no longer at the version the client read (grids without an expected version pass). */
function checkVersions(grids: MergeCandidate[], expected: Map<number, number>): void {
  const stale = grids.filter((grid) => expected.has(grid.id) && grid.version !== expected.get(grid.id));
  if (stale.length > 0) {
    throw new StaleVersionError(`grid(s) ${stale.map((grid) => grid.id).join(', ')} changed since you read them`, {
      currentVersions: Object.fromEntries(stale.map((grid) => [grid.id, grid.version])),
    });
  }
}

/**
 * Merges adjacent siblings into the first grid of `ids`; the others are deleted after their children and
 * members move to it. Without commit: the merged polygon and its figures.
 */
export async function mergeGrids(options: WriteOptions, input: MergeGridsInput) {
  if (new Set(input.ids).size !== input.ids.length) throw new BadRequestError('ids must be distinct', { ids: input.ids });
  if (!input.commit) {
    const { union } = await unionOfSiblings(options.pool, input.ids, false);
    return { committed: false, survivorId: input.ids[0], merged: previewOf([union]) };
  }
  const { versions } = input;
  if (!versions) throw new PreconditionRequiredError('committing a merge needs versions: the version of each grid in ids', { ids: input.ids });
  if (versions.length !== input.ids.length) throw new BadRequestError('versions must give one version per id, in the same order', {});
  return withWriteTransaction(options.pool, options.writer, async (client) => {
    const { grids, union } = await unionOfSiblings(client, input.ids, true);
    checkVersions(grids, new Map(input.ids.map((id, index) => [id, versions[index]])));
    const [survivorId, ...absorbed] = input.ids;
    const reason = input.reason ?? `merge of grids ${input.ids.join(', ')}`;
    const membersMoved = await mergeInto(client, options, union, survivorId, absorbed, { reason, absorbedAction: 'merge' });
    return { committed: true, grid: await gridFeature(client, survivorId), deletedIds: absorbed, membersMoved };
  });
}

/** Why grids are absorbed, and the history action the absorbed grids get ('merge', or 'delete' into a target). */
interface Absorption {
  reason: string;
  absorbedAction: HistoryAction;
}

/** The survivor takes the union's geometry, the absorbed grids' children and members, and they are deleted. */
async function mergeInto(
  client: PoolClient,
  options: WriteOptions,
  union: Piece,
  survivorId: number,
  absorbed: number[],
  how: Absorption,
): Promise<Record<string, number>> {
  const { geometries, moved } = await absorbGrids(client, options, survivorId, absorbed, how);
  const before = await gridSnapshot(client, survivorId);
  await client.query(setGeometrySql, [survivorId, union.hex, options.at]);
  const version = (before?.version as number) + 1;
  await recordHistory(client, options.writer, options.at, { gridId: survivorId, version, action: 'merge', reason: how.reason, before, after: await gridSnapshot(client, survivorId) });
  return afterGeometryChange(client, options.members, [survivorId, ...absorbed], [union.hex, ...geometries], moved);
}

async function absorbGrids(
  client: PoolClient,
  options: WriteOptions,
  survivorId: number,
  absorbed: number[],
  how: Absorption,
): Promise<{ geometries: GeometryHex[]; moved: Record<string, number> }> {
  const geometries: GeometryHex[] = [];
  let moved: Record<string, number> = {};
  for (const id of absorbed) {
    const before = await gridSnapshot(client, id);
    await client.query(adoptChildrenSql, [id, survivorId]);
    moved = addMoved(moved, await moveMembers(client, options.members, id, survivorId));
    const { rows } = await client.query<DeleteGridReturningRow>(deleteGridReturningSql, [id]);
    geometries.push(rows[0].hex);
    await recordHistory(client, options.writer, options.at, { gridId: id, version: (before?.version as number) + 1, action: how.absorbedAction, reason: how.reason, before, after: null });
  }
  return { geometries, moved };
}

/**
 * Deletes a grid. A grid with children or members is refused unless `target` is given. The target must be an
 * adjacent sibling, because it takes over the deleted grid's area as in a merge: then the moved children stay
 * inside their new parent and every member still lies in a grid. Handing them to a grid elsewhere would leave
 * children sticking out of it and members in an area no grid covers, so that is refused (422 delete-target).
 */
export async function deleteGrid(options: WriteOptions, id: number, expectedVersion: string | undefined, { target, targetVersion }: DeleteGridQuery) {
  if (target !== undefined && targetVersion === undefined) {
    throw new PreconditionRequiredError(`a delete into grid ${target} changes that grid too: give targetVersion, its version as you read it`, { target });
  }
  return withWriteTransaction(options.pool, options.writer, async (client) => {
    const grid = await lockGrid(client, id, expectedVersion);
    const { rows } = await client.query<ChildCountRow>(childCountSql, [id]);
    const children = rows[0].n;
    const members = await countMembers(client, options.members, id);
    if ((children > 0 || members > 0) && target === undefined) {
      throw new ConflictError(`grid ${id} still has ${children} child grid(s) and ${members} member(s): give ?target=<grid id> for them`, {
        rule: 'delete-has-dependents',
        children,
        members,
      });
    }
    if (target !== undefined) {
      const membersMoved = await deleteInto(client, options, grid, target, targetVersion!);
      return { id, deleted: true, children, members, targetId: target, membersMoved };
    }
    const before = await gridSnapshot(client, id);
    const geometry = await geometryOf(client, id);
    await recordHistory(client, options.writer, options.at, { gridId: id, version: grid.version + 1, action: 'delete', before, after: null });
    await client.query(deleteGridSql, [id]);
    await afterGeometryChange(client, options.members, [id], [geometry]);
    return { id, deleted: true, children, members };
  });
}

async function deleteInto(client: PoolClient, options: WriteOptions, grid: GridLock, target: number, targetVersion: number): Promise<Record<string, number>> {
  if (target === grid.id) throw new RuleViolationError(`grid ${grid.id} cannot be its own target`, { rule: 'delete-target', target });
  const { grids, union } = await unionOfSiblings(client, [target, grid.id], true).catch((error: unknown) => {
    if (!(error instanceof RuleViolationError || error instanceof NotFoundError)) throw error;
    throw new RuleViolationError(`target grid ${target} cannot take over grid ${grid.id}: it must be an adjacent sibling, which absorbs its area (${error.message})`, {
      ...error.details,
      rule: 'delete-target',
      target,
    });
  });
  checkVersions(grids, new Map([[target, targetVersion]]));
  const reason = `delete of grid ${grid.id}: its area, children and members go to grid ${target}`;
  return mergeInto(client, options, union, target, [grid.id], { reason, absorbedAction: 'delete' });
}
