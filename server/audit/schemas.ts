import { z } from 'zod';
import { pageQuery } from '../geo/schemas';

export const auditQuery = z
  .object({
    entity: z.string().min(1).max(64).optional(),
    entity_id: z.coerce.number().int().positive().optional(),
    ...pageQuery,
  })
  .strict();
export type AuditQuery = z.infer<typeof auditQuery>;
