// The grids domain's SQL: reading grids, their history and coverage, the geometry rules of every write, split,
// merge, rebalance, bulk import and dry runs. Every value is a bound parameter; geometry travels as hex EWKB.
// Other domains' statements read grids only through the fragments below (a grid's worker, outline, facts), never
// the table itself, so the grids table can change in one place.
import { planarAreaM2 } from '../geo/area';
import { extentSql } from '../geo/extent';

/** The first worker of the grid whose id is the SQL expression `gridId` (NULL when there is no such grid). */
export function gridFirstWorker(gridId: string): string {
  return `(SELECT g.workers[1] FROM grids g WHERE g.id = ${gridId})`;
}

/** The outline (EPSG:4326) of the grid whose id is the SQL expression `gridId` (NULL when there is no such grid). */
export function gridOutline(gridId: string): string {
  return `(SELECT g.geom FROM grids g WHERE g.id = ${gridId})`;
}

/**
 * What other domains may read of every grid, as a relation to join or select from: `JOIN ${gridFacts} g ON g.id = …`.
 * The planner folds it into the statement, so it costs what reading the table would.
 */
export const gridFacts = '(SELECT id, code, name, level, parent_id, workers[1] AS first_worker, geom FROM grids)';

/**
 * Decimals of served grid geometry: 9 ≈ 0.1 mm, as coverage and history serve it. Snap-rounded to them before
 * writing, so the served geometry is valid as served (plain rounding can collapse a sliver into a ring of too few
 * points) and a client may PATCH it back unchanged: at 7 decimals (≈ 1 cm) a vertex moved off a 1 km border
 * made a sibling overlap of over 1 m², which PATCH refuses.
 */
export const servedDecimals = 9;

/** A grid as a GeoJSON feature, its geometry at servedDecimals. */
const featureSql = `json_build_object(
  'type', 'Feature', 'id', id,
  'geometry', ST_AsGeoJSON(ST_ReducePrecision(geom, 1e-${servedDecimals}), ${servedDecimals})::json,
  'properties', json_build_object('code', code, 'name', name, 'level', level, 'parentId', parent_id,
                                  'leader', leader, 'workers', workers, 'householdsTarget', households_target,
                                  'version', version, 'areaM2', round(ST_Area(geom::geography)::numeric, 1)))`;

/**
 * The figures of a piece of a split or merge (hex EWKB, GeoJSON, m², buildings, households): what a proposed
 * polygon would hold, buildings by the point on their footprint, as grid_at() places them.
 */
const pieceFiguresSql = (polygon: string) => `
  encode(ST_AsEWKB(ST_Multi(${polygon})), 'hex') AS hex, ST_AsGeoJSON(${polygon}, 9)::json AS geometry,
  ST_Area(${polygon}::geography) AS "areaM2",
  (SELECT count(*)::int FROM buildings b WHERE b.geom && ${polygon} AND ST_Intersects(${polygon}, ST_PointOnSurface(b.geom))) AS buildings,
  (SELECT coalesce(sum(b.households), 0)::int FROM buildings b
     WHERE b.geom && ${polygon} AND ST_Intersects(${polygon}, ST_PointOnSurface(b.geom))) AS households`;

/** A geometry as served: through GeoJSON at $2 decimals. */
const served = (geometry: string) => `ST_GeomFromGeoJSON(ST_AsGeoJSON(${geometry}, $2::int))`;

// service.ts

export interface ListGridsRow {
  id: number;
  feature: unknown;
}

/** One page of grids as features in id order: $1 level, $2 parent, $3–$6 bbox, $7 cursor, $8 limit (all optional but the last two). */
export const listGridsSql = `SELECT id, ${featureSql} AS feature
     FROM grids
     WHERE ($1::int IS NULL OR level = $1)
       AND ($2::bigint IS NULL OR parent_id = $2)
       AND ($3::float8 IS NULL OR geom && ST_MakeEnvelope($3, $4, $5, $6, 4326))
       AND id > $7
     ORDER BY id
     LIMIT $8`;

export interface GridFeatureRow {
  feature: unknown;
  version: number;
}

/** $1 a grid: its feature and version. */
export const gridFeatureSql = `SELECT ${featureSql} AS feature, version FROM grids WHERE id = $1`;

export interface GridWithChainRow extends GridFeatureRow {
  parents: Array<{ id: number; code: string; name: string; level: number }>;
  child_count: number;
}

/**
 * $1 a grid: its feature, version, ancestors (id, code, name, level; nearest first) and how many children it has,
 * in one statement: one snapshot, and one round trip, which under load is one wait for a pool connection instead of three.
 * A named statement (prepared once per connection): its plan does not depend on the id, and planning it took 0.3 ms
 * of the 0.8 ms it cost.
 */
export const gridWithChainQuery = { name: 'grid_with_chain', text: `SELECT ${featureSql} AS feature, version,
       (WITH RECURSIVE chain AS (
          SELECT grids.parent_id AS id, 1 AS depth
          UNION ALL
          SELECT g.parent_id, chain.depth + 1 FROM grids g JOIN chain ON g.id = chain.id WHERE g.parent_id IS NOT NULL)
        SELECT coalesce(json_agg(json_build_object('id', a.id, 'code', a.code, 'name', a.name, 'level', a.level) ORDER BY chain.depth), '[]')
        FROM chain JOIN grids a ON a.id = chain.id) AS parents,
       (SELECT count(*)::int FROM grids c WHERE c.parent_id = grids.id) AS child_count
     FROM grids WHERE id = $1` };

export interface ChildCountRow {
  n: number;
}

/** $1 a grid: how many children it has. */
export const childCountSql = 'SELECT count(*)::int AS n FROM grids WHERE parent_id = $1';

export interface ChildFeaturesRow {
  feature: unknown;
}

/** $1 a grid: its children as features, in id order. */
export const childFeaturesSql = `SELECT ${featureSql} AS feature FROM grids WHERE parent_id = $1 ORDER BY id`;

/** $1 a grid: locked for the transaction, with its level, parent and version (GridLock). */
export const lockGridSql = 'SELECT id, level, parent_id AS "parentId", version FROM grids WHERE id = $1 FOR UPDATE';

export interface ExtentOfRow {
  area: string;
  bbox: [number, number, number, number];
}

/** $1 hex EWKB geometries: their envelope (hex EWKB) and its bbox. */
export const extentOfSql = `WITH e AS (SELECT ST_Envelope(ST_Collect(g::geometry)) AS g FROM unnest($1::text[]) AS g)
     SELECT encode(ST_AsEWKB(g), 'hex') AS area, ARRAY[ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)] AS bbox FROM e`;

export interface GeometryHexRow {
  hex: string;
}

/** $1 a grid: its geometry as hex EWKB. */
export const geometryHexSql = `SELECT encode(ST_AsEWKB(geom), 'hex') AS hex FROM grids WHERE id = $1`;

export interface InsertGridRow {
  id: number;
}

/** $1–$9 code, name, level, parent, geometry (hex EWKB), leader, workers, households target, at: the new id. */
export const insertGridSql = `INSERT INTO grids (code, name, level, parent_id, geom, leader, workers, households_target, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::geometry, $6, $7, $8, $9, $9) RETURNING id`;

/** $1 grid, $2 code, $3 name, $4/$5 leader given/value, $6 workers, $7/$8 households target given/value, $9 geometry, $10 at, $11 parent (null: unchanged, but for the flagged ones). */
export const updateGridSql = `UPDATE grids SET code = coalesce($2, code), name = coalesce($3, name),
         leader = CASE WHEN $4 THEN $5 ELSE leader END, workers = coalesce($6, workers),
         households_target = CASE WHEN $7 THEN $8 ELSE households_target END,
         geom = coalesce($9::geometry, geom), version = version + 1, updated_at = $10, parent_id = $11
       WHERE id = $1`;

// history.ts

export interface GridSnapshotRow {
  snapshot: Record<string, unknown>;
}

/** $1 a grid: every attribute and its geometry at 1e-9 degree, as history keeps it. */
export const gridSnapshotSql = `SELECT json_build_object('code', code, 'name', name, 'level', level, 'parentId', parent_id, 'leader', leader,
              'workers', workers, 'householdsTarget', households_target, 'version', version,
              'geometry', ST_AsGeoJSON(geom, 9)::json) AS snapshot
     FROM grids WHERE id = $1`;

/** $1–$9 grid, version, action, reason, token, role, at, before, after. */
export const insertHistorySql = `INSERT INTO grid_history (grid_id, version, action, reason, token_id, role, at, before, after)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

/** $1 a grid: its changes, oldest first. */
export const listHistorySql = `SELECT id, version, action, reason, token_id AS "tokenId", role, at, before, after
     FROM grid_history WHERE grid_id = $1 ORDER BY id`;

export interface SnapshotAtVersionRow {
  snapshot: Record<string, unknown>;
}

/** $1 a grid, $2 a version: the snapshot history holds of that version. */
export const snapshotAtVersionSql = `SELECT CASE WHEN (after ->> 'version')::int = $2 THEN after ELSE before END AS snapshot
     FROM grid_history
     WHERE grid_id = $1 AND ((after ->> 'version')::int = $2 OR (before ->> 'version')::int = $2)
     ORDER BY id DESC LIMIT 1`;

// analysis.ts

export interface CoverageRow {
  kind: string;
  feature: { properties: { areaM2: number } };
}

/** $1 a grid, $2 the noise area (m²): the gaps, overlaps and protrusions of its children, as features. */
export const coverageSql = `WITH parent AS (SELECT geom FROM grids WHERE id = $1),
     children AS (SELECT id, geom FROM grids WHERE parent_id = $1),
     pieces AS (
       SELECT 'gap' AS kind, NULL::bigint[] AS ids, (ST_Dump(ST_Difference(parent.geom,
                coalesce((SELECT ST_Union(geom) FROM children), 'SRID=4326;POLYGON EMPTY'::geometry)))).geom AS g
       FROM parent
       UNION ALL
       SELECT 'overlap', ARRAY[a.id, b.id], (ST_Dump(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3))).geom
       FROM children a JOIN children b ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
       UNION ALL
       SELECT 'outside', ARRAY[c.id], (ST_Dump(ST_Difference(c.geom, parent.geom))).geom FROM children c, parent)
     SELECT kind, json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(g, 9)::json,
              'properties', json_build_object('kind', kind, 'gridIds', ids, 'areaM2', ${planarAreaM2('g')})) AS feature
     FROM pieces WHERE ${planarAreaM2('g')} > $2`;

/** $1 a grid: figures over the level-4 grids under (or equal to) it; people counted, never listed. */
export const gridStatsSql = `WITH RECURSIVE tree AS (
       SELECT id, level FROM grids WHERE id = $1
       UNION ALL SELECT g.id, g.level FROM grids g JOIN tree ON g.parent_id = tree.id),
     cells AS (SELECT id FROM tree WHERE level = 4),
     member_buildings AS (SELECT * FROM buildings WHERE grid_id IN (SELECT id FROM cells))
     SELECT (SELECT count(*)::int FROM member_buildings) AS buildings,
            (SELECT coalesce(sum(households), 0)::int FROM member_buildings) AS households,
            (SELECT coalesce(sum(rental_units), 0)::int FROM member_buildings) AS "rentalUnits",
            (SELECT coalesce(json_object_agg(category, n), '{}') FROM (
               SELECT p.category, count(*)::int AS n FROM people p JOIN member_buildings b ON b.id = p.building_id GROUP BY 1) x) AS "peopleByCategory",
            (SELECT coalesce(json_object_agg(risk_level, n), '{}') FROM (
               SELECT risk_level, count(*)::int AS n FROM hazards WHERE grid_id IN (SELECT id FROM cells) GROUP BY 1) x) AS "hazardsByRiskLevel",
            (SELECT count(*)::int FROM key_places WHERE grid_id IN (SELECT id FROM cells)) AS "keyPlaces",
            (SELECT count(*)::int FROM cells) AS "level4Grids"`;

// rules.ts

/** $1 GeoJSON, $2 repair: whether it is valid (and why not), as a MultiPolygon in hex EWKB, and repaired when asked. */
export const normalizeGeometrySql = `WITH input AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g)
       SELECT ST_IsValid(g) AS valid, ST_IsValidReason(g) AS reason, encode(ST_AsEWKB(ST_Multi(g)), 'hex') AS hex,
              CASE WHEN $2::boolean AND NOT ST_IsValid(g)
                   THEN encode(ST_AsEWKB(ST_Multi(ST_CollectionExtract(ST_MakeValid(g), 3))), 'hex') END AS repaired
       FROM input`;

export interface IsEmptyRow {
  empty: boolean;
}

/** $1 a geometry: whether it is empty. */
export const isEmptySql = 'SELECT ST_IsEmpty($1::geometry) AS empty';

/** $1 a grid: its id and level. */
export const parentGridSql = 'SELECT id, level FROM grids WHERE id = $1';

export interface SnapToNeighboursRow {
  hex: string;
}

/** $1 geometry, $2 level, $3 parent, $4 grids left out, $5 snap distance (degrees), $6 smallest sliver (m²): the geometry with the slivers between it and its neighbours filled. */
export const snapToNeighboursSql = `WITH input AS (SELECT $1::geometry AS g),
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
     FROM input, slivers`;

export interface InsideParentRow {
  inside: boolean;
  outside: unknown;
  outside_m2: number;
}

/** $1 geometry, $2 parent, $3 tolerance (m): whether the parent covers it, and what sticks out (GeoJSON, m²). */
export const insideParentSql = `SELECT ST_Covers(ST_Buffer(p.geom::geography, $3)::geometry, g) AS inside,
            ST_AsGeoJSON(outside, 9)::json AS outside,
            ${planarAreaM2('outside')} AS outside_m2
     FROM grids p, (SELECT $1::geometry AS g) input, LATERAL (SELECT ST_Difference(g, p.geom) AS outside) difference WHERE p.id = $2`;

export interface ClipToParentRow {
  hex: string;
}

/** $1 geometry, $2 parent: the geometry clipped to the parent. */
export const clipToParentSql = `SELECT encode(ST_AsEWKB(ST_Multi(ST_CollectionExtract(ST_Intersection($1::geometry, p.geom), 3))), 'hex') AS hex FROM grids p WHERE p.id = $2`;

export interface SiblingOverlapsRow {
  id: number;
  area_m2: number;
  overlap: unknown;
}

/** $1 geometry, $2 level, $3 parent, $4 grids left out: the overlap with each sibling (m², GeoJSON). */
export const siblingOverlapsSql = `SELECT s.id, ${planarAreaM2('overlap')} AS area_m2, ST_AsGeoJSON(overlap, 9)::json AS overlap
     FROM grids s, (SELECT $1::geometry AS g) input, LATERAL (SELECT ST_Intersection(s.geom, g) AS overlap) intersection
     WHERE s.level = $2 AND s.parent_id IS NOT DISTINCT FROM $3 AND s.id <> ALL($4::bigint[]) AND s.geom && g`;

export interface SubtractGridsRow {
  hex: string;
}

/** $1 geometry, $2 grids: the geometry without them. */
export const subtractGridsSql = `SELECT encode(ST_AsEWKB(ST_Multi(ST_CollectionExtract(
              ST_Difference($1::geometry, (SELECT ST_Union(geom) FROM grids WHERE id = ANY($2::bigint[]))), 3))), 'hex') AS hex`;

export interface ChildrenOutsideRow {
  id: number;
}

/** $1 grid, $2 its new geometry, $3 tolerance (degrees), $4 noise area (m²): the children that would stick out. */
export const childrenOutsideSql = `SELECT c.id FROM grids c, (SELECT ST_Buffer($2::geometry, $3, 'join=mitre') AS g) input,
            LATERAL (SELECT ST_Difference(c.geom, input.g) AS outside) difference
     WHERE c.parent_id = $1 AND NOT ST_IsEmpty(outside) AND ${planarAreaM2('outside')} > $4`;

// split-merge.ts

export interface SplitCandidateRow {
  parts: number;
  children: number;
}

/** $1 a grid: its parts and how many children it has. */
export const splitCandidateSql = `SELECT ST_NumGeometries(geom) AS parts, (SELECT count(*)::int FROM grids c WHERE c.parent_id = g.id) AS children FROM grids g WHERE id = $1`;

/** $1 a grid, $2 the cutting line (GeoJSON): the pieces, largest first, with their figures. */
export const splitPiecesSql = `WITH parts AS (
       SELECT (ST_Dump(ST_Split(g.geom, ST_SetSRID(ST_GeomFromGeoJSON($2), 4326)))).geom AS p FROM grids g WHERE g.id = $1)
     SELECT ${pieceFiguresSql('p')} FROM parts ORDER BY ST_Area(p) DESC`;

/** $1 grid, $2 geometry, $3 at: the new geometry, one version on. */
export const setGeometrySql = 'UPDATE grids SET geom = $2::geometry, version = version + 1, updated_at = $3 WHERE id = $1';

export interface InsertPieceRow {
  id: number;
}

/** $1 the grid split, $2 code, $3 name (null: the grid's with -2 / (2)), $4 geometry, $5 at: the second piece as a sibling with the grid's attributes. */
export const insertPieceSql = `INSERT INTO grids (code, name, level, parent_id, geom, leader, workers, households_target, created_at, updated_at)
         SELECT coalesce($2, code || '-2'), coalesce($3, name || ' (2)'), level, parent_id, $4::geometry, leader, workers, households_target, $5, $5
         FROM grids WHERE id = $1 RETURNING id`;

export interface GeoJsonHexRow {
  hex: string;
}

/** $1 GeoJSON: as hex EWKB in EPSG:4326. */
export const geoJsonHexSql = `SELECT encode(ST_AsEWKB(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326)), 'hex') AS hex`;

/** $1 grids: their id, level, parent and version, in id order; locked when `lock`. */
export function mergeCandidatesSql(lock: boolean): string {
  return `SELECT id, level, parent_id AS "parentId", version FROM grids WHERE id = ANY($1::bigint[]) ORDER BY id ${lock ? 'FOR UPDATE' : ''}`;
}

/** $1 grids: the parts of their union, with its figures. */
export const mergedUnionSql = `WITH merged AS (SELECT ST_Union(geom) AS u FROM grids WHERE id = ANY($1::bigint[]))
     SELECT ST_NumGeometries(u) AS parts, ${pieceFiguresSql('u')} FROM merged`;

/** $1 a grid, $2 another: the children of the first move to the second. */
export const adoptChildrenSql = 'UPDATE grids SET parent_id = $2, version = version + 1 WHERE parent_id = $1';

export interface DeleteGridReturningRow {
  hex: string;
}

/** $1 a grid: deleted; its geometry as hex EWKB. */
export const deleteGridReturningSql = `DELETE FROM grids WHERE id = $1 RETURNING encode(ST_AsEWKB(geom), 'hex') AS hex`;

/** $1 a grid: deleted. */
export const deleteGridSql = 'DELETE FROM grids WHERE id = $1';

// rebalance.ts

/** $1 a grid: its bounding box (padded by 1e-6°) and how many grandchildren it has. */
export const rebalanceGridSql = `SELECT id, code, name, level, ARRAY[ST_XMin(geom) - 1e-6, ST_YMin(geom) - 1e-6, ST_XMax(geom) + 1e-6, ST_YMax(geom) + 1e-6] AS box,
            (SELECT count(*)::int FROM grids c JOIN grids gc ON gc.parent_id = c.id WHERE c.parent_id = p.id) AS grandchildren
     FROM grids p WHERE id = $1`;

/** $1 a grid: the buildings whose point on the footprint lies in it, with that point, their box and households. */
export const rebalanceBuildingsSql = `SELECT b.id, ST_X(pt) AS x, ST_Y(pt) AS y, ST_XMin(b.geom) AS "minX", ST_YMin(b.geom) AS "minY",
            ST_XMax(b.geom) AS "maxX", ST_YMax(b.geom) AS "maxY", b.households
     FROM grids p JOIN buildings b ON b.geom && p.geom, LATERAL ST_PointOnSurface(b.geom) AS pt
     WHERE p.id = $1 AND ST_Intersects(p.geom, pt)`;

/**
 * $1 a grid, $2 the partition boxes (JSON [w, s, e, n] each), $3 the buildings crossing box borders (JSON {id, index}):
 * each cell as the grid within its box, the crossing buildings given whole to their cell; with area, parts and
 * Polsby-Popper compactness.
 */
export const rebalanceCellsSql = `WITH box_cell AS (
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
     FROM cell ORDER BY index`;

export interface CellOverlapsRow {
  index: number;
  id: number;
  area: number;
}

/** $1 a grid, $2 the cells (hex EWKB): the area each current child shares with each cell, largest first. */
export const cellOverlapsSql = `SELECT cell.index, c.id, ST_Area(ST_Intersection(c.geom, cell.g)) AS area
     FROM grids c, (SELECT ord::int - 1 AS index, g::geometry AS g FROM unnest($2::text[]) WITH ORDINALITY AS cells(g, ord)) cell
     WHERE c.parent_id = $1 AND c.geom && cell.g AND ST_Intersects(c.geom, cell.g)
     ORDER BY area DESC`;

export interface BuildingGridsRow {
  id: number;
  grid_id: number | null;
}

/** $1 buildings: their grids. */
export const buildingGridsSql = 'SELECT id, grid_id FROM buildings WHERE id = ANY($1::bigint[])';

/** $1 a grid: its children locked, in id order. */
export const lockChildrenSql = 'SELECT id FROM grids WHERE parent_id = $1 ORDER BY id FOR UPDATE';

/** $1 grid, $2 at: one version on. */
export const bumpVersionSql = 'UPDATE grids SET version = version + 1, updated_at = $2 WHERE id = $1';

export interface ChildGeometriesRow {
  id: number;
  hex: string;
}

/** $1 a grid: its children as hex EWKB, in id order. */
export const childGeometriesSql = `SELECT id, encode(ST_AsEWKB(geom), 'hex') AS hex FROM grids WHERE parent_id = $1 ORDER BY id`;

export interface InsertRebalancedRow {
  id: number;
}

/** $1 parent code, $2 cell number, $3 parent name, $4 level, $5 parent, $6 geometry, $7 at: a new child of a rebalance. */
export const insertRebalancedSql = `INSERT INTO grids (code, name, level, parent_id, geom, created_at, updated_at)
       VALUES ($1 || '-R' || $2, $3 || ' 新网格 ' || $2, $4, $5, $6::geometry, $7, $7) RETURNING id`;

// import.ts

/** $1 the features (GeoJSON array), $2 the code property, $3 the name property: the staging table, dropped at commit. */
export const createImportStagingSql = `CREATE TEMP TABLE grid_import ON COMMIT DROP AS
       SELECT ord::int AS ord, code, name, g, ST_Area(g::geography) AS source_area_m2
       FROM (SELECT ord, coalesce(f -> 'properties' ->> $2, 'import-' || ord) AS code,
                    coalesce(f -> 'properties' ->> $3, f -> 'properties' ->> $2, 'import-' || ord) AS name,
                    ST_SetSRID(ST_GeomFromGeoJSON(f ->> 'geometry'), 4326) AS g
             FROM json_array_elements($1::json) WITH ORDINALITY AS features(f, ord)) features`;

export interface EnvelopeOfGridsRow {
  hex: string;
}

/** $1 grids: the envelope of their geometries as hex EWKB. */
export const envelopeOfGridsSql = `SELECT encode(ST_AsEWKB(ST_Envelope(ST_Collect(geom))), 'hex') AS hex FROM grids WHERE id = ANY($1::bigint[])`;

/** $1 route, $2 summary: the one audit row of an import. */
export const importAuditSql = `INSERT INTO audit_log (route, entity, action, after) VALUES ($1, 'grids', 'insert', $2)`;

export interface ReplacedGridsRow {
  id: number;
  holder: number;
  children: number;
}

/** $1 the new grids, $2 their parents: the old children of those parents, the new grid of the same parent that takes their members, and how many children they have. */
export const replacedGridsSql = `SELECT old.id, (SELECT min(n.id) FROM grids n WHERE n.id = ANY($1::bigint[]) AND n.parent_id = old.parent_id) AS holder,
            (SELECT count(*)::int FROM grids c WHERE c.parent_id = old.id) AS children
     FROM grids old WHERE old.parent_id = ANY($2::bigint[]) AND old.id <> ALL($1::bigint[]) ORDER BY old.id`;

export interface StorableProblemsRow {
  code: string;
  problem: string;
}

/** The staged polygons that cannot be stored, and why (geo/extent.ts); the parameters of extentValues. */
export function storableProblemsSql(level: number): string {
  return `WITH city AS MATERIALIZED (SELECT ${extentSql(1, level === 1 ? 'top-level grid' : 'city')} AS extent)
     SELECT code, problem FROM (SELECT ord, code, geometry_problem(g, city.extent) AS problem FROM grid_import, city) checked
      WHERE problem IS NOT NULL ORDER BY ord`;
}

export interface InvalidStagedRow {
  ord: number;
  code: string;
  reason: string;
}

/** The staged polygons that are not valid, and why. */
export const invalidStagedSql = 'SELECT ord, code, ST_IsValidReason(g) AS reason FROM grid_import WHERE NOT ST_IsValid(g)';

/** Repairs the staged polygons that are not valid. */
export const repairStagedSql = 'UPDATE grid_import SET g = ST_CollectionExtract(ST_MakeValid(g), 3) WHERE NOT ST_IsValid(g)';

export interface OrphanStagedRow {
  code: string;
}

/** $1 level, $2 parent level: the staged polygons no parent holds. */
export const orphanStagedSql = `SELECT code FROM grid_import i WHERE $1::int > 1 AND NOT EXISTS (SELECT 1 FROM grids p WHERE p.level = $2::int AND p.geom && i.g AND ST_Intersects(p.geom, i.g))`;

export interface InsertImportedGridsRow {
  id: number;
}

/** $1 level, $2 parent level: the staged polygons as grids, each under the parent it overlaps most. */
export const insertImportedGridsSql = `INSERT INTO grids (code, name, level, parent_id, geom)
     SELECT code, name, $1::int,
            CASE WHEN $1::int > 1 THEN (SELECT p.id FROM grids p WHERE p.level = $2::int AND p.geom && i.g
                                   ORDER BY ST_Area(ST_Intersection(p.geom, i.g)) DESC LIMIT 1) END,
            ST_Multi(i.g)
     FROM grid_import i ORDER BY ord RETURNING id`;

export interface ParentsOfRow {
  id: number;
}

/** $1 grids: their parents. */
export const parentsOfSql = 'SELECT DISTINCT parent_id AS id FROM grids WHERE id = ANY($1::bigint[]) ORDER BY 1';

export interface StagedOverlapsRow {
  a: string;
  b: string;
  pieces: number;
  area_m2: number;
}

/** $1 the new grids, $2 noise area (m²): overlapping sibling pairs among them, with pieces and area. */
export const stagedOverlapsSql = `SELECT a.code AS a, b.code AS b, count(*)::int AS pieces, sum(${planarAreaM2('piece')}) AS area_m2
     FROM grids a JOIN grids b ON b.level = a.level AND b.parent_id IS NOT DISTINCT FROM a.parent_id AND a.id < b.id
                               AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
     CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)) AS dumped(path, piece)
     WHERE (a.id = ANY($1::bigint[]) OR b.id = ANY($1::bigint[])) AND ${planarAreaM2('piece')} > $2
     GROUP BY a.code, b.code ORDER BY area_m2 DESC`;

/** $1 the new grids, $2 grid size: each without its lower-id siblings, so they no longer overlap. */
export const subtractLowerSql = `UPDATE grids c SET geom = ST_Multi(ST_CollectionExtract(ST_Difference(c.geom, lower.u, $2::float8), 3))
     FROM (SELECT c2.id, ST_Union(s.geom, $2::float8) AS u
           FROM grids c2 JOIN grids s ON s.level = c2.level AND s.parent_id IS NOT DISTINCT FROM c2.parent_id AND s.id < c2.id
                                     AND s.geom && c2.geom AND ST_Intersects(s.geom, c2.geom)
           WHERE c2.id = ANY($1::bigint[]) GROUP BY c2.id) lower
     WHERE c.id = lower.id`;

/** $1 grids, $2 grid size: those grids and their children snapped to the grid size. */
export const reducePrecisionSql = `UPDATE grids SET geom = ST_Multi(ST_CollectionExtract(ST_ReducePrecision(geom, $2::float8), 3)) WHERE id = ANY($1::bigint[]) OR parent_id = ANY($1::bigint[])`;

/** $1 parents, $2 grid size: their children clipped to them. */
export const clipImportedSql = `UPDATE grids c SET geom = ST_Multi(ST_CollectionExtract(ST_Intersection(c.geom, p.geom, $2::float8), 3))
     FROM grids p WHERE c.parent_id = p.id AND p.id = ANY($1::bigint[])`;

/** $1 parents, $2 grid size: each gap of a parent joins the child sharing most border with it (then the nearest). */
export const fillGapsSql = `WITH gaps AS (
       SELECT p.id AS parent_id, (ST_Dump(ST_Difference(p.geom, ST_Union(c.geom, $2::float8), $2::float8))).geom AS g
       FROM grids p JOIN grids c ON c.parent_id = p.id WHERE p.id = ANY($1::bigint[]) GROUP BY p.id, p.geom),
     owners AS (
       SELECT (SELECT c.id FROM grids c WHERE c.parent_id = gaps.parent_id
               ORDER BY ST_Length(ST_Intersection(ST_Boundary(gaps.g), c.geom)) DESC, ST_Distance(c.geom, gaps.g) LIMIT 1) AS owner, g
       FROM gaps)
     UPDATE grids c SET geom = ST_Multi(ST_CollectionExtract(ST_Union(c.geom, owned.u, $2::float8), 3))
     FROM (SELECT owner, ST_Union(g, $2::float8) AS u FROM owners GROUP BY owner) owned
     WHERE c.id = owned.owner`;

/** $1 grids, $2 served decimals, $3 noise area (m²): a grid invalid as served keeps only its parts valid as served or larger than the noise. */
export const keepServedSql = `UPDATE grids g SET geom = kept.geom
     FROM (SELECT g2.id, ST_Multi(ST_Collect(piece.geom)) AS geom
           FROM grids g2 CROSS JOIN LATERAL ST_Dump(g2.geom) AS piece
           WHERE g2.id = ANY($1::bigint[]) AND NOT ST_IsValid(${served('g2.geom')})
             AND (ST_IsValid(${served('piece.geom')}) OR ${planarAreaM2('piece.geom')} > $3)
           GROUP BY g2.id) kept
     WHERE g.id = kept.id`;

/** The imported grids whose stored area differs from the source's by more than 0.01 %, most changed first. */
export const importAreasSql = `SELECT code, name, "sourceAreaM2", "areaM2", 100 * ("areaM2" - "sourceAreaM2") / nullif("sourceAreaM2", 0) AS "changePercent"
     FROM (SELECT g.code, g.name, i.source_area_m2 AS "sourceAreaM2", ST_Area(g.geom::geography) AS "areaM2"
           FROM grid_import i JOIN grids g ON g.code = i.code) areas
     WHERE abs("areaM2" - "sourceAreaM2") > 1e-4 * "sourceAreaM2"
     ORDER BY abs("areaM2" - "sourceAreaM2") / nullif("sourceAreaM2", 0) DESC NULLS FIRST`;

// dry-run.ts

/** $1 a grid: its id, level and parent. */
export const dryRunGridSql = 'SELECT id::int AS id, level, parent_id::int AS "parentId" FROM grids WHERE id = $1';

/** A dry run writes after this savepoint and rolls back to it. */
export const savepointSql = 'SAVEPOINT grid_write';

/** Undoes a dry run's writes. */
export const rollbackSavepointSql = 'ROLLBACK TO SAVEPOINT grid_write';

/** $1 geometry, $2 level, $3 parent, $4 the grid itself (null: new), $5 noise area: the siblings it would overlap, most first. */
export const dryRunSiblingOverlapsSql = `SELECT s.id AS "gridId", s.code, s.name, ${planarAreaM2('overlap')} AS "areaM2"
     FROM grids s, (SELECT $1::geometry AS g) input, LATERAL (SELECT ST_Intersection(s.geom, g) AS overlap) intersection
     WHERE s.level = $2 AND s.parent_id IS NOT DISTINCT FROM $3 AND s.id IS DISTINCT FROM $4 AND s.geom && g
       AND ${planarAreaM2('overlap')} > $5
     ORDER BY 4 DESC`;

export interface DryRunOutsideParentRow {
  m2: number;
}

/** $1 geometry, $2 parent: the area (m²) outside the parent. */
export const dryRunOutsideParentSql = `SELECT coalesce(${planarAreaM2('outside')}, 0) AS m2 FROM grids p, LATERAL (SELECT ST_Difference($1::geometry, p.geom) AS outside) d WHERE p.id = $2`;

export interface DryRunCoverageRow {
  feature: unknown;
  area_m2: number;
}

/** $1 parent, $2 the new geometry (null: none), $3 the grid replaced, $4 noise area: the gaps the parent's children would leave. */
export const dryRunCoverageSql = `WITH children AS (
       SELECT geom FROM grids WHERE parent_id = $1 AND id IS DISTINCT FROM $3
       UNION ALL SELECT $2::geometry WHERE $2::text IS NOT NULL),
     pieces AS (SELECT (ST_Dump(ST_Difference(p.geom, coalesce((SELECT ST_Union(geom) FROM children), 'SRID=4326;POLYGON EMPTY'::geometry)))).geom AS g
                FROM grids p WHERE p.id = $1)
     SELECT ${planarAreaM2('g')} AS area_m2,
            json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(g, 9)::json, 'properties', json_build_object('kind', 'gap', 'areaM2', ${planarAreaM2('g')})) AS feature
     FROM pieces WHERE ${planarAreaM2('g')} > $4`;

/** $1 geometry, $2 noise area: the buildings its boundary would cut. */
export const dryRunBuildingsSql = `SELECT b.id::int AS id, b.address, b.households
     FROM buildings b, (SELECT $1::geometry AS g) input,
          LATERAL (SELECT ST_Intersection(b.geom, g) AS inside, ST_Difference(b.geom, g) AS outside) parts
     WHERE b.geom && g AND ST_Intersects(b.geom, ST_Boundary(g))
       AND ${planarAreaM2('inside')} > $2 AND ${planarAreaM2('outside')} > $2
     ORDER BY b.id`;
