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

export const auditAnswer = z.object({
  entries: z.array(
    z.object({
      id: z.number().int(),
      at: z.string(),
      token_id: z.number().int().nullable(),
      role: z.string().nullable(),
      route: z.string().nullable(),
      request_id: z.string().nullable(),
      entity: z.string(),
      entity_id: z.number().int().nullable(),
      action: z.string(),
      before: z.unknown(),
      after: z.unknown(),
    }),
  ),
  nextCursor: z.number().int().nullable(),
});
