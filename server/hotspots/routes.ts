import type { Role } from '../auth/roles';
import type { AppDeps } from '../deps';
import { defineRoute } from '../http/route';
import { countsQuery, giQuery, trendQuery } from './schemas';
import type { HotspotService } from './service';

/** Aggregates only (no record, no person): the analysis roles, and grid workers for their own grids. */
export const hotspotRoles: readonly Role[] = ['admin', 'planner', 'commander', 'police', 'grid_worker'];

export function hotspotRoutes(_deps: AppDeps, hotspots: HotspotService) {
  return [
    defineRoute({
      method: 'get',
      path: '/api/hotspots',
      summary: 'Counts per H3 cell (hex, count; casualties for accidents) and study-area totals, for deck.gl H3HexagonLayer',
      tag: 'hotspots',
      access: hotspotRoles,
      query: countsQuery,
      async handler(ctx, { query, actor }) {
        ctx.body = await hotspots.counts(actor, query);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/hotspots/gi',
      summary: 'Getis-Ord Gi* z-score, p-value and class −3…+3 (90/95/99 %) of every cell of the study area, optionally FDR-corrected',
      tag: 'hotspots',
      access: hotspotRoles,
      query: giQuery,
      async handler(ctx, { query, actor }) {
        ctx.body = await hotspots.gi(actor, query);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/hotspots/trend',
      summary: 'Gi* class per time window, Mann-Kendall trend of the z-scores and the emerging-hot-spot label of every cell',
      tag: 'hotspots',
      access: hotspotRoles,
      query: trendQuery,
      async handler(ctx, { query, actor }) {
        ctx.body = await hotspots.trend(actor, query);
      },
    }),
  ];
}
