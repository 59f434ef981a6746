import { z } from 'zod';
import { bboxAnswer, lonLatAnswer } from '../geo/schemas';

/** The wall shows one day (Asia/Shanghai): today unless a past day is named, for a replay or the demo year. */
export const wallDayQuery = z
  .object({
    day: z.iso.date().optional().describe('YYYY-MM-DD (Asia/Shanghai); today when left out'),
    access_token: z.string().optional(),
  })
  .strict();

export const wallCellsQuery = wallDayQuery
  .extend({
    window: z.enum(['24h', '7d']).default('24h').describe('Incidents reported in the 24 hours or 7 days up to the wall time'),
    resolution: z.coerce.number().pipe(z.union([z.literal(7), z.literal(8), z.literal(9)])).default(9).describe('H3 resolution 7–9'),
  })
  .strict();

export type WallDayQuery = z.infer<typeof wallDayQuery>;
export type WallCellsQuery = z.infer<typeof wallCellsQuery>;

const named = z.object({ name: z.string(), count: z.number() });

export const wallSummaryAnswer = z.object({
  day: z.string(),
  at: z.string(),
  kpis: z.object({
    reports: z.number().openapi({ description: 'Reported on the day' }),
    closureRate: z.number().nullable().openapi({ description: 'Of the 30 days up to the day, as /api/stats/incidents defines it' }),
    onTimeRate: z.number().nullable().openapi({ description: 'Of the 30 days up to the day, as /api/stats/incidents defines it' }),
    overdue: z.number().openapi({ description: 'Open past the overall deadline, city-wide, now' }),
    supervising: z.number().openapi({ description: 'Open under supervision (督办), city-wide, now' }),
    workersOnPatrol: z.number(),
  }),
  trend: z.array(z.object({ day: z.string(), reports: z.number(), closed: z.number() })),
  byCategory: z.array(named),
  bySource: z.array(named),
  mostOverdueGrids: z.array(z.object({ gridId: z.number().int(), code: z.string(), name: z.string(), overdue: z.number() })),
  /** Top-level grids by reports in the 7 days, busiest first: the wall's tour. */
  districts: z.array(z.object({ gridId: z.number().int(), name: z.string(), bbox: bboxAnswer, count: z.number() })),
});

export const wallCellsAnswer = z.object({
  day: z.string(),
  window: z.string(),
  resolution: z.number().int(),
  cells: z.array(z.object({ h3: z.string(), count: z.number() })),
});

export const wallPatrolsAnswer = z.object({
  day: z.string(),
  dayStart: z.string(),
  at: z.string(),
  tracks: z.array(z.object({ path: z.array(lonLatAnswer), seconds: z.array(z.number()) })),
  positions: z.array(lonLatAnswer),
});
