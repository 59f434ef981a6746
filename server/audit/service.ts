import type { z } from 'zod';
import type { Queryable } from '../db/pool';
import type { AuditQuery, auditAnswer } from './schemas';

export type AuditEntry = z.infer<typeof auditAnswer>['entries'][number];

/** Newest first; `cursor` is the last id of the previous page, so later writes do not shift the pages. */
export async function listAudit(db: Queryable, query: AuditQuery): Promise<{ entries: AuditEntry[]; nextCursor: number | null }> {
  const { rows } = await db.query<AuditEntry>(
    `SELECT id, at, token_id, role, route, request_id, entity, entity_id, action, before, after
       FROM audit_log
      WHERE ($1::text IS NULL OR entity = $1)
        AND ($2::bigint IS NULL OR entity_id = $2)
        AND ($3::bigint IS NULL OR id < $3)
      ORDER BY id DESC
      LIMIT $4`,
    [query.entity ?? null, query.entity_id ?? null, query.cursor || null, query.limit + 1],
  );
  const entries = rows.slice(0, query.limit);
  return { entries, nextCursor: rows.length > query.limit ? entries[entries.length - 1].id : null };
}
