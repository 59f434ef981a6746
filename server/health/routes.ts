import { z } from 'zod';
import type { AppDeps } from '../deps';
import { retryAfterSeconds } from '../http/problem';
import { defineRoute } from '../http/route';

const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  // Which server process answered: with several workers on one port (npm start -- --workers N) that differs by connection.
  pid: z.number().int(),
  database: z.object({ up: z.boolean(), latencyMs: z.number().optional(), postgis: z.string().optional(), error: z.string().optional() }),
  // Where tiles, hotspots and statistics read now: a standby (DATABASE_READ_URL) or the primary (none set, the
  // replica unreachable or behind a change just made).
  reads: z.enum(['replica', 'primary']).optional(),
});

export function healthRoutes({ pool, reads }: AppDeps) {
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
          const standby = await reads.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
          ctx.body = { status: 'ok', pid: process.pid, database: { up: true, latencyMs, postgis: rows[0].postgis }, reads: standby.rows[0].standby ? 'replica' : 'primary' };
        } catch (error) {
          ctx.status = 503;
          ctx.set('Retry-After', retryAfterSeconds);
          ctx.body = { status: 'degraded', pid: process.pid, database: { up: false, error: (error as Error).message } };
        }
      },
    }),
  ];
}
