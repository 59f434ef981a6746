import { z } from 'zod';
import { isoDateTime, wholeNumber } from '../http/request-schemas';
import { featureAnswer } from '../geo/schemas';

/** Items per page when the client names no limit, and the most it may ask for (declared in /ogc/api). */
export const defaultLimit = 100;
export const maxLimit = 10_000;

/** ?f= overrides the Accept header: json (GeoJSON for features) or html. */
const format = z.enum(['json', 'html']).optional();

/** access_token in the query: HTML pages opened from a link cannot send a bearer header. */
const accessToken = z.string().max(200).optional();

export const documentQuery = z.object({ f: format, access_token: accessToken }).strict();

/** minx,miny,maxx,maxy (or with minz/maxz: 6 numbers), in the axis order of bbox-crs; checked against the CRS later. */
const bbox = z
  .string()
  .max(400)
  .transform((text, ctx) => {
    const numbers = text.split(',').map((part) => (part.trim() === '' ? NaN : Number(part)));
    if ((numbers.length !== 4 && numbers.length !== 6) || numbers.some((n) => !Number.isFinite(n))) {
      ctx.addIssue({ code: 'custom', message: 'bbox must be 4 numbers, minx,miny,maxx,maxy (or 6 with minz and maxz), in the axis order of bbox-crs' });
      return z.NEVER;
    }
    const [minX, minY, maxX, maxY] = numbers.length === 6 ? [numbers[0], numbers[1], numbers[3], numbers[4]] : numbers;
    if (minX > maxX || minY > maxY) {
      ctx.addIssue({ code: 'custom', message: 'bbox minimum must not exceed its maximum' });
      return z.NEVER;
    }
    return [minX, minY, maxX, maxY] as [number, number, number, number];
  })
  .openapi({ example: '120.6,31.25,120.8,31.37' });

/** One end of a datetime interval: a date-time with offset, or open (".." or empty). */
const intervalEnd = z.union([z.literal('..'), z.literal(''), isoDateTime]).transform((text) => (text === '..' || text === '' ? null : text));

export interface TimeSpan {
  start: string | null;
  end: string | null;
}

/** RFC 3339 instant (2025-03-01T08:00:00Z) or interval (start/end, either end open as ".."), as in OGC API Part 1. */
const datetime = z
  .string()
  .max(100)
  .transform((text, ctx): TimeSpan => {
    const parts = text.split('/');
    const parsed = parts.length <= 2 ? parts.map((part) => intervalEnd.safeParse(part)) : [];
    if (parsed.length === 0 || parsed.some((part) => !part.success) || (parts.length === 1 && parts[0] === '..')) {
      ctx.addIssue({ code: 'custom', message: 'datetime must be an RFC 3339 date-time with offset (2025-03-01T08:00:00Z) or an interval start/end, an open end written ..' });
      return z.NEVER;
    }
    const [start, end] = parsed.map((part) => part.data as string | null);
    const span = parts.length === 1 ? { start, end: start } : { start, end };
    if (span.start === null && span.end === null) {
      ctx.addIssue({ code: 'custom', message: 'datetime interval must have at least one end' });
      return z.NEVER;
    }
    if (span.start && span.end && Date.parse(span.start) > Date.parse(span.end)) {
      ctx.addIssue({ code: 'custom', message: 'datetime interval must not end before it starts' });
      return z.NEVER;
    }
    return span;
  })
  .openapi({ example: '2025-03-01T00:00:00Z/2025-03-31T23:59:59Z' });

const crsName = z.string().min(1).max(200);

/**
 * The items query. Property filters depend on the collection: they pass here and the handler validates them
 * against the collection's own filters (an unknown name is refused there, named).
 */
export const itemsQuery = z
  .object({
    f: format,
    access_token: accessToken,
    limit: wholeNumber({ min: 1, max: maxLimit }).default(defaultLimit),
    offset: wholeNumber({ min: 0, max: 100_000_000 }).default(0),
    bbox: bbox.optional(),
    'bbox-crs': crsName.optional(),
    crs: crsName.optional(),
    datetime: datetime.optional(),
  })
  .catchall(z.string().max(200));
export type ItemsQuery = z.infer<typeof itemsQuery>;

export const itemQuery = z.object({ f: format, access_token: accessToken, crs: crsName.optional() }).strict();

export const collectionParams = z.object({ collectionId: z.string().min(1).max(100) }).strict();
export const itemParams = z.object({ collectionId: z.string().min(1).max(100), featureId: wholeNumber({ min: 1 }) }).strict();

/** A Feature as written; links and bbox, which clients send back as they read them, are ignored. */
export const featureBody = z
  .object({
    type: z.literal('Feature'),
    id: z.union([z.string().max(100), z.number()]).optional(),
    geometry: z.record(z.string(), z.unknown()).nullable().optional(),
    properties: z.record(z.string(), z.unknown()).nullable().optional(),
    links: z.array(z.unknown()).optional(),
    bbox: z.array(z.number()).optional(),
  })
  .strict();

/** OGC API exception (ogcapi-features exception.yaml). */
export const exceptionSchema = z.object({ code: z.string(), description: z.string() }).openapi('OgcException');

// Answers, as JSON (each route also answers HTML for browsers, with ?f=html or Accept: text/html).
const link = z.object({ href: z.string(), rel: z.string(), type: z.string(), title: z.string().optional() });
const links = z.array(link);

export const landingAnswer = z.object({ title: z.string(), description: z.string(), links });

export const conformanceAnswer = z.object({ conformsTo: z.array(z.string()), links });

/** The OGC API definition: an OpenAPI 3.0 document of its own, described here by its top level only. */
export const ogcApiAnswer = z.object({ openapi: z.string(), info: z.record(z.string(), z.unknown()), paths: z.record(z.string(), z.unknown()) }).passthrough();

const interval = z.tuple([z.string().nullable(), z.string().nullable()]);

export const collectionAnswer = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  itemType: z.literal('feature'),
  crs: z.array(z.string()),
  storageCrs: z.string(),
  extent: z.object({
    spatial: z.object({ bbox: z.array(z.array(z.number())), crs: z.string() }),
    temporal: z.object({ interval: z.array(interval), trs: z.string() }).optional(),
  }),
  links,
});

export const collectionsAnswer = z.object({ collections: z.array(collectionAnswer), links });

/**
 * A feature of a collection: its geometry in the CRS asked for (Content-Crs), its properties as the collection
 * declares them (they differ from collection to collection, so any JSON here).
 */
export const ogcFeatureAnswer = featureAnswer().extend({ id: z.union([z.number(), z.string()]), links: links.optional() });

export const itemsAnswer = z.object({
  type: z.literal('FeatureCollection'),
  features: z.array(ogcFeatureAnswer),
  numberMatched: z.number().int(),
  numberReturned: z.number().int(),
  timeStamp: z.string(),
  links,
});
