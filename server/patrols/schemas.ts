import { z } from 'zod';
import { bboxQuery } from '../geo/schemas';
import { isoDateTime, wholeNumber } from '../http/request-schemas';

/** A decimal number from a query string (digits and one point only: z.coerce would also read 0x10 and 1e3). */
function decimalNumber(bounds: { min: number; max: number }) {
  const schema = z.number({ error: (issue) => (issue.code === 'invalid_type' ? 'must be a number in decimal digits, e.g. 2.5' : undefined) }).min(bounds.min).max(bounds.max);
  return z.preprocess((value) => (typeof value === 'string' && /^\d{1,9}(\.\d{1,9})?$/.test(value) ? Number(value) : value), schema);
}

/** Most fixes one batch may carry (a phone that was offline for a day posts in several batches). */
export const maxFixesPerBatch = 10_000;

const workerIdPattern = /^[^\u0000-\u001f]+$/;
const workerIdLength = { min: 1, max: 64 };
const workerId = z
  .string()
  .min(workerIdLength.min)
  .max(workerIdLength.max)
  .regex(workerIdPattern, 'must be printable text (a worker id as in grids.workers)')
  .openapi({ example: 'D01-01-01-001-W1' });

/** The ranges of a fix's numbers, shared by the schema and the fast check below so the two cannot drift apart. */
const fixRanges = {
  t: { min: 0, max: 8.64e15 },
  lon: { min: -180, max: 180 },
  lat: { min: -90, max: 90 },
  accuracy: { min: 0, max: 1e6 },
  speed: { min: 0, max: 1000 },
  heading: { min: 0, max: 360 },
} as const;
const ranged = (name: keyof typeof fixRanges) => z.number().min(fixRanges[name].min).max(fixRanges[name].max);

/** One GPS fix as a phone sends it: t as ISO 8601 with an offset or as epoch milliseconds. */
export const patrolFix = z
  .object({
    workerId,
    t: z.union([isoDateTime, ranged('t').int()]).openapi({ description: 'ISO 8601 with offset, or epoch milliseconds' }),
    lon: ranged('lon'),
    lat: ranged('lat'),
    accuracy: ranged('accuracy').optional().openapi({ description: 'Metres (68% radius, as phones report it); worse than 100 m is flagged' }),
    speed: ranged('speed').optional().openapi({ description: 'Metres per second, as the phone measured it' }),
    heading: ranged('heading').optional().openapi({ description: 'Degrees clockwise from north' }),
  })
  .strict();
export type PatrolFixInput = z.infer<typeof patrolFix>;

const inRange = (value: unknown, name: keyof typeof fixRanges) => typeof value === 'number' && value >= fixRanges[name].min && value <= fixRanges[name].max;
const fixKeys = new Set(['workerId', 't', 'lon', 'lat', 'accuracy', 'speed', 'heading']);

/**
 * Whether patrolFix takes `value` unchanged, checked by hand: zod costs about as much per fix as storing it. It
 * answers true only where patrolFix does; on false, patrolFix is asked, to name the problem.
 */
export function isPlainValidFix(value: unknown): value is PatrolFixInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const fix = value as Record<string, unknown>;
  for (const key in fix) if (!fixKeys.has(key)) return false;
  const { workerId: id, t } = fix;
  if (typeof id !== 'string' || id.length < workerIdLength.min || id.length > workerIdLength.max || !workerIdPattern.test(id)) return false;
  const validTime = typeof t === 'string' ? isoDateTime.safeParse(t).success : Number.isInteger(t) && inRange(t, 't');
  if (!validTime || !inRange(fix.lon, 'lon') || !inRange(fix.lat, 'lat')) return false;
  return (['accuracy', 'speed', 'heading'] as const).every((name) => fix[name] === undefined || inRange(fix[name], name));
}

export const ingestBody = z
  .object({ fixes: z.array(patrolFix).min(1).max(maxFixesPerBatch) })
  .strict()
  .openapi({
    description: `Up to ${maxFixesPerBatch} fixes. As text/csv: a header line workerId,t,lon,lat[,accuracy,speed,heading] and one fix per line.`,
  });

export const flagReasons = ['inaccurate', 'too_fast', 'outside_city'] as const;
export type FlagReason = (typeof flagReasons)[number];

export const ingestAnswer = z.object({
  received: z.number().int(),
  accepted: z.number().int().openapi({ description: 'New fixes that go into tracks' }),
  duplicates: z.number().int().openapi({ description: 'Fixes already stored (same worker and time): changed nothing' }),
  flagged: z.object({ inaccurate: z.number().int(), too_fast: z.number().int(), outside_city: z.number().int() }).openapi({
    description: 'New fixes stored but left out of tracks, by reason',
  }),
  days: z.array(z.object({ workerId: z.string(), day: z.string(), tracks: z.number().int() })).openapi({ description: 'Worker-days whose tracks were rebuilt' }),
});
export type IngestAnswer = z.infer<typeof ingestAnswer>;

/** A local calendar day of the city (CITY_TIME_ZONE). */
export const localDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD')
  .refine((text) => !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text), 'not a calendar date')
  .refine((text) => text >= '2000-01-01' && text <= '2999-12-31', 'between 2000 and 2999')
  .openapi({ example: '2025-06-03' });

export const tracksQuery = z
  .object({
    date: localDate.optional().openapi({ description: 'Local day (CITY_TIME_ZONE); default today' }),
    worker: workerId.optional(),
    grid: wholeNumber({ min: 1 }).optional().openapi({ description: 'Tracks that crossed this level-4 grid' }),
    bbox: bboxQuery.optional(),
    format: z.enum(['geojson', 'trips']).default('geojson'),
    tolerance: decimalNumber({ min: 0, max: 1000 }).default(0).openapi({ description: 'Simplification tolerance in metres (0: every fix)' }),
    limit: wholeNumber({ min: 1, max: 5000 }).default(1000),
    cursor: wholeNumber({ min: 0 }).optional().openapi({ description: 'The last track id of the previous page' }),
  })
  .strict();
export type TracksQuery = z.infer<typeof tracksQuery>;

const trackProperties = z.object({
  id: z.number().int(),
  workerId: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  distanceM: z.number(),
  durationS: z.number(),
  fixes: z.number().int(),
  gridIds: z.array(z.number().int()),
});
export type TrackProperties = z.infer<typeof trackProperties>;

export const tracksGeojsonAnswer = z.object({
  type: z.literal('FeatureCollection'),
  day: z.string(),
  next: z.number().int().nullable().openapi({ description: 'cursor of the next page, null on the last' }),
  features: z.array(
    z.object({
      type: z.literal('Feature'),
      id: z.number().int(),
      geometry: z.object({ type: z.literal('LineString'), coordinates: z.array(z.array(z.number())) }),
      properties: trackProperties.extend({ times: z.array(z.number()).openapi({ description: 'Epoch seconds of every vertex (the track is LineStringM)' }) }),
    }),
  ),
});

export const tracksTripsAnswer = z.object({
  day: z.string(),
  dayStart: z.string().openapi({ description: 'The instant timestamps count from (local midnight)' }),
  next: z.number().int().nullable(),
  trips: z.array(
    trackProperties.extend({
      path: z.array(z.tuple([z.number(), z.number()])),
      timestamps: z.array(z.number()).openapi({ description: 'Seconds since dayStart, ascending (fits float32)' }),
    }),
  ),
});

export const liveQuery = z
  .object({ hours: decimalNumber({ min: 0.01, max: 168 }).default(12).openapi({ description: 'Workers whose last fix is at most this old' }) })
  .strict();

export const livePosition = z.object({
  workerId: z.string(),
  t: z.string(),
  lon: z.number(),
  lat: z.number(),
  gridId: z.number().int().nullable(),
  onDuty: z.boolean().openapi({ description: 'A fix in the last 15 minutes' }),
});
export type LivePosition = z.infer<typeof livePosition>;
export const liveAnswer = z.object({ at: z.string(), workers: z.array(livePosition) });

export const coverageQuery = z
  .object({ date: localDate.optional().openapi({ description: 'Local day; default today' }), grid: wholeNumber({ min: 1 }).optional() })
  .strict();

export const gridCoverage = z.object({
  gridId: z.number().int(),
  code: z.string(),
  name: z.string(),
  roadShare: z.number().nullable().openapi({ description: 'Share of the road length in the grid within 30 m of a track; null: no roads' }),
  buildingShare: z.number().nullable().openapi({ description: 'Share of the grid’s buildings within 30 m of a track; null: no buildings' }),
  roadM: z.number(),
  buildings: z.number().int(),
  workers: z.array(z.string()),
  distanceM: z.number(),
  seconds: z.number(),
});
export const coverageAnswer = z.object({ day: z.string(), grids: z.array(gridCoverage) });

export const periodQuery = z
  .object({ from: localDate.optional().openapi({ description: 'First local day; default 29 days before to' }), to: localDate.optional().openapi({ description: 'Last local day (inclusive); default today' }) })
  .strict();

export const workerParams = z.object({ id: workerId }).strict();

export const workerSummary = z.object({
  workerId: z.string(),
  from: z.string(),
  to: z.string(),
  distanceM: z.number(),
  onDutySeconds: z.number(),
  tracks: z.number().int(),
  gridsCovered: z.array(z.number().int()),
  ownGrids: z.array(z.object({ gridId: z.number().int(), roadShare: z.number().nullable() })),
  ownGridsRoadShare: z.number().nullable().openapi({ description: 'Share of the road length of their own grids within 30 m of their tracks of the period' }),
  patrolReports: z.number().int().openapi({ description: 'Patrol reports made during one of their tracks, within 100 m of it' }),
});

export const indicatorsQuery = periodQuery
  .extend({
    level: wholeNumber({ min: 1, max: 4 }).default(4).openapi({ description: '4: grids, 3: communities, 2: streets, 1: districts' }),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .strict();

export const indicatorRow = z.object({
  gridId: z.number().int(),
  code: z.string(),
  name: z.string(),
  level: z.number().int(),
  days: z.number().int(),
  roadShare: z.number().nullable().openapi({ description: 'Mean daily share of road length within 30 m of the day’s tracks (巡查覆盖率)' }),
  buildingShare: z.number().nullable(),
  distanceM: z.number(),
  seconds: z.number(),
  workers: z.number().int(),
  patrolReports: z.number().int(),
});
export type IndicatorRow = z.infer<typeof indicatorRow>;
export const indicatorsAnswer = z.object({ from: z.string(), to: z.string(), level: z.number().int(), rows: z.array(indicatorRow) });
