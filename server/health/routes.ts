import { z } from 'zod';
import type { AppDeps } from '../deps';
import { retryAfterSeconds } from '../http/problem';
import { defineRoute } from '../http/route';

const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  database: z.object({ up: z.boolean(), latencyMs: z.number().optional(), postgis: z.string().optional(), error: z.string().optional() }),
});

export function healthRoutes({ pool }: AppDeps) {
  return [
    defineRoute({
      method: 'get',
      path: '/health',
      operationId: 'getHealth',
      summary: 'Liveness and database reachability',
      tag: 'health',
      access: 'public',
      responses: { 200: { description: 'Up', schema: healthSchema }, 503: { description: 'Database down', schema: healthSchema } },
      async handler(ctx) {
        const started = performance.now();
        try {
          const { rows } = await pool.query<{ postgis: string }>('SELECT postgis_lib_version() AS postgis');
          const latencyMs = Math.round((performance.now() - started) * 10) / 10;
          ctx.body = { status: 'ok', database: { up: true, latencyMs, postgis: rows[0].postgis } };
        } catch (error) {
          ctx.status = 503;
          ctx.set('Retry-After', retryAfterSeconds);
          ctx.body = { status: 'degraded', database: { up: false, error: (error as Error).message } };
        }
      },
    }),
  ];
}
