import { z } from 'zod';
import { bboxQuery } from '../geo/schemas';
import { pageQuery, wholeNumber } from '../http/request-schemas';

/** A feature to create: GeoJSON-shaped; a `crs` member (anything but WGS84) is an unknown field → 400. */
export function createBody(properties: z.ZodObject, geometry: z.ZodType | null) {
  return geometry
    ? z.object({ type: z.literal('Feature').optional(), geometry, properties }).strict()
    : z.object({ properties }).strict();
}

export function updateBody(properties: z.ZodObject, geometry: z.ZodType | null) {
  const partial = properties.partial();
  return geometry
    ? z.object({ type: z.literal('Feature').optional(), geometry: geometry.optional(), properties: partial.optional() }).strict()
    : z.object({ properties: partial }).strict();
}

const listLayerQuery = z
  .object({
    bbox: bboxQuery.optional(),
    grid: wholeNumber({ min: 1 }).optional(),
    ...pageQuery,
  })
  .strict();
/** Parsed by the layer's listQueryOf: the attribute filters sit beside bbox, grid and paging. */
export type ListLayerQuery = z.infer<typeof listLayerQuery> & Record<string, unknown>;

/** A layer's list query: bbox, grid and paging, and its attribute filters, each optional. */
export function listQueryOf(filters: Record<string, z.ZodType>): z.ZodType<ListLayerQuery> {
  const optional = Object.fromEntries(Object.entries(filters).map(([name, schema]) => [name, schema.optional()]));
  // The filters' names are only known at run time; their values reach the service as `unknown` and are bound.
  return listLayerQuery.extend(optional) as unknown as z.ZodType<ListLayerQuery>;
}

export const importQuery = z
  .object({
    format: z.enum(['csv', 'geojson']).optional(),
    dryRun: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
  })
  .strict();

export const exportQuery = z
  .object({
    format: z.enum(['geojson', 'csv', 'gpkg', 'fgb']).default('geojson').openapi({
      description: 'geojson (RFC 7946) and csv (WKT geometry) are streamed as read; gpkg (GeoPackage) and fgb (FlatGeobuf, with spatial index) are written whole first',
    }),
  })
  .strict();

// Answers.
export const importReportAnswer = z.object({ layer: z.string(), dryRun: z.boolean(), rows: z.number().int(), inserted: z.number().int() });
