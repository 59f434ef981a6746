import type { AppDeps } from '../deps';
import { defineRoute } from '../http/route';
import type { Role } from '../auth/roles';
import { wallCellsQuery, wallDayQuery, wallCellsAnswer, wallPatrolsAnswer, wallSummaryAnswer } from './schemas';
import { wallCells, wallPatrols, wallSummary } from './service';
import { jsonAnswer } from '../http/request-schemas';

/** The command centre's wall display (大屏): aggregates only, never a person or a named worker. */
export const wallRoles: readonly Role[] = ['admin', 'commander'];

export function wallRoutes({ reads, clock }: AppDeps) {
  return [
    defineRoute({
      method: 'get',
      path: '/api/wall/summary',
      operationId: 'getWallSummary',
      responses: jsonAnswer(wallSummaryAnswer),
      summary: "The wall's panels: the day's reports, 30-day closure and on-time rates, overdue and supervised (督办) now, workers on patrol, 7-day trend, by category and source, the ten grids with most overdue",
      tag: 'wall',
      access: wallRoles,
      query: wallDayQuery,
      async handler(ctx, { query }) {
        ctx.body = await wallSummary(reads, clock, query);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/wall/cells',
      operationId: 'listWallCells',
      responses: jsonAnswer(wallCellsAnswer),
      summary: 'Incident counts per H3 cell over the 24 hours or 7 days up to the wall time (heatmap, hexagons)',
      tag: 'wall',
      access: wallRoles,
      query: wallCellsQuery,
      async handler(ctx, { query }) {
        ctx.body = await wallCells(reads, clock, query);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/wall/patrols',
      operationId: 'getWallPatrols',
      responses: jsonAnswer(wallPatrolsAnswer),
      summary: "The day's patrol tracks without names, thinned to a fix every 2 minutes (at most 500), and the positions of workers out now",
      tag: 'wall',
      access: wallRoles,
      query: wallDayQuery,
      async handler(ctx, { query }) {
        ctx.body = await wallPatrols(reads, clock, query);
      },
    }),
  ];
}
