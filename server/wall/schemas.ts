import { z } from 'zod';

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
