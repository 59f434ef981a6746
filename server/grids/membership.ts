// Grid membership: the rows of every layer the catalogue places in grids (catalogue: `grid`) follow grid edits.
// Everything runs in the caller's transaction.
import type { GridMemberTable } from '../catalogue/catalogue';
import type { GridPlacement } from '../catalogue/types';
import type { Queryable } from '../db/pool';
import { identifier } from '../db/identifiers';

export type { GridMemberTable } from '../catalogue/catalogue';

/** SQL of the grid a row belongs to, by its placement rule, from its geometry expression `geom`. */
export function placementSql(placement: GridPlacement, geom: string): string {
  if (placement === 'point-on-surface') return `grid_at(ST_PointOnSurface(${geom}))`;
  if (placement === 'longest-stretch') return `track_grid_at(${geom})`;
  return `grid_at(${geom})`;
}

/**
 * The rows of a member table whose grid an edit inside `$1` (the area) may change. A row placed by a point (its
 * own, or one on its surface) lies in its grid, so when that point is in the area its grid meets the area: the
 * rows of the grids meeting it (an array, so that the grid_id index serves it inside the OR) and the rows no grid
 * holds, by place, are all there is to look at, without an index on every row's geometry (sql/230: patrol GPS
 * fixes). A track is placed by its longest stretch, which may lie outside the area while a part is inside: by place.
 */
function mayMoveSql(placement: GridPlacement): string {
  if (placement === 'longest-stretch') return 'geom && $1::geometry';
  return '(grid_id = ANY (ARRAY(SELECT id FROM grids WHERE level = 4 AND geom && $1::geometry)) OR (grid_id IS NULL AND geom && $1::geometry))';
}

/**
 * Re-places every member inside `area` (hex EWKB; the old and new extent of the changed grids) by its rule, in
 * the caller's transaction. Returns how many rows changed grid, per layer.
 */
export async function reassignMembers(db: Queryable, members: readonly GridMemberTable[], area: string): Promise<Record<string, number>> {
  const moved: Record<string, number> = {};
  for (const { layer, table, placement } of members) {
    const name = identifier(table);
    const result = await db.query(
      `UPDATE ${name} m SET grid_id = placed.grid_id
       FROM (SELECT id, ${placementSql(placement, 'geom')} AS grid_id FROM ${name} WHERE ${mayMoveSql(placement)}) placed
       WHERE m.id = placed.id AND m.grid_id IS DISTINCT FROM placed.grid_id`,
      [area],
    );
    moved[layer] = result.rowCount ?? 0;
  }
  return moved;
}

export async function countMembers(db: Queryable, members: readonly GridMemberTable[], gridId: number): Promise<number> {
  let total = 0;
  for (const { table } of members) {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${identifier(table)} WHERE grid_id = $1`, [gridId]);
    total += rows[0].n;
  }
  return total;
}

/** Moves every member of one grid to another, as told (a delete with a target grid). Returns the rows moved, per layer. */
export async function moveMembers(db: Queryable, members: readonly GridMemberTable[], fromGridId: number, toGridId: number): Promise<Record<string, number>> {
  const moved: Record<string, number> = {};
  for (const { layer, table } of members) {
    const result = await db.query(`UPDATE ${identifier(table)} SET grid_id = $2 WHERE grid_id = $1`, [fromGridId, toGridId]);
    moved[layer] = result.rowCount ?? 0;
  }
  return moved;
}

/** Rows moved per layer, summed over several moves. */
export function addMoved(...counts: Array<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const moved of counts) for (const [layer, rows] of Object.entries(moved)) total[layer] = (total[layer] ?? 0) + rows;
  return total;
}

/** Rows whose grid is not the one their rule gives (0 after every grid edit). */
export async function misplacedMembers(db: Queryable, members: readonly GridMemberTable[]): Promise<number> {
  let total = 0;
  for (const { table, placement } of members) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${identifier(table)} WHERE grid_id IS DISTINCT FROM ${placementSql(placement, 'geom')}`,
    );
    total += rows[0].n;
  }
  return total;
}
