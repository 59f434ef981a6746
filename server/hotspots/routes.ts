import type { z } from 'zod';
import type { Actor, Role } from '../auth/roles';
import type { AppDeps } from '../deps';
import { defineRoute } from '../http/route';
import { jsonAnswer } from '../http/request-schemas';
import { countsAnswer, countsQuery, giAnswer, giQuery, trendAnswer, trendQuery } from './schemas';
import type { HotspotService } from './service';

/** Aggregates only (no record, no person): the analysis roles, and grid workers for their own grids. */
export const hotspotRoles: readonly Role[] = ['admin', 'planner', 'commander', 'police', 'grid_worker'];

interface Analysis<Q extends z.ZodType> {
  operationId: string;
  summary: string;
  query: Q;
  answer: z.ZodType;
  analyse: (actor: Actor | null, query: z.infer<Q>) => Promise<unknown>;
}

function analysisRoute<Q extends z.ZodType>(path: string, { operationId, summary, query, answer, analyse }: Analysis<Q>) {
  return defineRoute({
    method: 'get',
    path,
    operationId,
    summary,
    responses: jsonAnswer(answer),
    tag: 'hotspots',
    access: hotspotRoles,
    query,
    async handler(ctx, input) {
      ctx.body = await analyse(input.actor, input.query);
    },
  });
}

export function hotspotRoutes(_deps: AppDeps, hotspots: HotspotService) {
  return [
    analysisRoute('/api/hotspots', {
      operationId: 'countHotspotCells',
      summary: 'Counts per H3 cell (hex, count; casualties for accidents) and study-area totals, for deck.gl H3HexagonLayer',
      query: countsQuery,
      answer: countsAnswer,
      analyse: (actor, query) => hotspots.counts(actor, query),
    }),
    analysisRoute('/api/hotspots/gi', {
      operationId: 'getHotspotsGi',
      summary: 'Getis-Ord Gi* z-score, p-value and class −3…+3 (90/95/99 %) of every cell of the study area, optionally FDR-corrected',
      query: giQuery,
      answer: giAnswer,
      analyse: (actor, query) => hotspots.gi(actor, query),
    }),
    analysisRoute('/api/hotspots/trend', {
      operationId: 'getHotspotsTrend',
      summary: 'Gi* class per time window, Mann-Kendall trend of the z-scores and the emerging-hot-spot label of every cell',
      query: trendQuery,
      answer: trendAnswer,
      analyse: (actor, query) => hotspots.trend(actor, query),
    }),
  ];
}
