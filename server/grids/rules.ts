import type { Queryable } from '../db/pool';
import { RuleViolationError } from '../errors';
import { planarAreaM2 } from '../geo/area';

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
      `WITH input AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g)
       SELECT ST_IsValid(g) AS valid, ST_IsValidReason(g) AS reason, encode(ST_AsEWKB(ST_Multi(g)), 'hex') AS hex,
              CASE WHEN $2::boolean AND NOT ST_IsValid(g)
                   THEN encode(ST_AsEWKB(ST_Multi(ST_CollectionExtract(ST_MakeValid(g), 3))), 'hex') END AS repaired
       FROM input`,
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
  const { rows } = await db.query<{ empty: boolean }>('SELECT ST_IsEmpty($1::geometry) AS empty', [row.repaired]);
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
  const { rows } = await db.query<ParentGrid>('SELECT id, level FROM grids WHERE id = $1', [parentId]);
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
  const { rows } = await db.query<{ hex: string }>(
    `WITH input AS (SELECT $1::geometry AS g),
     neighbours AS (
       SELECT ST_Union(part) AS ref FROM (
         SELECT n.geom AS part FROM grids n, input
         WHERE n.level = $2 AND n.parent_id IS NOT DISTINCT FROM $3 AND n.id <> ALL($4::bigint[])
           AND n.geom && ST_Expand(input.g, $5) AND ST_DWithin(n.geom, input.g, $5)
         UNION ALL
         SELECT ST_Difference(ST_Buffer(input.g, 2 * $5, 'join=mitre'), p.geom) FROM grids p, input WHERE p.id = $3) parts
       WHERE NOT ST_IsEmpty(part)),
     fill AS (
       SELECT (ST_Dump(ST_Difference(ST_Difference(ST_Intersection(ST_Buffer(g, $5, 'join=mitre'), ST_Buffer(ref, $5, 'join=mitre')), ref), g))).geom AS piece
       FROM input, neighbours WHERE ref IS NOT NULL),
     slivers AS (SELECT ST_Union(piece) AS s FROM fill WHERE ${planarAreaM2('piece')} > $6)
     SELECT encode(ST_AsEWKB(CASE WHEN s IS NULL THEN g ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(g, s)), 3)) END), 'hex') AS hex
     FROM input, slivers`,
    [geometry, level, parentId, excludeIds, sliverSnapDegrees, sliverMinimumM2],
  );
  return rows[0].hex;
}

async function checkInsideParent(db: Queryable, geometry: GeometryHex, parentId: number): Promise<void> {
  const { rows } = await db.query<{ inside: boolean; outside: unknown; outside_m2: number }>(
    `SELECT ST_Covers(ST_Buffer(p.geom::geography, $3)::geometry, g) AS inside,
            ST_AsGeoJSON(outside, 9)::json AS outside,
            ${planarAreaM2('outside')} AS outside_m2
     FROM grids p, (SELECT $1::geometry AS g) input, LATERAL (SELECT ST_Difference(g, p.geom) AS outside) difference WHERE p.id = $2`,
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
  const { rows } = await db.query<{ hex: string }>(
    `SELECT encode(ST_AsEWKB(ST_Multi(ST_CollectionExtract(ST_Intersection($1::geometry, p.geom), 3))), 'hex') AS hex FROM grids p WHERE p.id = $2`,
    [geometry, parentId],
  );
  return rows[0].hex;
}

// No ST_Intersects prefilter: its relate computation threw "side location conflict" on valid Hong Kong areas
// sharing near-coincident edges, where the overlay (ST_Intersection) stays robust; non-touching siblings get 0 m².
async function subtractSiblings(db: Queryable, geometry: GeometryHex, level: number, parentId: number | null, excludeIds: number[]): Promise<GeometryHex> {
  const { rows } = await db.query<{ id: number; area_m2: number; overlap: unknown }>(
    `SELECT s.id, ${planarAreaM2('overlap')} AS area_m2, ST_AsGeoJSON(overlap, 9)::json AS overlap
     FROM grids s, (SELECT $1::geometry AS g) input, LATERAL (SELECT ST_Intersection(s.geom, g) AS overlap) intersection
     WHERE s.level = $2 AND s.parent_id IS NOT DISTINCT FROM $3 AND s.id <> ALL($4::bigint[]) AND s.geom && g`,
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
  const { rows: clipped } = await db.query<{ hex: string }>(
    `SELECT encode(ST_AsEWKB(ST_Multi(ST_CollectionExtract(
              ST_Difference($1::geometry, (SELECT ST_Union(geom) FROM grids WHERE id = ANY($2::bigint[]))), 3))), 'hex') AS hex`,
    [geometry, overlapping.map((row) => row.id)],
  );
  return clipped[0].hex;
}

/** Children must stay inside a parent whose boundary moves (same 0.5 m tolerance). */
export async function checkChildrenInside(db: Queryable, gridId: number, geometry: GeometryHex): Promise<void> {
  // Measured by overlay, not ST_Covers: on HK district J written back unchanged, ST_Covers of the buffered
  // boundary said false for a child whose difference from it was empty. The buffer is planar in degrees, as for
  // slivers (never more than 0.5 m in any direction).
  const { rows } = await db.query<{ id: number }>(
    `SELECT c.id FROM grids c, (SELECT ST_Buffer($2::geometry, $3, 'join=mitre') AS g) input,
            LATERAL (SELECT ST_Difference(c.geom, input.g) AS outside) difference
     WHERE c.parent_id = $1 AND NOT ST_IsEmpty(outside) AND ${planarAreaM2('outside')} > $4`,
    [gridId, geometry, insideParentToleranceMetres / 111_320, protrusionNoiseM2],
  );
  if (rows.length > 0) {
    throw new RuleViolationError(`child grid(s) ${rows.map((row) => row.id).join(', ')} would stick out of the new boundary`, {
      rule: 'children-inside',
      childIds: rows.map((row) => row.id),
    });
  }
}
