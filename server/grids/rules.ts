import type { Queryable } from '../db/pool';
import { RuleViolationError } from '../errors';
import { type ChildrenOutsideRow, childrenOutsideSql, type ClipToParentRow, clipToParentSql, type InsideParentRow, insideParentSql, type IsEmptyRow, isEmptySql, normalizeGeometrySql, parentGridSql, type SiblingOverlapsRow, siblingOverlapsSql, type SnapToNeighboursRow, snapToNeighboursSql, type SubtractGridsRow, subtractGridsSql } from './sql';

/** Geometry travels between statements as hex EWKB, so it is parsed and validated once. */
export type GeometryHex = string;

const insideParentToleranceMetres = 0.5;
const siblingOverlapLimitM2 = 1;
const sliverSnapMetres = 2;
const sliverMinimumM2 = 6;
// Pieces of an overlay below this are floating-point noise along shared edges (as in grids/analysis.ts).
const protrusionNoiseM2 = 0.01;
// Planar buffers work in the data's units (degrees); a metre of latitude is 1/111,320°, and a degree of
// longitude is shorter than one of latitude, so this tolerance never exceeds 2 m in any direction.
const sliverSnapDegrees = sliverSnapMetres / 111_320;

function pgMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * GeoJSON (already a Polygon/MultiPolygon in WGS84 range by the zod schema) → valid MultiPolygon 4326.
 * Invalid input is refused with ST_IsValidReason, or repaired with ST_MakeValid when asked.
 */
export async function normalizeGeometry(db: Queryable, geojson: unknown, repair: boolean): Promise<GeometryHex> {
  let row: { valid: boolean; reason: string; hex: string; repaired: string | null };
  try {
    const { rows } = await db.query(
      normalizeGeometrySql,
      [JSON.stringify(geojson), repair],
    );
    row = rows[0];
  } catch (error) {
    throw new RuleViolationError(`geometry is not valid: ${pgMessage(error)}`, { rule: 'valid-geometry' });
  }
  if (row.valid) return row.hex;
  if (!repair) {
    throw new RuleViolationError(`geometry is not valid: ${row.reason} (add ?repair=true to apply ST_MakeValid)`, {
      rule: 'valid-geometry',
      reason: row.reason,
      geometry: geojson,
    });
  }
  const { rows } = await db.query<IsEmptyRow>(isEmptySql, [row.repaired]);
  if (rows[0].empty) throw new RuleViolationError(`geometry could not be repaired: ${row.reason}`, { rule: 'valid-geometry', reason: row.reason });
  return row.repaired as string;
}

export interface ParentGrid {
  id: number;
  level: number;
}

/** level = parent level + 1; level-1 grids (districts) have no parent. */
export async function checkLevel(db: Queryable, level: number, parentId: number | null): Promise<ParentGrid | null> {
  if (level === 1) {
    if (parentId !== null) throw new RuleViolationError('a level-1 grid has no parent', { rule: 'level', level, parentId });
    return null;
  }
  if (parentId === null) throw new RuleViolationError(`a level-${level} grid needs a parent of level ${level - 1}`, { rule: 'level', level });
  const { rows } = await db.query<ParentGrid>(parentGridSql, [parentId]);
  const parent = rows[0];
  if (!parent) throw new RuleViolationError(`parent grid ${parentId} does not exist`, { rule: 'level', parentId });
  if (parent.level !== level - 1) {
    throw new RuleViolationError(`level must be parent level + 1: parent ${parentId} is level ${parent.level}, grid is level ${level}`, {
      rule: 'level',
      level,
      parentLevel: parent.level,
    });
  }
  return parent;
}

/**
 * Places a valid geometry among its parent and siblings: refuses it outside the parent (beyond 0.5 m), fills
 * slivers up to 2 m wide against siblings and the parent's edge (so shared borders stay exact), refuses an
 * overlap with a sibling of more than 1 m², and clips the tolerated remainders so the result nests and tiles.
 */
export async function placeGeometry(
  db: Queryable,
  geometry: GeometryHex,
  where: { level: number; parent: ParentGrid | null; excludeIds: number[] },
): Promise<GeometryHex> {
  const parentId = where.parent?.id ?? null;
  if (parentId !== null) await checkInsideParent(db, geometry, parentId);
  const snapped = await snapToNeighbours(db, geometry, where.level, parentId, where.excludeIds);
  const nested = parentId === null ? snapped : await clipToParent(db, snapped, parentId);
  return subtractSiblings(db, nested, where.level, parentId, where.excludeIds);
}

/**
 * Fills slivers narrower than 2 m between the geometry and its neighbours: the space within 2 m of both (mitred
 * buffers, so straight edges stay straight) that no neighbour holds joins the geometry, and the two then share
 * one edge. The neighbours are the siblings and the parent's own edge (the land just outside the parent counts
 * as a neighbour), so a child drawn up to 2 m short of its parent's boundary reaches it and the children tile
 * the parent. ST_Snap alone does not do it: it moves vertices onto the reference's vertices, not onto its edges.
 * Pieces under 6 m² are left out: they are the corner "ears" of the buffers (≤ 2 m × 2 m) beside borders that
 * already touch, not slivers, and claiming them would block the next neighbour's edit.
 */
async function snapToNeighbours(db: Queryable, geometry: GeometryHex, level: number, parentId: number | null, excludeIds: number[]): Promise<GeometryHex> {
  const { rows } = await db.query<SnapToNeighboursRow>(
    snapToNeighboursSql,
    [geometry, level, parentId, excludeIds, sliverSnapDegrees, sliverMinimumM2],
  );
  return rows[0].hex;
}

async function checkInsideParent(db: Queryable, geometry: GeometryHex, parentId: number): Promise<void> {
  const { rows } = await db.query<InsideParentRow>(
    insideParentSql,
    [geometry, parentId, insideParentToleranceMetres],
  );
  const row = rows[0];
  if (!row.inside) {
    throw new RuleViolationError(`grid sticks out of its parent ${parentId} by ${row.outside_m2.toFixed(1)} m² (tolerance 0.5 m)`, {
      rule: 'inside-parent',
      parentId,
      outsideAreaM2: row.outside_m2,
      geometry: row.outside,
    });
  }
}

async function clipToParent(db: Queryable, geometry: GeometryHex, parentId: number): Promise<GeometryHex> {
  const { rows } = await db.query<ClipToParentRow>(
    clipToParentSql,
    [geometry, parentId],
  );
  return rows[0].hex;
}

// No ST_Intersects prefilter: its relate computation threw "side location conflict" on valid Hong Kong areas
// sharing near-coincident edges, where the overlay (ST_Intersection) stays robust; non-touching siblings get 0 m².
async function subtractSiblings(db: Queryable, geometry: GeometryHex, level: number, parentId: number | null, excludeIds: number[]): Promise<GeometryHex> {
  const { rows } = await db.query<SiblingOverlapsRow>(
    siblingOverlapsSql,
    [geometry, level, parentId, excludeIds],
  );
  const overlapping = rows.filter((row) => row.area_m2 > 0);
  const refused = overlapping.filter((row) => row.area_m2 > siblingOverlapLimitM2);
  if (refused.length > 0) {
    throw new RuleViolationError(`grid overlaps sibling grid(s) ${refused.map((row) => row.id).join(', ')} by more than 1 m²`, {
      rule: 'sibling-overlap',
      siblings: refused.map((row) => ({ id: row.id, overlapAreaM2: row.area_m2 })),
      geometry: refused[0].overlap,
    });
  }
  if (overlapping.length === 0) return geometry;
  const { rows: clipped } = await db.query<SubtractGridsRow>(
    subtractGridsSql,
    [geometry, overlapping.map((row) => row.id)],
  );
  return clipped[0].hex;
}

/** Children must stay inside a parent whose boundary moves (same 0.5 m tolerance). */
export async function checkChildrenInside(db: Queryable, gridId: number, geometry: GeometryHex): Promise<void> {
  // Measured by overlay, not ST_Covers: on HK district J written back unchanged, ST_Covers of the buffered
  // boundary said false for a child whose difference from it was empty. The buffer is planar in degrees, as for
  // slivers (never more than 0.5 m in any direction).
  const { rows } = await db.query<ChildrenOutsideRow>(
    childrenOutsideSql,
    [gridId, geometry, insideParentToleranceMetres / 111_320, protrusionNoiseM2],
  );
  if (rows.length > 0) {
    throw new RuleViolationError(`child grid(s) ${rows.map((row) => row.id).join(', ')} would stick out of the new boundary`, {
      rule: 'children-inside',
      childIds: rows.map((row) => row.id),
    });
  }
}
