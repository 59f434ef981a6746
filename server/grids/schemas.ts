import { z } from 'zod';
import { bboxQuery, pageQuery } from '../geo/schemas';

export const gridLevel = z.coerce.number().int().min(1).max(4);

export const listGridsQuery = z
  .object({
    level: gridLevel.optional(),
    parent: z.coerce.number().int().positive().optional(),
    bbox: bboxQuery.optional(),
    ...pageQuery,
  })
  .strict();

export type ListGridsQuery = z.infer<typeof listGridsQuery>;
