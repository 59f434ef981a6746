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

// Answers: what the API sends back, documented in OpenAPI (and typed in clients generated from it).

/** minLon, minLat, maxLon, maxLat in WGS84 degrees. */
export const bboxAnswer = z.tuple([z.number(), z.number(), z.number(), z.number()]).openapi({ description: 'minLon, minLat, maxLon, maxLat' });

export const lonLatAnswer = z.tuple([z.number(), z.number()]);

const positions = z.array(z.array(z.number()));

export const polygonAnswer = z.object({ type: z.literal('Polygon'), coordinates: z.array(positions) });

/** A GeoJSON geometry as the API answers it (RFC 7946, WGS84): the types our layers store. */
export const geometryAnswer = z.union([
  z.object({ type: z.literal('Point'), coordinates: z.array(z.number()) }),
  z.object({ type: z.literal('LineString'), coordinates: positions }),
  z.object({ type: z.literal('MultiLineString'), coordinates: z.array(positions) }),
  polygonAnswer,
  z.object({ type: z.literal('MultiPolygon'), coordinates: z.array(z.array(positions)) }),
]);

/** A GeoJSON Feature whose properties follow `properties`; without, any properties. */
export function featureAnswer(properties: z.ZodType = z.record(z.string(), z.unknown())) {
  return z.object({ type: z.literal('Feature'), id: z.number().int().optional(), geometry: geometryAnswer.nullable(), properties });
}

/** A FeatureCollection of these features; `nextCursor` on a paginated list (null on its last page). */
export function featureCollectionAnswer(feature: z.ZodType = featureAnswer()) {
  return z.object({ type: z.literal('FeatureCollection'), features: z.array(feature), nextCursor: z.number().int().nullable().optional() });
}
