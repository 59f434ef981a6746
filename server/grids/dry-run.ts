import { z } from 'zod';
import { withWriteTransaction } from '../db/write-context';
import type { PoolClient, Queryable } from '../db/pool';
import { DomainError, NotFoundError, RuleViolationError } from '../errors';
import { coverageNoiseM2 } from './analysis';
import { type GeometryHex, normalizeGeometry } from './rules';
import { type WriteOptions, geometryOf, gridFeature } from './service';
import { dryRunBuildingsSql, type DryRunCoverageRow, dryRunCoverageSql, dryRunGridSql, type DryRunOutsideParentRow, dryRunOutsideParentSql, dryRunSiblingOverlapsSql, rollbackSavepointSql, savepointSql } from './sql';

/** Carries a rehearsed write's answer out of its transaction, which the throw rolls back. */
class Rehearsed<T> extends Error {
  constructor(readonly answer: T) {
    super('dry run: rolled back');
  }
}

/** Runs a write in a transaction that is always rolled back, and returns what it answered. */
async function rehearse<T>(options: WriteOptions, write: (client: PoolClient) => Promise<T>): Promise<T> {
  try {
    await withWriteTransaction(options.pool, { ...options.writer, idempotency: undefined }, async (client) => {
      throw new Rehearsed(await write(client));
    });
  } catch (error) {
    if (error instanceof Rehearsed) return error.answer as T;
    throw error;
  }
  throw new Error('unreachable: a rehearsal always rolls back');
}

/** Where the written grid sits: its own id (absent when created), level and parent. */
export interface GridPlace {
  id: number | null;
  level: number;
  parentId: number | null;
}

/** Where an existing grid is, or would be under a new parent. */
export async function gridPlace(db: Queryable, id: number, newParentId?: number | null): Promise<GridPlace> {
  const { rows } = await db.query<GridPlace>(dryRunGridSql, [id]);
  if (!rows[0]) throw new NotFoundError(`grid ${id} does not exist`, { id });
  return newParentId === undefined ? rows[0] : { ...rows[0], parentId: newParentId };
}

/** The stored answer of a grid write, as the write services return it. */
interface WrittenGrid {
  feature: unknown;
  version: number;
}

const areaM2 = z.number();
export const gridWriteVerdict = z
  .object({
    dryRun: z.literal(true),
    accepted: z.boolean().openapi({ description: 'Whether the write would be committed as sent' }),
    refusal: z
      .object({ rule: z.string().nullable(), message: z.string(), details: z.record(z.string(), z.unknown()) })
      .nullable()
      .openapi({ description: 'Why the write would be refused (the 422 it would answer)' }),
    overlaps: z.array(z.object({ gridId: z.number(), code: z.string(), name: z.string(), areaM2 })).openapi({ description: 'Siblings the drawn boundary overlaps (up to 1 m² is trimmed, more refused)' }),
    outsideParentM2: areaM2.openapi({ description: 'Area of the drawn boundary outside the parent (0.5 m tolerated)' }),
    gaps: z.object({ count: z.number(), areaM2, beforeAreaM2: areaM2, features: z.array(z.unknown()) }).openapi({ description: 'Parent area no child would cover after the write, and before it' }),
    cutBuildings: z.array(z.object({ id: z.number(), address: z.string().nullable(), households: z.number() })).openapi({ description: 'Building footprints the boundary would cut' }),
    feature: z.unknown().nullable().openapi({ description: 'The grid as it would be stored (after snapping and trimming), when accepted' }),
  })
  .openapi('GridWriteVerdict');
export type GridWriteVerdict = z.infer<typeof gridWriteVerdict>;

/**
 * What a create, change or revert of a grid would do, without doing it: the write runs in a transaction that is
 * rolled back. Rule violations become a refusal in the verdict (with the figures of the drawn boundary), so a
 * planner sees every problem at once; a stale version (412), a missing grid (404) or a missing If-Match (428)
 * stay errors, as the write would answer them.
 */
export async function gridWriteDryRun(
  options: WriteOptions,
  place: GridPlace,
  drawn: { geometry: unknown; repair: boolean } | null,
  write: (client: PoolClient) => Promise<WrittenGrid>,
): Promise<GridWriteVerdict> {
  return rehearse(options, async (client) => {
    const drawnHex = drawn ? await normalizeGeometry(client, drawn.geometry, drawn.repair).catch(() => null) : place.id === null ? null : await geometryOf(client, place.id);
    const overlaps = drawnHex ? await siblingOverlaps(client, place, drawnHex) : [];
    const outsideParentM2 = drawnHex && place.parentId !== null ? await outsideParent(client, drawnHex, place.parentId) : 0;
    const gapsBefore = await parentGaps(client, place, null);
    await client.query(savepointSql);
    let written: WrittenGrid | null = null;
    let refusal: GridWriteVerdict['refusal'] = null;
    try {
      written = await write(client);
    } catch (error) {
      if (!(error instanceof RuleViolationError)) throw error;
      await client.query(rollbackSavepointSql);
      refusal = refusalOf(error);
    }
    const storedId = written ? writtenId(written) : null;
    const result = storedId !== null ? await geometryOf(client, storedId) : drawnHex;
    const gapsAfter = result ? await parentGaps(client, place, { hex: result, excludeId: storedId ?? place.id }) : gapsBefore;
    return {
      dryRun: true as const,
      accepted: written !== null,
      refusal,
      overlaps,
      outsideParentM2,
      gaps: { count: gapsAfter.features.length, areaM2: gapsAfter.areaM2, beforeAreaM2: gapsBefore.areaM2, features: gapsAfter.features },
      cutBuildings: result ? await cutBuildings(client, result) : [],
      feature: storedId !== null ? (await gridFeature(client, storedId)).feature : null,
    };
  });
}

function refusalOf(error: DomainError): NonNullable<GridWriteVerdict['refusal']> {
  const rule = typeof error.details.rule === 'string' ? error.details.rule : null;
  return { rule, message: error.message, details: error.details };
}

function writtenId(written: WrittenGrid): number {
  return Number((written.feature as { id: number }).id);
}

async function siblingOverlaps(client: PoolClient, place: GridPlace, geometry: GeometryHex): Promise<GridWriteVerdict['overlaps']> {
  const { rows } = await client.query<GridWriteVerdict['overlaps'][number]>(
    dryRunSiblingOverlapsSql,
    [geometry, place.level, place.parentId, place.id, coverageNoiseM2],
  );
  return rows;
}

async function outsideParent(client: PoolClient, geometry: GeometryHex, parentId: number): Promise<number> {
  const { rows } = await client.query<DryRunOutsideParentRow>(
    dryRunOutsideParentSql,
    [geometry, parentId],
  );
  return rows[0]?.m2 ?? 0;
}

/** The parent's area that no child covers, with the written grid's geometry in place of its stored one when given. */
async function parentGaps(client: PoolClient, place: GridPlace, replacing: { hex: GeometryHex; excludeId: number | null } | null) {
  if (place.parentId === null) return { areaM2: 0, features: [] as unknown[] };
  const { rows } = await client.query<DryRunCoverageRow>(
    dryRunCoverageSql,
    [place.parentId, replacing?.hex ?? null, replacing ? replacing.excludeId : null, coverageNoiseM2],
  );
  return { areaM2: rows.reduce((sum, row) => sum + row.area_m2, 0), features: rows.map((row) => row.feature) };
}

/** Footprints with more than 0.01 m² on each side of the boundary. */
async function cutBuildings(client: PoolClient, geometry: GeometryHex): Promise<GridWriteVerdict['cutBuildings']> {
  const { rows } = await client.query<GridWriteVerdict['cutBuildings'][number]>(
    dryRunBuildingsSql,
    [geometry, coverageNoiseM2],
  );
  return rows;
}
