import { z } from 'zod';
import { pageQuery, wholeNumber } from '../http/request-schemas';
import { areaGeometry, bboxQuery, featureAnswer, featureCollectionAnswer, isWgs84CrsName, lineStringGeometry } from '../geo/schemas';

export const gridLevel = wholeNumber({ min: 1, max: 4 });

export const listGridsQuery = z
  .object({
    level: gridLevel.optional(),
    parent: wholeNumber({ min: 1 }).optional(),
    bbox: bboxQuery.optional(),
    ...pageQuery,
  })
  .strict();

export type ListGridsQuery = z.infer<typeof listGridsQuery>;

const flag = z.enum(['true', 'false']).default('false').transform((value) => value === 'true');
/** ?repair=true applies ST_MakeValid to an invalid geometry instead of refusing it. */
const repair = flag.openapi({ description: 'Apply ST_MakeValid to an invalid geometry instead of refusing it' });
/** ?dryRun=true answers the write's verdict (grids/dry-run.ts) and changes nothing. */
const dryRun = flag.openapi({ description: 'Answer what the write would do (overlaps, gaps, leaving the parent, cut buildings) and change nothing' });

export const repairQuery = z.object({ repair }).strict();
export const gridWriteQuery = z.object({ repair, dryRun }).strict();
export const dryRunQuery = z.object({ dryRun }).strict();

const reason = z.string().trim().min(1).max(500).optional();

const gridAttributes = {
  code: z.string().trim().min(1).max(64),
  name: z.string().trim().min(1).max(200),
  leader: z.string().max(200).nullable().optional(),
  workers: z.array(z.string().min(1).max(100)).max(50).optional(),
  householdsTarget: z.number().int().positive().nullable().optional(),
};

export const createGridBody = z
  .object({
    ...gridAttributes,
    level: z.number().int().min(1).max(4),
    parentId: z.number().int().positive().nullable().optional(),
    geometry: areaGeometry,
    reason,
  })
  .strict();
export type CreateGridInput = z.infer<typeof createGridBody>;

export const updateGridBody = z
  .object({
    code: gridAttributes.code.optional(),
    name: gridAttributes.name.optional(),
    leader: gridAttributes.leader,
    workers: gridAttributes.workers,
    householdsTarget: gridAttributes.householdsTarget,
    /** Moves the grid under another parent of the same level as its current one; every placement rule applies. */
    parentId: z.number().int().positive().nullable().optional(),
    geometry: areaGeometry.optional(),
    reason,
  })
  .strict();
export type UpdateGridInput = z.infer<typeof updateGridBody>;

export const deleteGridQuery = z
  .object({
    /** An adjacent sibling that absorbs the grid's area, children and members (as in a merge); without it a grid that has any is not deleted. */
    target: wholeNumber({ min: 1 }).optional(),
    /** The target's version as the client read it: the target's geometry changes too, so it must not have moved since. */
    targetVersion: wholeNumber({ min: 1 }).optional(),
  })
  .strict()
  .refine((query) => query.targetVersion === undefined || query.target !== undefined, {
    message: 'targetVersion is the version of target: give target too',
    path: ['targetVersion'],
  });
export type DeleteGridQuery = z.infer<typeof deleteGridQuery>;

export const revertGridBody = z.object({ version: z.number().int().positive(), reason }).strict();

export const splitGridBody = z
  .object({
    line: lineStringGeometry,
    commit: z.boolean().default(false),
    newCode: gridAttributes.code.optional(),
    newName: gridAttributes.name.optional(),
    reason,
  })
  .strict();
export type SplitGridInput = z.infer<typeof splitGridBody>;

export const mergeGridsBody = z
  .object({
    ids: z.array(z.number().int().positive()).min(2).max(50),
    /** The version of each grid in ids, same order; required with commit (the If-Match of a multi-grid write). */
    versions: z.array(z.number().int().positive()).optional(),
    commit: z.boolean().default(false),
    reason,
  })
  .strict();
export type MergeGridsInput = z.infer<typeof mergeGridsBody>;

export const rebalanceBody = z
  .object({
    targetHouseholds: z.number().int().min(1).max(100_000),
    tolerance: z.number().min(0).max(1).default(0.1),
    commit: z.boolean().default(false),
    reason,
  })
  .strict();
export type RebalanceInput = z.infer<typeof rebalanceBody>;

/** POST /api/grids/import: how to read the file and what to do with it. */
export const importGridsQuery = z
  .object({
    level: gridLevel.default(4).openapi({ description: 'The level of the imported boundaries (default 4, grids)' }),
    repair: flag.openapi({ description: 'Make polygons valid, clip to the parent, cut sibling overlaps, give gaps to a neighbour' }),
    replace: flag.openapi({ description: 'The imported grids replace the leaf grids of their level in the parents they fall in' }),
    dryRun: flag.openapi({ description: 'Answer the import report and change nothing' }),
  })
  .strict();

/** A GeoJSON FeatureCollection of boundaries (WGS84), each with its `code` and `name` among its properties. */
export const importGridsBody = z
  .object({
    type: z.literal('FeatureCollection'),
    features: z
      .array(z.object({ type: z.literal('Feature'), geometry: areaGeometry, properties: z.record(z.string(), z.unknown()).nullable().optional() }).loose())
      .min(1)
      .max(2000),
    name: z.string().max(200).optional(),
    bbox: z.array(z.number()).optional(),
    // GDAL still writes the 2008 `crs` member; only WGS84 longitude/latitude is imported.
    crs: z
      .object({ type: z.string(), properties: z.object({ name: z.string() }).loose() })
      .refine((crs) => isWgs84CrsName(crs.properties.name), 'only WGS84 longitude/latitude (EPSG:4326, CRS84) is imported')
      .optional(),
  })
  .strict();

const coverageSummary = z.object({
  parents: z.number(),
  gaps: z.number(),
  gapAreaM2: z.number(),
  overlaps: z.number(),
  overlapAreaM2: z.number(),
  outside: z.number(),
  outsideAreaM2: z.number(),
});

export const gridImportReport = z
  .object({
    imported: z.number(),
    replaced: z.number(),
    repairedInvalid: z.number(),
    siblingOverlaps: z.array(z.object({ codes: z.tuple([z.string(), z.string()]), areaM2: z.number() })),
    before: coverageSummary.openapi({ description: 'Gaps, overlaps and protrusions as the file has them' }),
    after: coverageSummary.nullable().openapi({ description: 'The same after repair (null without repair)' }),
    areaChanges: z.array(z.object({ code: z.string(), name: z.string(), sourceAreaM2: z.number(), areaM2: z.number(), changePercent: z.number().nullable() })),
    dryRun: z.boolean(),
  })
  .openapi('GridImportReport');

// Answers.
const gridParent = z.object({ id: z.number().int(), code: z.string(), name: z.string(), level: z.number().int() });

/** A grid's properties as every grid answer has them (grids/service.ts featureSql). */
const gridProperties = z.object({
  code: z.string(),
  name: z.string(),
  level: z.number().int(),
  parentId: z.number().int().nullable(),
  leader: z.string().nullable(),
  workers: z.array(z.string()),
  householdsTarget: z.number().int().nullable(),
  version: z.number().int(),
  areaM2: z.number(),
});

const gridFeatureAnswer = featureAnswer(gridProperties).extend({ id: z.number().int() });

/** A grid as a Feature with its version (the ETag, for If-Match); reads add its parents and child count, writes what moved. */
export const gridAnswer = z.object({
  feature: gridFeatureAnswer,
  version: z.number().int(),
  parents: z.array(gridParent).optional(),
  childCount: z.number().int().optional(),
  membersMoved: z.unknown().optional(),
});

export const gridsAnswer = featureCollectionAnswer(gridFeatureAnswer);

/** A preview (committed: false) or what was written (committed: true); the members depend on the operation. */
export const gridChangeAnswer = z.object({ committed: z.boolean() }).passthrough();

export const gridDeletedAnswer = z.object({
  id: z.number().int(),
  deleted: z.literal(true),
  children: z.number().int(),
  members: z.unknown(),
  targetId: z.number().int().optional(),
  membersMoved: z.unknown().optional(),
});

export const gridHistoryAnswer = z.object({
  gridId: z.number().int(),
  entries: z.array(
    z.object({
      id: z.number().int(),
      version: z.number().int(),
      action: z.string(),
      reason: z.string().nullable(),
      tokenId: z.number().int().nullable().optional(),
      role: z.string().nullable(),
      at: z.string(),
      before: z.unknown(),
      after: z.unknown(),
    }),
  ),
});

export const gridCoverageAnswer = z.object({
  gridId: z.number().int(),
  clean: z.boolean(),
  gapAreaM2: z.number(),
  overlapAreaM2: z.number(),
  outsideAreaM2: z.number(),
  gaps: featureCollectionAnswer(),
  overlaps: featureCollectionAnswer(),
  outside: featureCollectionAnswer(),
});

export const gridStatsAnswer = z.object({
  gridId: z.number().int(),
  buildings: z.number().int(),
  households: z.number().int(),
  rentalUnits: z.number().int(),
  peopleByCategory: z.record(z.string(), z.number()),
  hazardsByRiskLevel: z.record(z.string(), z.number()),
  keyPlaces: z.number().int(),
  level4Grids: z.number().int(),
});
