import { withWriteTransaction } from '../db/write-context';
import type { PoolClient, Queryable } from '../db/pool';
import { NotFoundError, RuleViolationError } from '../errors';
import { featureCollection } from '../geo/schemas';
import { gridSnapshot, recordHistory } from './history';
import { addMoved, moveMembers } from './membership';
import { type Box, type PartitionCell, partitionBuildings, type WeightedBuilding } from './partition';
import type { RebalanceInput } from './schemas';
import { type WriteOptions, afterGeometryChange, lockGrid } from './service';
import { type BuildingGridsRow, buildingGridsSql, bumpVersionSql, type CellOverlapsRow, cellOverlapsSql, type ChildGeometriesRow, childGeometriesSql, deleteGridSql, type InsertRebalancedRow, insertRebalancedSql, lockChildrenSql, rebalanceBuildingsSql, rebalanceCellsSql, rebalanceGridSql, setGeometrySql } from './sql';

interface ParentRow {
  id: number;
  code: string;
  name: string;
  level: number;
  box: Box;
  grandchildren: number;
}

async function loadParent(db: Queryable, id: number): Promise<ParentRow> {
  const { rows } = await db.query<ParentRow>(
    rebalanceGridSql,
    [id],
  );
  const parent = rows[0];
  if (!parent) throw new NotFoundError(`grid ${id} does not exist`, { id });
  if (parent.level === 4) throw new RuleViolationError('a level-4 grid has no children to rebalance', { rule: 'rebalance-parent' });
  if (parent.grandchildren > 0) throw new RuleViolationError('only a parent whose children have no children of their own can be rebalanced', { rule: 'rebalance-parent' });
  return parent;
}

async function loadBuildings(db: Queryable, parentId: number): Promise<WeightedBuilding[]> {
  const { rows } = await db.query<WeightedBuilding>(
    rebalanceBuildingsSql,
    [parentId],
  );
  return rows;
}

/** Does the footprint's extent cross a cut line of its cell (an edge of the box that is not the parent's)? */
function crossesCut(b: WeightedBuilding, box: Box, root: Box): boolean {
  return (b.minX < box[0] && box[0] > root[0]) || (b.minY < box[1] && box[1] > root[1]) || (b.maxX > box[2] && box[2] < root[2]) || (b.maxY > box[3] && box[3] < root[3]);
}

interface ProposedGrid {
  index: number;
  hex: string;
  geometry: unknown;
  areaM2: number;
  parts: number;
  polsbyPopper: number;
  /** the existing child that overlaps it most (and is not taken by a larger overlap), reused on commit */
  matchedId: number | null;
}

/**
 * Cells → polygons: parent ∩ box, then every footprint a cut line crosses goes whole to the cell holding its
 * point (added there, removed from the others), so the border steps around buildings and the cells still tile
 * the parent. Also each polygon's compactness and the existing child it best replaces.
 */
async function proposeGrids(db: Queryable, parent: ParentRow, cells: PartitionCell[]): Promise<ProposedGrid[]> {
  const crossing = cells.flatMap((cell, index) => cell.buildings.filter((b) => crossesCut(b, cell.box, parent.box)).map((b) => ({ id: b.id, index })));
  const { rows } = await db.query<Omit<ProposedGrid, 'matchedId'>>(
    rebalanceCellsSql,
    [parent.id, JSON.stringify(cells.map((cell) => cell.box)), JSON.stringify(crossing)],
  );
  const { rows: overlaps } = await db.query<CellOverlapsRow>(
    cellOverlapsSql,
    [parent.id, rows.map((row) => row.hex)],
  );
  const matched = new Map<number, number>();
  const taken = new Set<number>();
  for (const overlap of overlaps) {
    if (matched.has(overlap.index) || taken.has(overlap.id)) continue;
    matched.set(overlap.index, overlap.id);
    taken.add(overlap.id);
  }
  return rows.map((row) => ({ ...row, matchedId: matched.get(row.index) ?? null }));
}

async function currentGridOf(db: Queryable, buildingIds: number[]): Promise<Map<number, number | null>> {
  const { rows } = await db.query<BuildingGridsRow>(buildingGridsSql, [buildingIds]);
  return new Map(rows.map((row) => [row.id, row.grid_id]));
}

/**
 * Re-cuts the children of a parent into round(households / target) grids of about `targetHouseholds` each.
 * The preview gives every proposed grid's households, deviation and Polsby-Popper compactness, the largest
 * |deviation| and how many buildings would change grid. With commit the children are replaced in one
 * transaction (ids of best-overlapping children are kept), members re-assigned and history written.
 */
export async function rebalanceGrid(options: WriteOptions, id: number, expectedVersion: string | undefined, input: RebalanceInput) {
  const plan = async (db: Queryable) => {
    const parent = await loadParent(db, id);
    const buildings = await loadBuildings(db, id);
    const total = buildings.reduce((sum, b) => sum + b.households, 0);
    const count = Math.max(1, Math.round(total / input.targetHouseholds));
    const cells = partitionBuildings(buildings, count, parent.box, input.targetHouseholds * input.tolerance * 0.5);
    const proposed = await proposeGrids(db, parent, cells);
    const current = await currentGridOf(db, buildings.map((b) => b.id));
    const changing = cells.reduce((sum, cell, index) => sum + cell.buildings.filter((b) => proposed[index].matchedId === null || current.get(b.id) !== proposed[index].matchedId).length, 0);
    const deviations = cells.map((cell) => (cell.households - input.targetHouseholds) / input.targetHouseholds);
    const summary = {
      parentId: id,
      grids: count,
      households: total,
      maxAbsDeviation: Math.max(...deviations.map(Math.abs)),
      meanPolsbyPopper: proposed.reduce((sum, grid) => sum + grid.polsbyPopper, 0) / proposed.length,
      buildingsChangingGrid: changing,
      // Footprints a straight cut crossed (each then drawn whole into the grid holding its point).
      buildingsOnCutLines: cells.reduce((sum, cell) => sum + cell.buildings.filter((b) => crossesCut(b, cell.box, parent.box)).length, 0),
      proposal: featureCollection(
        proposed.map((grid, index) => ({
          type: 'Feature',
          id: grid.matchedId,
          geometry: grid.geometry,
          properties: { households: cells[index].households, buildings: cells[index].buildings.length, deviation: deviations[index], polsbyPopper: grid.polsbyPopper, parts: grid.parts, areaM2: grid.areaM2 },
        })),
      ),
    };
    return { parent, proposed, summary };
  };
  if (!input.commit) return { committed: false, ...(await plan(options.pool)).summary };
  return withWriteTransaction(options.pool, options.writer, async (client) => {
    // The parent's version stands for its set of children: a rebalance bumps it, so two planners re-cutting the
    // same community cannot overwrite each other (If-Match of the parent, 412 when stale).
    const locked = await lockGrid(client, id, expectedVersion);
    await client.query(lockChildrenSql, [id]);
    const { parent, proposed, summary } = await plan(client);
    const reason = input.reason ?? `rebalance to ${input.targetHouseholds} households`;
    const ids = await replaceChildren(client, options, parent, proposed, reason);
    const before = await gridSnapshot(client, id);
    await client.query(bumpVersionSql, [id, options.at]);
    await recordHistory(client, options.writer, options.at, { gridId: id, version: locked.version + 1, action: 'update', reason, before, after: await gridSnapshot(client, id) });
    return { committed: true, ...summary, ids };
  });
}

async function replaceChildren(client: PoolClient, options: WriteOptions, parent: ParentRow, proposed: ProposedGrid[], reason: string): Promise<number[]> {
  const { rows: children } = await client.query<ChildGeometriesRow>(childGeometriesSql, [parent.id]);
  const kept = proposed.filter((grid) => grid.matchedId !== null).map((grid) => grid.matchedId as number);
  const removed = children.filter((child) => !kept.includes(child.id));
  const holder = kept[0];
  let moved: Record<string, number> = {};
  for (const child of removed) {
    const before = await gridSnapshot(client, child.id);
    // Members wait in a kept grid until the re-assignment below places them by point-in-polygon.
    if (holder !== undefined) moved = addMoved(moved, await moveMembers(client, options.members, child.id, holder));
    await client.query(deleteGridSql, [child.id]);
    await recordHistory(client, options.writer, options.at, { gridId: child.id, version: (before?.version as number) + 1, action: 'delete', reason, before, after: null });
  }
  const ids: number[] = [];
  for (const grid of proposed) {
    if (grid.matchedId !== null) {
      const before = await gridSnapshot(client, grid.matchedId);
      await client.query(setGeometrySql, [grid.matchedId, grid.hex, options.at]);
      await recordHistory(client, options.writer, options.at, { gridId: grid.matchedId, version: (before?.version as number) + 1, action: 'update', reason, before, after: await gridSnapshot(client, grid.matchedId) });
      ids.push(grid.matchedId);
      continue;
    }
    const { rows } = await client.query<InsertRebalancedRow>(
      insertRebalancedSql,
      [parent.code, grid.index + 1, parent.name, parent.level + 1, parent.id, grid.hex, options.at],
    );
    await recordHistory(client, options.writer, options.at, { gridId: rows[0].id, version: 1, action: 'create', reason, before: null, after: await gridSnapshot(client, rows[0].id) });
    ids.push(rows[0].id);
  }
  await afterGeometryChange(client, options.members, ids, [...children.map((child) => child.hex), ...proposed.map((grid) => grid.hex)], moved);
  return ids;
}
