import type { AppDeps } from '../deps';
import { defineRoute } from '../http/route';
import { auditQuery, auditAnswer } from './schemas';
import { listAudit } from './service';
import { jsonAnswer } from '../http/request-schemas';

export function auditRoutes({ pool }: AppDeps) {
  return [
    defineRoute({
      method: 'get',
      path: '/api/audit',
      operationId: 'listAuditEntries',
      responses: jsonAnswer(auditAnswer),
      summary: 'The audit log of every write, newest first (admin only)',
      tag: 'audit',
      access: ['admin'],
      query: auditQuery,
      async handler(ctx, { query }) {
        ctx.body = await listAudit(pool, query);
      },
    }),
  ];
}
