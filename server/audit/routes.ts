import type { AppDeps } from '../deps';
import { defineRoute } from '../http/route';
import { auditQuery } from './schemas';
import { listAudit } from './service';

export function auditRoutes({ pool }: AppDeps) {
  return [
    defineRoute({
      method: 'get',
      path: '/api/audit',
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
