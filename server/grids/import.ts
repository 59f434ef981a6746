import { type WriteContext, withWriteTransaction } from '../db/write-context';
import type { Pool, PoolClient } from '../db/pool';
import { RuleViolationError } from '../errors';
import { type CityExtent, extentValues } from '../geo/extent';
import { coverageNoiseM2, gridCoverage } from './analysis';
import { cityCatalogue } from '../catalogue/city';
import { gridSnapshot, recordHistory } from './history';
import { type GridMemberTable, moveMembers, reassignMembers } from './membership';
import { clipImportedSql, createImportStagingSql, deleteGridSql, type EnvelopeOfGridsRow, envelopeOfGridsSql, fillGapsSql, importAreasSql, importAuditSql, type InsertImportedGridsRow, insertImportedGridsSql, type InvalidStagedRow, invalidStagedSql, keepServedSql, type OrphanStagedRow, orphanStagedSql, type ParentsOfRow, parentsOfSql, reducePrecisionSql, repairStagedSql, type ReplacedGridsRow, replacedGridsSql, servedDecimals, type StagedOverlapsRow, stagedOverlapsSql, type StorableProblemsRow, storableProblemsSql, subtractLowerSql } from './sql';

export interface GridImportOptions {
  level: number;
  /** defaults to level - 1; must be level - 1 (the nesting rule) */
  parentLevel?: number;
  codeField?: string;
  nameField?: string;
  /** ST_MakeValid invalid polygons, clip children to their parent, cut overlaps between siblings (top-level ones too), give gaps to a neighbour */
  repair: boolean;
  /** Where grids may lie (geo/extent.ts); unset: anywhere a top-level grid may be without CITY_EXTENT. */
  city?: CityExtent;
  /** The imported grids replace the grids of their level in the parents they fall in (new boundaries for a community). */
  replace?: boolean;
  /** Report what the import would do, then roll it back. */
  dryRun?: boolean;
  /** When, for the history of replaced grids (the server's clock). */
  at?: Date;
  /** Who imports: the command line (default) or a planner through POST /api/grids/import. */
  writer?: WriteContext;
  /** Rows placed in level-4 grids (catalogue: gridMembers); default: the city catalogue's. */
  members?: readonly GridMemberTable[];
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

/** Two siblings (same parent, or both top-level) that share area, as the file had them. */
export interface SiblingOverlap {
  codes: [string, string];
  areaM2: number;
}

/** How much repair (and snapping to the served precision) changed a grid's area against the file's polygon. */
export interface AreaChange {
  code: string;
  name: string;
  sourceAreaM2: number;
  areaM2: number;
  changePercent: number;
}

export interface GridImportReport {
  imported: number;
  /** Grids of the level that the import replaced (with replace), their members handed to the new ones. */
  replaced: number;
  repairedInvalid: number;
  /** Overlaps among the imported grids and their siblings before repair, largest first. */
  siblingOverlaps: SiblingOverlap[];
  before: CoverageSummary;
  after: CoverageSummary | null;
  /** Grids whose area differs from the file's, largest relative change first. */
  areaChanges: AreaChange[];
}

/**
 * Imports a GeoJSON FeatureCollection as grids of one level in one transaction (bulk: one summary audit row),
 * matching each polygon to the parent-level grid that holds most of its area, and reports the coverage of
 * every parent it filled; with repair, fixes what real boundary data gets wrong and reports again.
 */
export async function importGrids(pool: Pool, collection: { features: unknown[] }, options: GridImportOptions): Promise<GridImportReport> {
  const parentLevel = options.parentLevel ?? options.level - 1;
  if (options.level > 1 && parentLevel !== options.level - 1) throw new RuleViolationError('--parent-level must be level - 1', { rule: 'level' });
  if (options.replace && options.level === 1) throw new RuleViolationError('replace needs a parent level: top-level grids cannot be replaced by an import', { rule: 'import-replace' });
  const writer: WriteContext = { ...(options.writer ?? { actor: null, route: 'cli import:grids' }), bulk: true, idempotency: undefined };
  const run = withWriteTransaction(pool, writer, async (client) => {
    await client.query(
      createImportStagingSql,
      [JSON.stringify(collection.features), options.codeField ?? 'code', options.nameField ?? 'name'],
    );
    await checkStorable(client, options);
    const repairedInvalid = await makeValid(client, options.repair);
    const ids = await insertMatched(client, options.level, parentLevel);
    const parents = options.level > 1 ? await parentsOf(client, ids) : [];
    const replaced = options.replace ? await replaceOldChildren(client, options.members ?? cityCatalogue.gridMembers, writer, options.at ?? new Date(), ids, parents) : 0;
    const siblingOverlaps = await overlapsAmongSiblings(client, ids);
    const before = await summarize(client, ids, parents);
    let after: CoverageSummary | null = null;
    if (options.repair) {
      // Each pass leaves only slivers of the previous overlays; two or three passes clear them.
      for (let pass = 0; pass < repairPasses && !isClean(after); pass++) {
        await repairSiblings(client, ids, parents);
        after = await summarize(client, ids, parents);
      }
    }
    await dropSubPrecisionPieces(client, ids);
    if (options.level === 4) await reassignMembers(client, options.members ?? cityCatalogue.gridMembers, (await client.query<EnvelopeOfGridsRow>(envelopeOfGridsSql, [ids])).rows[0].hex);
    await client.query(
      importAuditSql,
      [writer.route, { imported: ids.length, replaced, level: options.level, repair: options.repair }],
    );
    const result = { imported: ids.length, replaced, repairedInvalid, siblingOverlaps, before, after, areaChanges: await areaChanges(client) };
    if (options.dryRun) throw new DryRunReport(result);
    return result;
  });
  return run.catch((error: unknown) => {
    if (error instanceof DryRunReport) return error.report;
    throw error;
  });
}

/** Carries a dry run's report out of its transaction, which the throw rolls back. */
class DryRunReport extends Error {
  constructor(readonly report: GridImportReport) {
    super('dry run: rolled back');
  }
}

/**
 * The grids of the imported level that were in the parents before: their children would lose their place, so only
 * leaves are replaced; their members wait in an imported grid of the same parent until the import re-places them.
 */
async function replaceOldChildren(client: PoolClient, members: readonly GridMemberTable[], writer: WriteContext, at: Date, ids: number[], parents: number[]): Promise<number> {
  const { rows } = await client.query<ReplacedGridsRow>(
    replacedGridsSql,
    [ids, parents],
  );
  const withChildren = rows.filter((row) => row.children > 0);
  if (withChildren.length > 0) {
    throw new RuleViolationError(`grid(s) ${withChildren.map((row) => row.id).join(', ')} have child grids: an import replaces leaf grids only`, { rule: 'import-replace' });
  }
  for (const old of rows) {
    const before = await gridSnapshot(client, old.id);
    await moveMembers(client, members, old.id, old.holder);
    await client.query(deleteGridSql, [old.id]);
    await recordHistory(client, writer, at, { gridId: old.id, version: (before?.version as number) + 1, action: 'delete', reason: 'replaced by an import', before, after: null });
  }
  return rows.length;
}

/** The geometry rules of every write (sql/110): a polygon with Z, at the poles or across the antimeridian is refused. */
async function checkStorable(client: PoolClient, options: GridImportOptions): Promise<void> {
  const city = options.city ?? { configured: null, marginMetres: 0 };
  const { rows } = await client.query<StorableProblemsRow>(
    storableProblemsSql(options.level),
    extentValues(city),
  );
  if (rows.length > 0) throw new RuleViolationError(`${rows.length} polygon(s) cannot be stored, e.g. ${rows[0].code}: ${rows[0].problem}`, { rule: 'storable-geometry', refused: rows });
}

async function makeValid(client: PoolClient, repair: boolean): Promise<number> {
  const { rows } = await client.query<InvalidStagedRow>(invalidStagedSql);
  if (rows.length > 0 && !repair) {
    throw new RuleViolationError(`${rows.length} invalid polygon(s), e.g. ${rows[0].code}: ${rows[0].reason} (use --repair)`, { rule: 'valid-geometry', invalid: rows });
  }
  await client.query(repairStagedSql);
  return rows.length;
}

async function insertMatched(client: PoolClient, level: number, parentLevel: number): Promise<number[]> {
  const { rows: orphans } = await client.query<OrphanStagedRow>(
    orphanStagedSql,
    [level, parentLevel],
  );
  if (orphans.length > 0) throw new RuleViolationError(`${orphans.length} polygon(s) lie in no level-${parentLevel} grid, e.g. ${orphans[0].code}`, { rule: 'inside-parent' });
  const { rows } = await client.query<InsertImportedGridsRow>(
    insertImportedGridsSql,
    [level, parentLevel],
  );
  return rows.map((row) => row.id);
}

async function parentsOf(client: PoolClient, ids: number[]): Promise<number[]> {
  const { rows } = await client.query<ParentsOfRow>(parentsOfSql, [ids]);
  return rows.map((row) => row.id);
}

/**
 * Overlapping pieces between siblings, at least one of them imported: children of one parent, or top-level grids
 * (which have no parent whose coverage would show them).
 */
async function overlapsAmongSiblings(client: PoolClient, ids: number[]): Promise<SiblingOverlap[]> {
  const { rows } = await client.query<StagedOverlapsRow>(
    stagedOverlapsSql,
    [ids, coverageNoiseM2],
  );
  return rows.map((row) => ({ codes: [row.a, row.b], areaM2: row.area_m2 }));
}

/** Children: gaps, overlaps and protrusions per parent; top-level grids: their overlaps with each other. */
async function summarize(client: PoolClient, ids: number[], parents: number[]): Promise<CoverageSummary> {
  const summary: CoverageSummary = { parents: parents.length, gaps: 0, gapAreaM2: 0, overlaps: 0, overlapAreaM2: 0, outside: 0, outsideAreaM2: 0 };
  if (parents.length === 0) {
    const overlaps = await overlapsAmongSiblings(client, ids);
    summary.overlaps = overlaps.length;
    summary.overlapAreaM2 = overlaps.reduce((sum, overlap) => sum + overlap.areaM2, 0);
    return summary;
  }
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

// GEOS overlay grid size; 0 = full floating precision. Grids of 1e-8° and 1e-7° were tried and left more slivers on
// the HK data (the snapped union of the lower siblings no longer follows their edges).
const repairGridSize = 0;
const repairPasses = 3;

function isClean(summary: CoverageSummary | null): boolean {
  return summary !== null && summary.gaps + summary.overlaps + summary.outside === 0;
}

/**
 * Makes siblings tile without overlaps, and children nest in and tile their parents: snap to the precision grid,
 * clip to the parent, cut each overlap out of the imported grid with the higher id (a grid that was there before
 * keeps its shape), then give each gap in a parent to the child sharing the longest border with it (the nearest
 * one when none touches). Top-level grids have no parent: only their overlaps are cut.
 */
async function repairSiblings(client: PoolClient, ids: number[], parents: number[]): Promise<void> {
  if (parents.length > 0) await clipToParents(client, parents);
  await cutSiblingOverlaps(client, ids);
  if (parents.length > 0) await fillGaps(client, parents);
}

async function cutSiblingOverlaps(client: PoolClient, ids: number[]): Promise<void> {
  await client.query(
    subtractLowerSql,
    [ids, repairGridSize],
  );
}

async function clipToParents(client: PoolClient, parents: number[]): Promise<void> {
  await client.query(
    reducePrecisionSql,
    [parents, repairGridSize],
  );
  await client.query(
    clipImportedSql,
    [parents, repairGridSize],
  );
}

async function fillGaps(client: PoolClient, parents: number[]): Promise<void> {
  await client.query(
    fillGapsSql,
    [parents, repairGridSize],
  );
}

/**
 * A sliver of a few mm² left by ST_MakeValid or an overlay collapses into a ring of too few points when written
 * out with the decimals GET serves. Such pieces (below the 0.01 m² coverage counts as noise) are dropped, so
 * the grid is stored as it is served. GET also serves geometry snap-rounded to those decimals (grids/service.ts),
 * so what it serves stays valid, and PATCH accepts it unchanged; snapping the stored grids themselves to 7
 * decimals opened sub-m² gaps between neighbours on the HK data.
 */
async function dropSubPrecisionPieces(client: PoolClient, ids: number[]): Promise<void> {
  await client.query(
    keepServedSql,
    [ids, servedDecimals, coverageNoiseM2],
  );
}

/** Every grid of this import whose area differs from its polygon in the file by more than 0.01 %. */
async function areaChanges(client: PoolClient): Promise<AreaChange[]> {
  const { rows } = await client.query<AreaChange>(
    importAreasSql,
  );
  return rows;
}
