import type { Queryable } from '../db/pool';

// Table names and expressions are constants of this module, never user input. Each member's grid is a pure
// function of its geometry: buildings by a point on their footprint (ST_PointOnSurface always lies inside,
// unlike the centroid of an L-shaped block), GPS fixes and other points by grid_at(), patrol tracks by the grid
// holding the longest stretch of them (track_grid_at, sql/050).
const memberPlacement = [
  { table: 'buildings', gridOf: 'grid_at(ST_PointOnSurface(geom))' },
  { table: 'hazards', gridOf: 'grid_at(geom)' },
  { table: 'key_places', gridOf: 'grid_at(geom)' },
  { table: 'incidents', gridOf: 'grid_at(geom)' },
  { table: 'patrol_points', gridOf: 'grid_at(geom)' },
  { table: 'patrol_tracks', gridOf: 'track_grid_at(geom)' },
] as const;

/** Tables whose rows point at a grid and must move before it can be deleted. */
export const memberTables = memberPlacement.map(({ table }) => table);

/**
 * Re-places every member inside `area` (hex EWKB; the old and new extent of the changed grids) by its rule
 * above, in the caller's transaction. Returns how many rows changed grid, per table.
 */
export async function reassignMembers(db: Queryable, area: string): Promise<Record<string, number>> {
  const moved: Record<string, number> = {};
  for (const { table, gridOf } of memberPlacement) {
    const result = await db.query(
      `UPDATE ${table} m SET grid_id = placed.grid_id
       FROM (SELECT id, ${gridOf} AS grid_id FROM ${table} WHERE geom && $1::geometry) placed
       WHERE m.id = placed.id AND m.grid_id IS DISTINCT FROM placed.grid_id`,
      [area],
    );
    moved[table] = result.rowCount ?? 0;
  }
  return moved;
}

export async function countMembers(db: Queryable, gridId: number): Promise<number> {
  let total = 0;
  for (const table of memberTables) {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE grid_id = $1`, [gridId]);
    total += rows[0].n;
  }
  return total;
}

/** Moves every member of one grid to another, as told (a delete with a target grid). */
export async function moveMembers(db: Queryable, fromGridId: number, toGridId: number): Promise<void> {
  for (const table of memberTables) {
    await db.query(`UPDATE ${table} SET grid_id = $2 WHERE grid_id = $1`, [fromGridId, toGridId]);
  }
}
