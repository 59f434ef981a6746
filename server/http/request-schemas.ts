import { z } from 'zod';
// .openapi() below needs the zod extension even in CLIs and benches that never build the app.
import './openapi';

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

/** The documented answer of a route: one status, its description and the schema of its JSON body. */
export function jsonAnswer(schema: z.ZodType, description = 'OK', status = 200) {
  return { [status]: { description, schema } };
}

/** A body that is not JSON (a tile, a photo, a file): bytes of the given media type. */
export const binaryBody = z.string().openapi({ format: 'binary' });

/** A text/event-stream: `event:`, `id:` and `data:` lines, each data a JSON document. */
export const eventStreamAnswer = { 200: { description: 'Server-Sent Events', contentType: 'text/event-stream', schema: z.string() } };

/** What a GET answers when the client's If-None-Match holds the resource's ETag. */
export const notModified = { 304: { description: 'Unchanged since the ETag given in If-None-Match' } };

/** A single versioned resource (http/conditional.ts): its JSON with the version as ETag, or 304. */
export function versionedAnswer(schema: z.ZodType, description = 'OK', status = 200) {
  return { ...jsonAnswer(schema, description, status), ...notModified };
}
