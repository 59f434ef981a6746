import { z } from 'zod';
import { hotspotResolutions } from '../geo/h3';
import { isoDateTime, wholeNumber } from '../http/request-schemas';
import { bboxAnswer, bboxQuery } from '../geo/schemas';

export const hotspotSources = ['incidents', 'accidents'] as const;
export type HotspotSource = (typeof hotspotSources)[number];

/** Accidents have no category: `category` names their severity. */
export const accidentSeverities = ['fatal', 'serious', 'slight'] as const;

export const defaultSpanDays = 30;
/** The longest `from`–`to` span (and the longest trend, windows × window) a request may ask for. */
export const maxSpanDays = 366;

const flag = z.enum(['true', 'false']).transform((value) => value === 'true');

/** What every hotspot request filters by; the service checks what needs the clock or the database. */
const filters = {
  source: z.enum(hotspotSources).default('incidents').openapi({ description: 'incidents or accidents' }),
  res: wholeNumber(hotspotResolutions).default(8).openapi({ description: 'H3 resolution 6–10 (8: cells of ≈0.7 km²)' }),
  to: isoDateTime.optional().openapi({ description: 'End of the span, exclusive (ISO 8601); default now' }),
  category: z.string().min(1).max(50).optional().openapi({ description: 'Incident category (catalogue name); for accidents the severity: fatal, serious or slight' }),
  status: z.string().min(1).max(50).optional().openapi({ description: 'Incident status (incidents only)' }),
  bbox: bboxQuery.optional().openapi({ description: 'Study area: this box within the city (minLon,minLat,maxLon,maxLat); not with grid' }),
  grid: wholeNumber({ min: 1 }).optional().openapi({ description: 'Study area: this grid (any level); not with bbox' }),
};

const from = isoDateTime.optional().openapi({ description: `Start of the span (ISO 8601); default ${defaultSpanDays} days before to; at most ${maxSpanDays} days` });
const k = wholeNumber({ min: 1, max: 3 }).default(1).openapi({ description: 'Neighbourhood: the cells within k steps (gridDisk), the cell included' });
const fdr = flag.default(false).openapi({ description: 'Benjamini–Hochberg false-discovery-rate correction of the significance' });

export const countsQuery = z.object({ ...filters, from }).strict();
export const giQuery = z.object({ ...filters, from, k, fdr }).strict();
export const trendQuery = z
  .object({
    ...filters,
    k,
    fdr,
    window: z
      .string()
      .regex(/^[1-9]\d{0,2}[hd]$/, 'a length such as 7d or 24h')
      .default('7d')
      .openapi({ description: 'Length of one window: hours (24h) or days (7d)' }),
    windows: wholeNumber({ min: 3, max: 52 }).default(8).openapi({ description: 'Number of consecutive windows ending at to (3–52)' }),
  })
  .strict();

export type CountsQuery = z.infer<typeof countsQuery>;
export type GiQuery = z.infer<typeof giQuery>;
export type TrendQuery = z.infer<typeof trendQuery>;
/** The filters all three share (and the tile layer's). */
export type HotspotFilters = Pick<CountsQuery, 'source' | 'res' | 'to' | 'category' | 'status' | 'bbox' | 'grid'> & { from?: string };

// Answers. Every analysis names what it counted: source, resolution, span and the filters given.
const analysed = {
  source: z.string(),
  res: z.number().int(),
  from: z.string(),
  to: z.string(),
  category: z.string().optional(),
  status: z.string().optional(),
  grid: z.number().int().optional(),
  bbox: bboxAnswer.optional(),
};

export const countsAnswer = z.object({
  ...analysed,
  total: z.object({ count: z.number(), cells: z.number().int(), casualties: z.number().optional() }),
  cells: z.array(z.object({ hex: z.string(), count: z.number(), casualties: z.number().optional() })),
});

export const giAnswer = z.object({
  ...analysed,
  k: z.number().int(),
  fdr: z.boolean(),
  studyArea: z.object({ cells: z.number().int(), count: z.number(), mean: z.number() }),
  classes: z.record(z.string(), z.number()),
  cells: z.array(z.object({ hex: z.string(), count: z.number(), z: z.number(), p: z.number(), class: z.number().int() })),
});

export const trendAnswer = z.object({
  ...analysed,
  k: z.number().int(),
  fdr: z.boolean(),
  window: z.string(),
  windows: z.array(z.object({ from: z.string(), to: z.string() })),
  labels: z.record(z.string(), z.number()),
  cells: z.array(
    z.object({
      hex: z.string(),
      counts: z.array(z.number()),
      classes: z.array(z.number().int()),
      trend: z.object({ s: z.number(), z: z.number(), p: z.number() }).passthrough(),
      label: z.string(),
    }),
  ),
});
