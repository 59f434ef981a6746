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
 * Re-places every member inside `area` (hex EWKB; the old and new extent of the changed grids) by its rule, in
 * the caller's transaction. Returns how many rows changed grid, per layer.
 */
export async function reassignMembers(db: Queryable, members: readonly GridMemberTable[], area: string): Promise<Record<string, number>> {
  const moved: Record<string, number> = {};
  for (const { layer, table, placement } of members) {
    const name = identifier(table);
    const result = await db.query(
      `UPDATE ${name} m SET grid_id = placed.grid_id
       FROM (SELECT id, ${placementSql(placement, 'geom')} AS grid_id FROM ${name} WHERE geom && $1::geometry) placed
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
