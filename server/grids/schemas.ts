import { z } from 'zod';
import { pageQuery, wholeNumber } from '../http/request-schemas';
import { areaGeometry, bboxQuery, lineStringGeometry } from '../geo/schemas';

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

/** ?repair=true applies ST_MakeValid to an invalid geometry instead of refusing it. */
export const repairQuery = z.object({ repair: z.enum(['true', 'false']).default('false').transform((value) => value === 'true') }).strict();

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
