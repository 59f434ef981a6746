import { z } from 'zod';
import { pageQuery, wholeNumber } from '../http/request-schemas';

export const auditQuery = z
  .object({
    entity: z.string().min(1).max(64).optional(),
    entity_id: wholeNumber({ min: 1 }).optional(),
    ...pageQuery,
  })
  .strict();
export type AuditQuery = z.infer<typeof auditQuery>;
