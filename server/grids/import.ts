import { type WriteContext, withWriteTransaction } from '../audit/write-context';
import type { Pool, PoolClient } from '../db/pool';
import { RuleViolationError } from '../errors';
import { type CityExtent, extentSql, extentValues } from '../geo/extent';
import { gridCoverage } from './analysis';
import { reassignMembers } from './membership';

export interface GridImportOptions {
  level: number;
  /** defaults to level - 1; must be level - 1 (the nesting rule) */
  parentLevel?: number;
  codeField?: string;
  nameField?: string;
  /** ST_MakeValid invalid polygons, clip children to their parent, cut overlaps, give gaps to a neighbour */
  repair: boolean;
  /** Where grids may lie (geo/extent.ts); unset: anywhere a top-level grid may be without CITY_EXTENT. */
  city?: CityExtent;
}

export interface CoverageSummary {
  parents: number;
  gaps: number;
  gapAreaM2: number;
  overlaps: number;
  overlapAreaM2: number;
  outside: number;
  outsideAreaM2: number;
}

export interface GridImportReport {
  imported: number;
  repairedInvalid: number;
  before: CoverageSummary;
  after: CoverageSummary | null;
}

/**
 * Imports a GeoJSON FeatureCollection as grids of one level in one transaction (bulk: one summary audit row),
 * matching each polygon to the parent-level grid that holds most of its area, and reports the coverage of
 * every parent it filled; with repair, fixes what real boundary data gets wrong and reports again.
 */
export async function importGrids(pool: Pool, collection: { features: unknown[] }, options: GridImportOptions): Promise<GridImportReport> {
  const parentLevel = options.parentLevel ?? options.level - 1;
  if (options.level > 1 && parentLevel !== options.level - 1) throw new RuleViolationError('--parent-level must be level - 1', { rule: 'level' });
  const writer: WriteContext = { actor: null, route: 'cli import:grids', bulk: true };
  return withWriteTransaction(pool, writer, async (client) => {
    await client.query(
      `CREATE TEMP TABLE grid_import ON COMMIT DROP AS
       SELECT ord::int AS ord, coalesce(f -> 'properties' ->> $2, 'import-' || ord) AS code,
              coalesce(f -> 'properties' ->> $3, f -> 'properties' ->> $2, 'import-' || ord) AS name,
              ST_SetSRID(ST_GeomFromGeoJSON(f ->> 'geometry'), 4326) AS g
       FROM json_array_elements($1::json) WITH ORDINALITY AS features(f, ord)`,
      [JSON.stringify(collection.features), options.codeField ?? 'code', options.nameField ?? 'name'],
    );
    await checkStorable(client, options);
    const repairedInvalid = await makeValid(client, options.repair);
    const ids = await insertMatched(client, options.level, parentLevel);
    const parents = options.level > 1 ? await parentsOf(client, ids) : [];
    const before = await summarize(client, parents);
    let after: CoverageSummary | null = null;
    if (options.repair && parents.length > 0) {
      // Each pass leaves only floating-point slivers of the previous overlays; two or three passes clear them.
      for (let pass = 0; pass < repairPasses && !isClean(after); pass++) {
        await repairNesting(client, parents);
        after = await summarize(client, parents);
      }
    }
    if (options.level === 4) await reassignMembers(client, (await client.query<{ hex: string }>(`SELECT encode(ST_AsEWKB(ST_Envelope(ST_Collect(geom))), 'hex') AS hex FROM grids WHERE id = ANY($1::bigint[])`, [ids])).rows[0].hex);
    await client.query(
      `INSERT INTO audit_log (route, entity, action, after) VALUES ('cli import:grids', 'grids', 'insert', $1)`,
      [{ imported: ids.length, level: options.level, repair: options.repair }],
    );
    return { imported: ids.length, repairedInvalid, before, after };
  });
}

/** The geometry rules of every write (sql/110): a polygon with Z, at the poles or across the antimeridian is refused. */
async function checkStorable(client: PoolClient, options: GridImportOptions): Promise<void> {
  const city = options.city ?? { configured: null, marginMetres: 0 };
  const { rows } = await client.query<{ code: string; problem: string }>(
    `WITH city AS MATERIALIZED (SELECT ${extentSql(1, options.level === 1 ? 'top-level grid' : 'city')} AS extent)
     SELECT code, problem FROM (SELECT ord, code, geometry_problem(g, city.extent) AS problem FROM grid_import, city) checked
      WHERE problem IS NOT NULL ORDER BY ord`,
    extentValues(city),
  );
  if (rows.length > 0) throw new RuleViolationError(`${rows.length} polygon(s) cannot be stored, e.g. ${rows[0].code}: ${rows[0].problem}`, { rule: 'storable-geometry', refused: rows });
}

async function makeValid(client: PoolClient, repair: boolean): Promise<number> {
  const { rows } = await client.query<{ ord: number; code: string; reason: string }>('SELECT ord, code, ST_IsValidReason(g) AS reason FROM grid_import WHERE NOT ST_IsValid(g)');
  if (rows.length > 0 && !repair) {
    throw new RuleViolationError(`${rows.length} invalid polygon(s), e.g. ${rows[0].code}: ${rows[0].reason} (use --repair)`, { rule: 'valid-geometry', invalid: rows });
  }
  await client.query('UPDATE grid_import SET g = ST_CollectionExtract(ST_MakeValid(g), 3) WHERE NOT ST_IsValid(g)');
  return rows.length;
}

async function insertMatched(client: PoolClient, level: number, parentLevel: number): Promise<number[]> {
  const { rows: orphans } = await client.query<{ code: string }>(
    `SELECT code FROM grid_import i WHERE $1::int > 1 AND NOT EXISTS (SELECT 1 FROM grids p WHERE p.level = $2::int AND p.geom && i.g AND ST_Intersects(p.geom, i.g))`,
    [level, parentLevel],
  );
  if (orphans.length > 0) throw new RuleViolationError(`${orphans.length} polygon(s) lie in no level-${parentLevel} grid, e.g. ${orphans[0].code}`, { rule: 'inside-parent' });
  const { rows } = await client.query<{ id: number }>(
    `INSERT INTO grids (code, name, level, parent_id, geom)
     SELECT code, name, $1::int,
            CASE WHEN $1::int > 1 THEN (SELECT p.id FROM grids p WHERE p.level = $2::int AND p.geom && i.g
                                   ORDER BY ST_Area(ST_Intersection(p.geom, i.g)) DESC LIMIT 1) END,
            ST_Multi(i.g)
     FROM grid_import i ORDER BY ord RETURNING id`,
    [level, parentLevel],
  );
  return rows.map((row) => row.id);
}

async function parentsOf(client: PoolClient, ids: number[]): Promise<number[]> {
  const { rows } = await client.query<{ id: number }>('SELECT DISTINCT parent_id AS id FROM grids WHERE id = ANY($1::bigint[]) ORDER BY 1', [ids]);
  return rows.map((row) => row.id);
}

async function summarize(client: PoolClient, parents: number[]): Promise<CoverageSummary> {
  const summary: CoverageSummary = { parents: parents.length, gaps: 0, gapAreaM2: 0, overlaps: 0, overlapAreaM2: 0, outside: 0, outsideAreaM2: 0 };
  for (const parentId of parents) {
    const coverage = await gridCoverage(client, parentId);
    summary.gaps += coverage.gaps.features.length;
    summary.overlaps += coverage.overlaps.features.length;
    summary.outside += coverage.outside.features.length;
    summary.gapAreaM2 += coverage.gapAreaM2;
    summary.overlapAreaM2 += coverage.overlapAreaM2;
    summary.outsideAreaM2 += coverage.outsideAreaM2;
  }
  return summary;
}

// GEOS overlay grid size; 0 = full floating precision. A 1e-8° grid was tried and left more slivers on the HK data.
const repairGridSize = 0;
const repairPasses = 3;

function isClean(summary: CoverageSummary | null): boolean {
  return summary !== null && summary.gaps + summary.overlaps + summary.outside === 0;
}

/**
 * Makes children nest and tile their parents: snap to the precision grid, clip to the parent, cut each overlap
 * out of the higher id, then give each gap to the child sharing the longest border with it (the nearest one
 * when none touches).
 */
async function repairNesting(client: PoolClient, parents: number[]): Promise<void> {
  await client.query(
    `UPDATE grids SET geom = ST_Multi(ST_CollectionExtract(ST_ReducePrecision(geom, $2::float8), 3)) WHERE id = ANY($1::bigint[]) OR parent_id = ANY($1::bigint[])`,
    [parents, repairGridSize],
  );
  await client.query(
    `UPDATE grids c SET geom = ST_Multi(ST_CollectionExtract(ST_Intersection(c.geom, p.geom, $2::float8), 3))
     FROM grids p WHERE c.parent_id = p.id AND p.id = ANY($1::bigint[])`,
    [parents, repairGridSize],
  );
  await client.query(
    `UPDATE grids c SET geom = ST_Multi(ST_CollectionExtract(ST_Difference(c.geom, lower.u, $2::float8), 3))
     FROM (SELECT c2.id, ST_Union(s.geom, $2::float8) AS u FROM grids c2 JOIN grids s ON s.parent_id = c2.parent_id AND s.id < c2.id AND s.geom && c2.geom AND ST_Intersects(s.geom, c2.geom)
           WHERE c2.parent_id = ANY($1::bigint[]) GROUP BY c2.id) lower
     WHERE c.id = lower.id`,
    [parents, repairGridSize],
  );
  await client.query(
    `WITH gaps AS (
       SELECT p.id AS parent_id, (ST_Dump(ST_Difference(p.geom, ST_Union(c.geom, $2::float8), $2::float8))).geom AS g
       FROM grids p JOIN grids c ON c.parent_id = p.id WHERE p.id = ANY($1::bigint[]) GROUP BY p.id, p.geom),
     owners AS (
       SELECT (SELECT c.id FROM grids c WHERE c.parent_id = gaps.parent_id
               ORDER BY ST_Length(ST_Intersection(ST_Boundary(gaps.g), c.geom)) DESC, ST_Distance(c.geom, gaps.g) LIMIT 1) AS owner, g
       FROM gaps)
     UPDATE grids c SET geom = ST_Multi(ST_CollectionExtract(ST_Union(c.geom, owned.u, $2::float8), 3))
     FROM (SELECT owner, ST_Union(g, $2::float8) AS u FROM owners GROUP BY owner) owned
     WHERE c.id = owned.owner`,
    [parents, repairGridSize],
  );
}
