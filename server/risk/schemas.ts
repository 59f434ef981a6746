import { z } from 'zod';
import { wholeNumber } from '../geo/schemas';

export const segmentsQuery = z
  .object({
    at: z.iso.datetime({ offset: true }).optional().describe('A time inside the 2-hour window wanted (ISO 8601); default now'),
    limit: wholeNumber({ min: 1, max: 1000 }).default(20),
    offset: wholeNumber({ min: 0 }).default(0),
  })
  .strict();

export const riskStreamQuery = z.object({ access_token: z.string().optional() }).strict();
