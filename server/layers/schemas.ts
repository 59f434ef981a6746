import { z } from 'zod';
import { pageQuery, wholeNumber } from '../http/request-schemas';
import { areaGeometry, bboxQuery, pointGeometry } from '../geo/schemas';

const isoDate = z.iso.date();

/** Attribute columns of each layer, named as in the database so one generic service can map them. */
export const buildingProperties = z
  .object({
    code: z.string().min(1).max(64).nullable().optional(),
    address: z.string().max(500).nullable().optional(),
    use: z.string().min(1).max(64).optional(),
    floors: z.number().int().min(1).max(200).optional(),
    households: z.number().int().min(0).optional(),
    rental_units: z.number().int().min(0).optional(),
  })
  .strict();

export const personProperties = z
  .object({
    building_id: z.number().int().positive(),
    category: z.enum(['常住', '流动', '重点关注']),
    household_no: z.string().max(64).nullable().optional(),
    birth_year: z.number().int().min(1880).max(2100).nullable().optional(),
  })
  .strict();

export const hazardProperties = z
  .object({
    name: z.string().min(1).max(200),
    kind: z.string().min(1).max(64),
    risk_level: z.number().int().min(1).max(4),
    last_inspected_at: isoDate.nullable().optional(),
    next_inspection_due: isoDate.nullable().optional(),
  })
  .strict();

export const keyPlaceProperties = z
  .object({
    name: z.string().min(1).max(200),
    kind: z.enum(['school', 'kindergarten', 'hospital', 'market', 'mall', 'transport_hub', 'elderly_home', 'park', 'other']),
    capacity: z.number().int().min(0).nullable().optional(),
  })
  .strict();

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

export const buildingGeometry = areaGeometry;
export const placeGeometry = pointGeometry;

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

export const exportQuery = z.object({ format: z.enum(['geojson', 'csv']).default('geojson') }).strict();

// Answers.
export const importReportAnswer = z.object({ layer: z.string(), dryRun: z.boolean(), rows: z.number().int(), inserted: z.number().int() });
