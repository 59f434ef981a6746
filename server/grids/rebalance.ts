import { withWriteTransaction } from '../db/write-context';
import type { PoolClient, Queryable } from '../db/pool';
import { NotFoundError, RuleViolationError } from '../errors';
import { featureCollection } from '../geo/schemas';
import { gridSnapshot, recordHistory } from './history';
import { addMoved, moveMembers } from './membership';
import { type Box, type PartitionCell, partitionBuildings, type WeightedBuilding } from './partition';
import type { RebalanceInput } from './schemas';
import { type WriteOptions, afterGeometryChange, lockGrid } from './service';

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
    `SELECT id, code, name, level, ARRAY[ST_XMin(geom) - 1e-6, ST_YMin(geom) - 1e-6, ST_XMax(geom) + 1e-6, ST_YMax(geom) + 1e-6] AS box,
            (SELECT count(*)::int FROM grids c JOIN grids gc ON gc.parent_id = c.id WHERE c.parent_id = p.id) AS grandchildren
     FROM grids p WHERE id = $1`,
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
    `SELECT b.id, ST_X(pt) AS x, ST_Y(pt) AS y, ST_XMin(b.geom) AS "minX", ST_YMin(b.geom) AS "minY",
            ST_XMax(b.geom) AS "maxX", ST_YMax(b.geom) AS "maxY", b.households
     FROM grids p JOIN buildings b ON b.geom && p.geom, LATERAL ST_PointOnSurface(b.geom) AS pt
     WHERE p.id = $1 AND ST_Intersects(p.geom, pt)`,
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
    `WITH box_cell AS (
       SELECT ord::int - 1 AS index, ST_Intersection(p.geom,
                ST_MakeEnvelope((box->>0)::float8, (box->>1)::float8, (box->>2)::float8, (box->>3)::float8, 4326)) AS g
       FROM grids p, json_array_elements($2::json) WITH ORDINALITY AS boxes(box, ord) WHERE p.id = $1),
     crossing AS (
       SELECT (c->>'index')::int AS index, ST_Intersection(b.geom, p.geom) AS geom
       FROM json_array_elements($3::json) AS c JOIN buildings b ON b.id = (c->>'id')::bigint, grids p WHERE p.id = $1),
     every_crossing AS (SELECT coalesce(ST_Union(geom), 'SRID=4326;POLYGON EMPTY'::geometry) AS u FROM crossing),
     own AS (SELECT index, ST_Union(geom) AS u FROM crossing GROUP BY index),
     cell AS (
       SELECT box_cell.index, ST_Multi(ST_CollectionExtract(
                ST_Union(ST_Difference(box_cell.g, every_crossing.u), coalesce(own.u, 'SRID=4326;POLYGON EMPTY'::geometry)), 3)) AS g
       FROM box_cell CROSS JOIN every_crossing LEFT JOIN own ON own.index = box_cell.index)
     SELECT index, encode(ST_AsEWKB(g), 'hex') AS hex, ST_AsGeoJSON(g, 9)::json AS geometry, ST_Area(g::geography) AS "areaM2",
            ST_NumGeometries(g) AS parts,
            CASE WHEN ST_Perimeter(g::geography) > 0 THEN 4 * pi() * ST_Area(g::geography) / ST_Perimeter(g::geography) ^ 2 ELSE 0 END AS "polsbyPopper"
     FROM cell ORDER BY index`,
    [parent.id, JSON.stringify(cells.map((cell) => cell.box)), JSON.stringify(crossing)],
  );
  const { rows: overlaps } = await db.query<{ index: number; id: number; area: number }>(
    `SELECT cell.index, c.id, ST_Area(ST_Intersection(c.geom, cell.g)) AS area
     FROM grids c, (SELECT ord::int - 1 AS index, g::geometry AS g FROM unnest($2::text[]) WITH ORDINALITY AS cells(g, ord)) cell
     WHERE c.parent_id = $1 AND c.geom && cell.g AND ST_Intersects(c.geom, cell.g)
     ORDER BY area DESC`,
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
  const { rows } = await db.query<{ id: number; grid_id: number | null }>('SELECT id, grid_id FROM buildings WHERE id = ANY($1::bigint[])', [buildingIds]);
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
    await client.query('SELECT id FROM grids WHERE parent_id = $1 ORDER BY id FOR UPDATE', [id]);
    const { parent, proposed, summary } = await plan(client);
    const reason = input.reason ?? `rebalance to ${input.targetHouseholds} households`;
    const ids = await replaceChildren(client, options, parent, proposed, reason);
    const before = await gridSnapshot(client, id);
    await client.query('UPDATE grids SET version = version + 1, updated_at = $2 WHERE id = $1', [id, options.at]);
    await recordHistory(client, options.writer, options.at, { gridId: id, version: locked.version + 1, action: 'update', reason, before, after: await gridSnapshot(client, id) });
    return { committed: true, ...summary, ids };
  });
}

async function replaceChildren(client: PoolClient, options: WriteOptions, parent: ParentRow, proposed: ProposedGrid[], reason: string): Promise<number[]> {
  const { rows: children } = await client.query<{ id: number; hex: string }>(`SELECT id, encode(ST_AsEWKB(geom), 'hex') AS hex FROM grids WHERE parent_id = $1 ORDER BY id`, [parent.id]);
  const kept = proposed.filter((grid) => grid.matchedId !== null).map((grid) => grid.matchedId as number);
  const removed = children.filter((child) => !kept.includes(child.id));
  const holder = kept[0];
  let moved: Record<string, number> = {};
  for (const child of removed) {
    const before = await gridSnapshot(client, child.id);
    // Members wait in a kept grid until the re-assignment below places them by point-in-polygon.
    if (holder !== undefined) moved = addMoved(moved, await moveMembers(client, options.members, child.id, holder));
    await client.query('DELETE FROM grids WHERE id = $1', [child.id]);
    await recordHistory(client, options.writer, options.at, { gridId: child.id, version: (before?.version as number) + 1, action: 'delete', reason, before, after: null });
  }
  const ids: number[] = [];
  for (const grid of proposed) {
    if (grid.matchedId !== null) {
      const before = await gridSnapshot(client, grid.matchedId);
      await client.query('UPDATE grids SET geom = $2::geometry, version = version + 1, updated_at = $3 WHERE id = $1', [grid.matchedId, grid.hex, options.at]);
      await recordHistory(client, options.writer, options.at, { gridId: grid.matchedId, version: (before?.version as number) + 1, action: 'update', reason, before, after: await gridSnapshot(client, grid.matchedId) });
      ids.push(grid.matchedId);
      continue;
    }
    const { rows } = await client.query<{ id: number }>(
      `INSERT INTO grids (code, name, level, parent_id, geom, created_at, updated_at)
       VALUES ($1 || '-R' || $2, $3 || ' 新网格 ' || $2, $4, $5, $6::geometry, $7, $7) RETURNING id`,
      [parent.code, grid.index + 1, parent.name, parent.level + 1, parent.id, grid.hex, options.at],
    );
    await recordHistory(client, options.writer, options.at, { gridId: rows[0].id, version: 1, action: 'create', reason, before: null, after: await gridSnapshot(client, rows[0].id) });
    ids.push(rows[0].id);
  }
  await afterGeometryChange(client, options.members, ids, [...children.map((child) => child.hex), ...proposed.map((grid) => grid.hex)], moved);
  return ids;
}
