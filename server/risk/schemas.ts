import { z } from 'zod';
import { isoDateTime, wholeNumber } from '../http/request-schemas';

export const segmentsQuery = z
  .object({
    at: z.iso.datetime({ offset: true }).optional().describe('A time inside the 2-hour window wanted (ISO 8601); default now'),
    limit: wholeNumber({ min: 1, max: 1000 }).default(20),
    offset: wholeNumber({ min: 0 }).default(0),
  })
  .strict();

export const riskStreamQuery = z.object({ access_token: z.string().optional() }).strict();

export const deploymentQuery = z
  .object({
    at: isoDateTime.optional().describe('A time inside the 2-hour window wanted (ISO 8601); default now'),
    units: wholeNumber({ min: 1, max: 50 }).default(5).describe('Patrol cars available: how many points to choose'),
    radius_m: wholeNumber({ min: 100, max: 10_000 }).default(1500).describe('Distance (m) a car at a point covers'),
  })
  .strict();
