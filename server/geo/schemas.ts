import { z } from 'zod';
// .openapi() below needs the zod extension even in CLIs and benches that never build the app.
import '../http/openapi';

const longitude = z.number().min(-180).max(180);
const latitude = z.number().min(-90).max(90);

/** "minLon,minLat,maxLon,maxLat" in WGS84, as in OGC and most web maps. */
export const bboxQuery = z
  .string()
  .transform((text, ctx) => {
    const parts = text.split(',').map((part) => Number(part.trim()));
    const parsed = z.tuple([longitude, latitude, longitude, latitude]).safeParse(parts);
    if (!parsed.success || parts.length !== 4) {
      ctx.addIssue({ code: 'custom', message: 'bbox must be minLon,minLat,maxLon,maxLat in WGS84 degrees' });
      return z.NEVER;
    }
    const [minLon, minLat, maxLon, maxLat] = parsed.data;
    if (minLon >= maxLon || minLat >= maxLat) {
      ctx.addIssue({ code: 'custom', message: 'bbox minimum must be below its maximum' });
      return z.NEVER;
    }
    return parsed.data;
  })
  .openapi({ example: '120.6,31.25,120.8,31.37' });

export type Bbox = [number, number, number, number];

/**
 * A whole number from a path or query string, in decimal digits only: z.coerce.number() also reads "0x10" (16),
 * "1e3", " 7 " and "" (0), so DELETE /api/layers/people/0x10 deleted person 16. Numbers pass through (JSON).
 */
export function wholeNumber(bounds: { min?: number; max?: number } = {}) {
  let schema = z.number({ error: (issue) => (issue.code === 'invalid_type' ? 'must be a whole number in decimal digits' : undefined) }).int();
  if (bounds.min !== undefined) schema = schema.min(bounds.min);
  if (bounds.max !== undefined) schema = schema.max(bounds.max);
  return z.preprocess((value) => (typeof value === 'string' && /^-?\d{1,15}$/.test(value) ? Number(value) : value), schema);
}

/**
 * An ISO 8601 date-time with its offset (2025-03-01T08:00:00+08:00), limited to what PostgreSQL's timestamptz
 * reads: zod takes offsets up to ±23:59 and the year 0, which the statement then failed on (a 500). One schema
 * for every route that takes a time.
 */
export const isoDateTime = z.iso
  .datetime({ offset: true })
  .refine((text) => Number(/[+-](\d{2}):?\d{2}$/.exec(text)?.[1] ?? 0) <= 15, 'the time-zone offset must be within ±15:59')
  .refine((text) => !text.startsWith('0000'), 'the year must be 0001 or later')
  .openapi({ example: '2025-03-01T08:00:00+08:00' });

export const idParam = z.object({ id: wholeNumber({ min: 1 }) }).strict();

/** Keyset pagination: `cursor` is the last id of the previous page, so pages stay stable while rows change. */
export const pageQuery = {
  limit: wholeNumber({ min: 1, max: 5000 }).default(500),
  cursor: wholeNumber({ min: 0 }).optional(),
};

export const position = z.tuple([longitude, latitude]).rest(z.number());
export const linearRing = z.array(position).min(4);
export const polygonGeometry = z.object({ type: z.literal('Polygon'), coordinates: z.array(linearRing).min(1) }).strict();
export const multiPolygonGeometry = z.object({ type: z.literal('MultiPolygon'), coordinates: z.array(z.array(linearRing).min(1)).min(1) }).strict();
export const pointGeometry = z.object({ type: z.literal('Point'), coordinates: position }).strict();
export const lineStringGeometry = z.object({ type: z.literal('LineString'), coordinates: z.array(position).min(2) }).strict();
export const areaGeometry = z.discriminatedUnion('type', [polygonGeometry, multiPolygonGeometry]);

export function featureCollection(features: unknown[], extra: Record<string, unknown> = {}) {
  return { type: 'FeatureCollection' as const, features, ...extra };
}

/**
 * Whether a GeoJSON `crs` name (2008 GeoJSON; RFC 7946 dropped the member, GDAL still writes it) means WGS84
 * longitude/latitude: OGC CRS84 or EPSG:4326 in any of their spellings. Anything else is another datum or a
 * projection, whose coordinates read as WGS84 would land elsewhere (EPSG:4214, Beijing 1954, by ~100 m).
 */
export function isWgs84CrsName(name: string): boolean {
  return /(^|:)(CRS84|4326)$/i.test(name.trim());
}
