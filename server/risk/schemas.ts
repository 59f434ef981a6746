import { z } from 'zod';
import { geometryAnswer, polygonAnswer } from '../geo/schemas';
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

// Answers.

export const rankedWindowAnswer = z.object({
  windowStart: z.string(),
  windowEnd: z.string(),
  modelVersion: z.number().int(),
  issuedAt: z.string(),
  total: z.number().int(),
  units: z.array(
    z.object({
      rank: z.number().int(),
      unitKey: z.string(),
      roadId: z.number().int().nullable(),
      expected: z.number(),
      level: z.number().int(),
      topFeatures: z.array(z.object({ feature: z.string(), label: z.string(), factor: z.number() })),
      geometry: geometryAnswer,
    }),
  ),
});

export const deploymentAnswer = z.object({
  windowStart: z.string(),
  windowEnd: z.string(),
  modelVersion: z.number().int(),
  radiusM: z.number(),
  totalExpected: z.number(),
  coveredExpected: z.number(),
  coveredShare: z.number(),
  points: z.array(
    z.object({
      order: z.number().int(),
      unitKey: z.string(),
      lon: z.number(),
      lat: z.number(),
      addedExpected: z.number(),
      coveredUnits: z.number().int(),
      catchment: polygonAnswer,
    }),
  ),
});

/** The model in use (server/risk/store.ts): version, training span, features and weights, its evaluation. */
export const modelAnswer = z.object({
  version: z.number().int(),
  createdAt: z.string(),
  unitKind: z.string(),
  h3Resolution: z.number().int().nullable(),
  utcOffsetMinutes: z.number().int(),
  trainedFrom: z.string(),
  trainedTo: z.string(),
  parameters: z.unknown(),
  evaluation: z.unknown(),
});
